// The console in Debian's Chromium (playwright-core) against a real bridge process and a simulated
// fleet (issue #18): support finds a deferred van and sees why and since when; ops pauses a rollout with
// a reason and the bridge's own records show it paused and audited; support has no ops buttons and a
// forged write from its session is refused; a bad token gets a clear message; the page rides out a
// bridge restart without signing in again.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { releaseArtifacts, RELEASE } from '../fault/kit.js';
import { type MenderSim, startMenderSim } from '../../mender-sim/index.js';
import { type VirtualFleet, startVirtualFleet } from '../../mender-sim/fleet/index.js';
import { Mgmt, SimDevice } from '../../mender-sim/testkit.js';
import { type BridgeProc, api, launchChromium, startBridgeProcess } from './console-kit.js';

const OPS = 'console-ops-token-0123456789';
const SUPPORT = 'console-support-token-0123456789';
const DEFERRED_SINCE = new Date(Date.now() - 3 * 3_600_000).toISOString();

let dir: string;
let sim: MenderSim;
let fleet: VirtualFleet;
let bridge: BridgeProc;
let url: string;
let config: string;
let dbFile: string;
let rolloutId: string;
const closers: (() => Promise<void>)[] = [];

async function writeConfig(port: number) {
  await writeFile(
    config,
    stringify({
      http: { host: '127.0.0.1', port },
      mender: { url: sim.url, user: sim.user, password: sim.password, timeout_ms: 5000 },
      database: { url: `sqlite:${dbFile}` },
      sync: { interval_seconds: 5 },
      auth: {
        tokens: [
          { name: 'ops-olga', role: 'ops', token: OPS },
          { name: 'support-sam', role: 'support', token: SUPPORT },
        ],
      },
      log_level: 'warn',
    }),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-console-e2e-'));
  dbFile = join(dir, 'bridge.db');
  config = join(dir, 'bridge.yaml');
  sim = await startMenderSim({ autoAccept: true });
  const mg = new Mgmt(sim.url, await sim.managementToken());
  for (const a of await releaseArtifacts(dir)) expect((await mg.upload(a)).status).toBe(201);
  fleet = await startVirtualFleet({ serverUrl: sim.url, count: 6, seed: 'console-e2e', pollIntervalMs: 200 });
  await fleet.until((s) => s.booted === 6, { timeoutMs: 60_000 });
  // Van 381 reports as a hub does (device API, inventory), waiting because it moves.
  const van = new SimDevice(sim.url, { mac: '02:00:00:00:03:81' });
  await van.authenticate();
  await van.putInventory({
    'vancore.van_id': 'van-381',
    'vancore.platform.version': '0.9.2',
    'vancore.gate.state': 'deferred',
    'vancore.gate.phase': 'Download_Enter',
    'vancore.gate.reason': 'moving: stationary 0 of 3 min',
    'vancore.gate.since': DEFERRED_SINCE,
  });

  await writeConfig(0);
  bridge = startBridgeProcess(config);
  url = await bridge.ready;
  for (let i = 0; ; i++) {
    const vans = await api(url, OPS, 'GET', '/vans?per_page=100');
    if (vans.status === 200 && (vans.json as unknown[]).length === 7) break;
    if (i > 200) throw new Error(`vans never synced: ${JSON.stringify(vans)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // The internal wave: a simulated van that updates, and van 381 that waits on its gate.
  for (const v of ['van-00000', 'van-381'])
    expect((await api(url, OPS, 'PATCH', `/vans/${v}`, { stage: 'internal' })).status).toBe(200);
  expect((await api(url, OPS, 'POST', '/releases', RELEASE)).status).toBe(201);
  const created = await api(url, OPS, 'POST', '/rollouts', { release: RELEASE.name, reason: 'console suite' });
  expect(created.status).toBe(201);
  rolloutId = (created.json as { id: string }).id;
}, 120_000);

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});
afterAll(async () => {
  await bridge?.stop();
  await fleet?.stop();
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

async function browser(width = 1280) {
  const b = await launchChromium({ width });
  closers.push(() => b.close());
  return b.context;
}

async function signIn(page: Page, token: string) {
  await page.goto(url);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('the console in Chromium', () => {
  it('tells a bad token clearly and lets nobody in with it', async () => {
    const page = await (await browser()).newPage();
    await signIn(page, 'not-a-real-token-at-all');
    await expect.poll(() => page.locator('#signin-error').textContent()).toContain('That token was not accepted');
    expect(await page.getByRole('navigation', { name: 'Pages' }).count()).toBe(0);
  });

  it('support finds a deferred van by id and sees its reason and since when', async () => {
    const page = await (await browser(360)).newPage();
    await signIn(page, SUPPORT);
    await page.getByRole('link', { name: 'Vans' }).click();
    await page.getByLabel('Van id').fill('381');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'van-381' }).click();
    const gate = page.locator('#gate');
    await expect.poll(() => gate.textContent()).toContain('Waiting for better conditions');
    const text = (await gate.textContent()) ?? '';
    expect(text).toContain('the van is moving');
    expect(text).toContain('stationary 0 of 3 min');
    expect(text).toMatch(/3 h \d+ min ago/);
    // Since when: in the viewer's zone, with UTC on hover and the instant in `datetime`.
    const since = gate.locator('time').first();
    expect(await since.getAttribute('datetime')).toBe(DEFERRED_SINCE);
    expect(await since.getAttribute('title')).toMatch(/UTC$/);
    // Readable at 360 px: the page does not scroll sideways.
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
  });

  it('support sees no ops buttons, and a forged write from its session gets 403', async () => {
    const page = await (await browser()).newPage();
    await signIn(page, SUPPORT);
    await page.goto(`${url}/#/rollouts/${rolloutId}`);
    await expect.poll(() => page.locator('#rollout-status').textContent()).toBe('active');
    for (const name of ['Pause', 'Resume', 'Advance', 'Abort'])
      expect(await page.getByRole('button', { name }).count()).toBe(0);
    // The wave's progress says why van 381 has not updated: its gate's reason code.
    const wave = page.getByRole('row').filter({ hasText: 'internal' }).first();
    await expect.poll(() => wave.textContent()).toContain('moving 1');
    const forged = await page.evaluate(async (id) => {
      const s = (await (await fetch('/api/v1/session')).json()) as { csrf: string };
      const post = (headers: Record<string, string>) =>
        fetch(`/api/v1/rollouts/${id}/pause`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ reason: 'forged' }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: string } }));
      return { withCsrf: await post({ 'x-csrf-token': s.csrf }), without: await post({}) };
    }, rolloutId);
    expect(forged.withCsrf).toMatchObject({ status: 403, body: { error: 'role support may only read' } });
    expect(forged.without.status).toBe(403);
    expect(forged.without.body.error).toMatch(/CSRF/);
    const r = (await api(url, OPS, 'GET', `/rollouts/${rolloutId}`)).json as { status: string };
    expect(r.status).toBe('active');
  });

  it('ops pauses a rollout with a reason; the store shows it paused and audited', async () => {
    const page = await (await browser()).newPage();
    await signIn(page, OPS);
    await page.getByRole('link', { name: 'Rollouts' }).click();
    await page.getByRole('link', { name: rolloutId }).click();
    await expect.poll(() => page.locator('#rollout-status').textContent()).toBe('active');
    await page.getByRole('button', { name: 'Pause' }).click();
    // No reason, no pause.
    await page.getByRole('button', { name: 'Confirm Pause' }).click();
    expect(await page.locator('#rollout-status').textContent()).toBe('active');
    await page.getByLabel(/Reason for “Pause”/).fill('battery complaints from pilot vans');
    await page.getByRole('button', { name: 'Confirm Pause' }).click();
    await expect.poll(() => page.locator('#rollout-status').textContent()).toBe('paused');
    await expect.poll(() => page.getByRole('button', { name: 'Resume' }).count()).toBe(1);

    const db = new Database(dbFile, { readonly: true });
    try {
      const row = db.prepare('SELECT status, pause_reason FROM rollouts WHERE id = ?').get(rolloutId);
      expect(row).toEqual({ status: 'paused', pause_reason: 'paused by ops-olga: battery complaints from pilot vans' });
      const events = db
        .prepare(
          "SELECT actor, action, reason FROM owner_events WHERE owner_kind = 'rollout' AND owner_id = ? AND action = 'pause'",
        )
        .all(rolloutId);
      expect(events).toEqual([{ actor: 'ops-olga', action: 'pause', reason: 'battery complaints from pilot vans' }]);
    } finally {
      db.close();
    }
  });

  it('ops reverts the rollout with a reason; the page shows the revert, and resume is no longer offered', async () => {
    const page = await (await browser()).newPage();
    await signIn(page, OPS);
    await page.goto(`${url}/#/rollouts/${rolloutId}`);
    await expect.poll(() => page.locator('#rollout-status').textContent()).toBe('paused');
    expect(await page.locator('#revert').count()).toBe(0);
    await page.getByRole('button', { name: 'Revert' }).click();
    await page.getByLabel(/Reason for “Revert”/).fill('gen2 hubs crash after the update');
    await page.getByRole('button', { name: 'Confirm Revert' }).click();
    await expect.poll(() => page.locator('#revert-status').textContent()).toBe('active');
    const block = page.locator('#revert');
    // No earlier release completed in this suite, so there is nothing to go back to: it says so.
    expect(await block.getByRole('heading').textContent()).toBe('Revert to (no previous release)');
    expect(await block.textContent()).toContain('Why: “gen2 hubs crash after the update”');
    expect(await block.textContent()).toContain('by ops-olga');
    // A reverted rollout cannot be resumed or advanced (409): the buttons are gone, and so is Revert.
    for (const name of ['Resume', 'Advance', 'Revert'])
      expect(await page.getByRole('button', { name, exact: true }).count(), name).toBe(0);
    expect(await page.getByRole('button', { name: 'Abort' }).count()).toBe(1);

    const db = new Database(dbFile, { readonly: true });
    try {
      expect(
        db.prepare('SELECT status, reason, started_by FROM rollout_reverts WHERE rollout_id = ?').get(rolloutId),
      ).toEqual({
        status: 'active',
        reason: 'gen2 hubs crash after the update',
        started_by: 'ops-olga',
      });
    } finally {
      db.close();
    }
  });

  it('keeps working across a bridge restart without signing in again', async () => {
    const page = await (await browser()).newPage();
    await signIn(page, SUPPORT);
    await expect.poll(() => page.locator('#versions').count()).toBe(1);
    // A rollout page holds the live SSE stream open: the bridge must still shut down, and the page reconnect.
    await page.goto(`${url}/#/rollouts/${rolloutId}`);
    await expect.poll(() => page.getByText('Live updates: live').count()).toBe(1);
    const port = Number(new URL(url).port);
    await bridge.stop();
    await expect.poll(() => page.getByText('Live updates: reconnecting').count()).toBe(1);
    await page.getByRole('link', { name: 'Attention' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'not answering' }).count()).toBe(1);
    // The same address again: the browser's session cookie must still be good.
    await writeConfig(port);
    bridge = startBridgeProcess(config);
    url = await bridge.ready;
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'not answering' }).count(), { timeout: 30_000 })
      .toBe(0);
    await page.getByRole('link', { name: 'Vans' }).click();
    await expect.poll(() => page.getByRole('link', { name: 'van-381' }).count()).toBe(1);
    expect(await page.getByLabel('API token').count()).toBe(0);
  });
});
