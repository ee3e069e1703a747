// vancore-vpn as a real process on temp van roots, driving the tailscale stand-in
// (test/fixtures/tailscale) through add → verify → cutover → retire, against a local Headscale
// stand-in: an HTTPS server with a self-signed certificate whose CA the module is given (ca_file).
// Also: the deadman bringing SaaS back when the support probe fails after cut-over, a failing
// control URL rolling cut-over back, a kill -9 after the join resuming without reusing the key, and
// out-of-order steps refused.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VpnIndex, type VpnStep } from '../../../core/schemas/payload-index.js';
import {
  deadmanRound,
  exists,
  newVan as makeVan,
  startHeadscale,
  tsPrefs as prefs,
  tsStatus as status,
  vpnJson,
  type Headscale,
  type Van,
} from '../../fixtures/tailscale/van.js';
import { copyBuiltHooks } from './support/bundles.js';
import { makeTree, runAndKillAt, runModule, type ModuleRun } from './support/payload.js';

const AUTHKEY = 'hskey-auth-0123456789abcdef-SECRET';

let work: string;
let vpnModule: string;
let hs: Headscale;
let loginServer: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-vpn-it-'));
  vpnModule = (await copyBuiltHooks(join(work, 'hooks'), ['modules/vancore-vpn']))['modules/vancore-vpn'];
  hs = await startHeadscale(work);
  loginServer = hs.url;
}, 60_000);

afterAll(async () => {
  await hs?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const newVan = () => makeVan(work, hs);

async function vpnTree(step: VpnStep, version: string, o: { login?: string } = {}): Promise<string> {
  const index = VpnIndex.parse({
    format: 1,
    type: 'vancore-vpn',
    component: 'vpn',
    version,
    step,
    login_server: o.login ?? loginServer,
    authkey: step === 'add' ? 'authkey' : null,
  });
  return makeTree(work, {
    artifactName: `vancore-vpn-${step}-${version}`,
    metaData: { vancore: { component: 'vpn', version } },
    files: { 'vancore-index.json': JSON.stringify(index), ...(step === 'add' ? { authkey: `${AUTHKEY}\n` } : {}) },
  });
}

const ok = (r: ModuleRun) => expect(r.code, r.stderr).toBe(0);

async function step(
  van: Van,
  s: VpnStep,
  version: string,
): Promise<{ install: ModuleRun; commit: ModuleRun; tree: string }> {
  const tree = await vpnTree(s, version);
  const install = await runModule(vpnModule, 'ArtifactInstall', tree, van.env);
  ok(install);
  const commit = await runModule(vpnModule, 'ArtifactCommit', tree, van.env);
  ok(commit);
  return { install, commit, tree };
}

/** Every file under `dir` whose bytes contain `needle`. */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    if ((await readFile(p)).includes(needle)) out.push(p);
  }
  return out;
}

describe('vancore-vpn module', () => {
  it('walks a van through add, verify, cutover and retire; the key is used from its file and never copied', async () => {
    const van = await newVan();

    const add = await step(van, 'add', '1.0.0');
    expect(await vpnJson(van)).toMatchObject({ state: 'dual', step: 'add' });
    const hs = await status(van.hsSock);
    expect(hs.doc).toMatchObject({ BackendState: 'Running', Self: { Online: true } });
    expect((await prefs(van.hsSock)).ControlURL).toBe(loginServer);
    expect((await status(van.saasSock)).doc?.BackendState).toBe('Running');
    // The key went to tailscale as a file, was deleted after use, and is nowhere on the van or in any log.
    expect(await exists(join(add.tree, 'files/authkey'))).toBe(false);
    const calls = await readFile(`${van.hsSock}.calls`, 'utf8');
    expect(calls).toContain('--auth-key=file:');
    expect(await filesContaining(van.root, 'SECRET')).toEqual([]);
    expect(add.install.stderr + add.commit.stderr).not.toContain('SECRET');

    await step(van, 'verify', '1.1.0');
    expect(await vpnJson(van)).toMatchObject({ state: 'dual', step: 'verify' });

    await step(van, 'cutover', '1.2.0');
    expect(await vpnJson(van)).toMatchObject({ state: 'headscale', step: 'cutover' });
    expect((await status(van.saasSock)).code).toBe(1); // SaaS daemon stopped …
    expect(await exists(join(van.saasDir, 'tailscaled.state'))).toBe(true); // … its state kept
    expect((await prefs(van.hsSock)).CorpDNS).toBe(true);
    expect(await deadmanRound(vpnModule, van)).toEqual({ kind: 'healthy' });

    await step(van, 'retire', '1.3.0');
    expect(await vpnJson(van)).toMatchObject({ state: 'retired', step: 'retire' });
    expect(await exists(van.saasDir)).toBe(false);
    expect(await exists(`${van.saasDir}.retired`)).toBe(false);
    expect(await exists(join(van.state, 'vpn/deadman.json'))).toBe(false);
    expect(JSON.parse(await readFile(join(van.state, 'versions.json'), 'utf8'))).toMatchObject({ vpn: '1.3.0' });
    expect((await status(van.hsSock)).doc).toMatchObject({ BackendState: 'Running', Self: { Online: true } });
  }, 60_000);

  it('brings SaaS access back when the support probe fails after cut-over (deadman)', async () => {
    const van = await newVan();
    await step(van, 'add', '1.0.0');
    await step(van, 'verify', '1.1.0');
    await step(van, 'cutover', '1.2.0');
    expect((await status(van.saasSock)).code).toBe(1);

    await writeFile(van.supportBroken, '');
    const verdict = await deadmanRound(vpnModule, van);
    expect(verdict.kind).toBe('revert');
    expect(verdict.why).toContain('support probe');
    expect((await status(van.saasSock)).doc).toMatchObject({ BackendState: 'Running', Self: { Online: true } });
    expect((await prefs(van.hsSock)).CorpDNS).toBe(false);
    expect(await vpnJson(van)).toMatchObject({ state: 'reverted', step: 'verify' });
    expect(await exists(join(van.state, 'vpn/deadman.json'))).toBe(false);
    // Nothing armed any more: a later round does nothing.
    expect((await deadmanRound(vpnModule, van)).kind).toBe('idle');

    // The bridge may send cut-over again once the cause is fixed.
    await rm(van.supportBroken);
    await step(van, 'cutover', '1.2.1');
    expect(await vpnJson(van)).toMatchObject({ state: 'headscale', step: 'cutover' });
  }, 60_000);

  it('refuses to commit a cut-over whose control URL fails, and the rollback restores SaaS', async () => {
    const van = await newVan();
    await step(van, 'add', '1.0.0');
    await step(van, 'verify', '1.1.0');
    hs.healthStatus = 503;
    try {
      const tree = await vpnTree('cutover', '1.2.0');
      const install = await runModule(vpnModule, 'ArtifactInstall', tree, van.env);
      expect(install.code).toBe(1);
      expect(install.stderr).toMatch(/vancore-vpn: ArtifactInstall failed: .*\/health answered 503/);
      ok(await runModule(vpnModule, 'ArtifactRollback', tree, van.env));
      ok(await runModule(vpnModule, 'ArtifactFailure', tree, van.env));
    } finally {
      hs.healthStatus = 200;
    }
    expect((await status(van.saasSock)).doc?.BackendState).toBe('Running');
    expect((await prefs(van.hsSock)).CorpDNS).toBe(false);
    expect(await vpnJson(van)).toMatchObject({ state: 'dual', step: 'verify' });
    expect(JSON.parse(await readFile(join(van.state, 'last-update.json'), 'utf8'))).toMatchObject({
      status: 'rolled_back',
      component: 'vpn',
      detail: expect.stringContaining('answered 503') as unknown,
    });
  }, 60_000);

  it('rolls back an add: the second instance is logged out, stopped and its state removed', async () => {
    const van = await newVan();
    const tree = await vpnTree('add', '1.0.0');
    ok(await runModule(vpnModule, 'ArtifactInstall', tree, van.env));
    ok(await runModule(vpnModule, 'ArtifactRollback', tree, van.env));
    expect((await status(van.hsSock)).code).toBe(1);
    expect(await exists(van.hsDir)).toBe(false);
    expect((await status(van.saasSock)).doc?.BackendState).toBe('Running');
    expect(await exists(join(van.state, 'vpn.json'))).toBe(false);
  }, 60_000);

  it('fails an add whose key Headscale refuses; rollback and Cleanup leave no instance and no key', async () => {
    const van = await newVan();
    await mkdir(join(van.root, 'run/tailscale-headscale'), { recursive: true });
    await writeFile(`${van.hsSock}.reject-authkey`, '');
    const tree = await vpnTree('add', '1.0.0');
    const install = await runModule(vpnModule, 'ArtifactInstall', tree, van.env);
    expect(install.code).toBe(1);
    expect(install.stderr).toContain('invalid key');
    expect(install.stderr).not.toContain('SECRET');
    ok(await runModule(vpnModule, 'ArtifactRollback', tree, van.env));
    ok(await runModule(vpnModule, 'Cleanup', tree, van.env));
    expect(await exists(join(tree, 'files/authkey'))).toBe(false);
    expect(await exists(van.hsSock)).toBe(false);
    expect(await exists(van.hsDir)).toBe(false);
    expect((await status(van.saasSock)).doc?.BackendState).toBe('Running');
  }, 60_000);

  it('resumes an add killed right after the join without using the key twice', async () => {
    const van = await newVan();
    const tree = await vpnTree('add', '1.0.0');
    const killed = await runAndKillAt(
      vpnModule,
      'ArtifactInstall',
      tree,
      van.env,
      'after:join:hs',
      join(van.root, 'hold.pid'),
    );
    expect(killed.signal).toBe('SIGKILL');
    ok(await runModule(vpnModule, 'ArtifactInstall', tree, van.env));
    ok(await runModule(vpnModule, 'ArtifactCommit', tree, van.env));
    const ups = (await readFile(`${van.hsSock}.calls`, 'utf8')).split('\n').filter((l) => l.includes('"up"'));
    expect(ups).toHaveLength(1);
    expect(await vpnJson(van)).toMatchObject({ state: 'dual', step: 'add' });
  }, 60_000);

  it('a cut-over killed after SaaS stopped is rolled back to SaaS running', async () => {
    const van = await newVan();
    await step(van, 'add', '1.0.0');
    await step(van, 'verify', '1.1.0');
    const tree = await vpnTree('cutover', '1.2.0');
    const killed = await runAndKillAt(
      vpnModule,
      'ArtifactInstall',
      tree,
      van.env,
      'after:daemon:stop:saas',
      join(van.root, 'hold.pid'),
    );
    expect(killed.signal).toBe('SIGKILL');
    expect((await status(van.saasSock)).code).toBe(1);
    ok(await runModule(vpnModule, 'ArtifactRollback', tree, van.env));
    expect((await status(van.saasSock)).doc).toMatchObject({ BackendState: 'Running', Self: { Online: true } });
    expect((await prefs(van.hsSock)).CorpDNS).toBe(false);
    expect(await vpnJson(van)).toMatchObject({ state: 'dual', step: 'verify' });
  }, 60_000);

  it.each([
    ['cutover on a van that never added Headscale', 'cutover' as const, /step cutover needs step verify first/],
    ['verify on a van that never added Headscale', 'verify' as const, /step verify needs step add first/],
  ])('refuses %s and changes nothing', async (_name, s, message) => {
    const van = await newVan();
    const tree = await vpnTree(s, '1.0.0');
    const r = await runModule(vpnModule, 'ArtifactInstall', tree, van.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect((await status(van.saasSock)).doc?.BackendState).toBe('Running');
    expect(await exists(van.hsSock)).toBe(false);
  });

  it('answers the protocol questions without any configuration', async () => {
    const tree = await vpnTree('verify', '1.0.0');
    const env = { VANCORE_OTA_ROOT: join(work, 'nowhere') };
    expect((await runModule(vpnModule, 'SupportsRollback', tree, env)).stdout).toBe('Yes\n');
    expect((await runModule(vpnModule, 'NeedsArtifactReboot', tree, env)).stdout).toBe('No\n');
  });
});
