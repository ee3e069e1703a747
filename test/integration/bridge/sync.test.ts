// The sync against the Mender simulator over HTTP (not an in-memory fake), on SQLite and PostgreSQL,
// against both server lines the simulator answers as (4.1 and 3.7: mender-sim/profile.ts).
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runSync } from '../../../bridge/sync/sync.js';
import { SyncRunner } from '../../../bridge/sync/runner.js';
import { ManualClock } from '../../../core/clock.js';
import { MenderManagementClient } from '../../../core/mender/management.js';
import { type MenderSim, startMenderSim } from '../../../mender-sim/index.js';
import { MENDER_PROFILES } from '../../../mender-sim/profile.js';
import { Mgmt, SimDevice, buildArtifact } from '../../../mender-sim/testkit.js';
import { startChaosProxy } from '../../helpers/chaos-proxy.js';
import { type TestStore, backends, openTestStore } from '../../helpers/fleet-db.js';

const now = () => new Date();

function vanInventory(i: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'vancore.van_id': `van-${String(i).padStart(3, '0')}`,
    'vancore.platform.version': '0.9.2',
    'vancore.health.battery_soc': String(50 + (i % 40)),
    'vancore.gate.state': i % 5 === 0 ? 'deferred' : 'open',
    'vancore.gate.reason': i % 5 === 0 ? 'moving' : '',
    ...over,
  };
}

async function fleet(sim: MenderSim, n: number, clock: ManualClock): Promise<SimDevice[]> {
  const devices: SimDevice[] = [];
  for (let i = 0; i < n; i++) {
    const d = new SimDevice(sim.url, {
      mac: `02:00:00:00:${String(Math.floor(i / 256)).padStart(2, '0')}:${(i % 256).toString(16).padStart(2, '0')}`,
    });
    expect((await d.authenticate()).status).toBe(200);
    // Every seventh van reports garbage next to good values.
    expect(
      (
        await d.putInventory(
          vanInventory(
            i,
            i % 7 === 3 ? { 'vancore.health.battery_soc': 'full-ish', 'vancore.app.version': 'latest' } : {},
          ),
        )
      ).status,
    ).toBe(200);
    devices.push(d);
    clock.advance(10_000);
  }
  return devices;
}

function client(url: string, sim: MenderSim, pageSize = 7): MenderManagementClient {
  return MenderManagementClient.create({
    baseUrl: url,
    auth: { kind: 'login', user: sim.user, password: sim.password },
    pageSize,
    timeoutMs: 1500,
    retry: { retries: 8, baseDelayMs: 20, maxDelayMs: 200 },
  });
}

async function snapshotOf(t: TestStore) {
  const vans = await t.store.db
    .selectFrom('vans')
    .select(['device_id', 'van_id', 'battery_soc', 'gate_state', 'gate_reason', 'auth_status', 'artifact_name'])
    .orderBy('device_id')
    .execute();
  const comps = await t.store.db
    .selectFrom('van_components')
    .select(['device_id', 'component', 'version'])
    .orderBy('device_id')
    .orderBy('component')
    .execute();
  const q = await t.store.db
    .selectFrom('quarantine')
    .select(['device_id', 'name', 'reason'])
    .orderBy('device_id')
    .orderBy('name')
    .execute();
  const deps = await t.store.db
    .selectFrom('deployment_devices')
    .select(['deployment_id', 'device_id', 'status'])
    .orderBy('device_id')
    .execute();
  return { vans, comps, q, deps };
}

/**
 * A pass-through proxy that appends one malformed record to each list of artifacts, deployments and
 * inventory devices: what the bridge must survive (quarantine and count) from a server it does not control.
 */
async function malformingProxy(target: string): Promise<{ url: string; close: () => Promise<void> }> {
  const bad: [RegExp, unknown][] = [
    [/\/deployments\/artifacts(\/list)?(\?|$)/, { id: 'bad-artifact', name: 7, modified: 'x' }],
    [/\/deployments\/deployments(\?|$)/, { id: 'bad-deployment', status: 'sideways' }],
    [/\/inventory\/filters\/search/, { id: 'bad-device', attributes: 'not a list' }],
  ];
  const up = new URL(target);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const sent = Buffer.concat(chunks).toString('utf8');
      // Only the first page gets it (page in the query, or in the body of a v2 search).
      const firstPage = !/[?&]page=([2-9]|\d\d)/.test(req.url ?? '') && !/"page":([2-9]|\d\d)/.test(sent);
      const out = httpRequest(
        { host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers },
        (r) => {
          const body: Buffer[] = [];
          r.on('data', (c: Buffer) => body.push(c));
          r.on('end', () => {
            let text = Buffer.concat(body).toString('utf8');
            const extra = bad.find(([re]) => re.test(req.url ?? ''))?.[1];
            if (extra && firstPage && r.statusCode === 200 && text.startsWith('[')) {
              const list = JSON.parse(text) as unknown[];
              list.push(extra);
              text = JSON.stringify(list);
            }
            const headers = { ...r.headers, 'content-length': String(Buffer.byteLength(text)) };
            res.writeHead(r.statusCode ?? 502, headers);
            res.end(text);
          });
        },
      );
      out.on('error', () => res.destroy());
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const matrix = backends.flatMap((b) => MENDER_PROFILES.map((p) => [b, p] as const));

describe.each(matrix)('sync from the simulator into %s, Mender %s', (backend, profile) => {
  let sim: MenderSim;
  let devices: SimDevice[];
  let t: TestStore;
  let dir: string;
  // The simulator's clock stamps updated_ts: move it like real time between syncs.
  const simClock = new ManualClock('2026-11-22T08:00:00Z');

  beforeAll(async () => {
    sim = await startMenderSim({ autoAccept: true, clock: simClock, profile });
    devices = await fleet(sim, 30, simClock);
    dir = await mkdtemp(join(tmpdir(), 'vc-sync-'));
    // One finished deployment: two vans succeed, one fails with a log.
    const mgmt = new Mgmt(sim.url, await sim.managementToken());
    const art = await buildArtifact(dir, {
      name: 'vancore-platform-0.9.3',
      softwareName: 'platform',
      softwareVersion: '0.9.3',
      metaData: { vancore: { component: 'platform', version: '0.9.3', requires: {} } },
    });
    // mender-artifact -d key:value: a string in artifact_depends (deployments model/image.go).
    const app = await buildArtifact(dir, {
      name: 'vancore-app-1.5.0',
      softwareName: 'app',
      softwareVersion: '1.5.0',
      depends: { 'vancore.hw': 'gen2' },
      metaData: { vancore: { component: 'app', version: '1.5.0', requires: { platform: '>=0.9.0' } } },
    });
    expect((await mgmt.upload(await readFile(app), 'a.mender')).status).toBe(201);
    expect((await mgmt.upload(await readFile(art), 'p.mender')).status).toBe(201);
    const ids = (await mgmt.get('/v2/devauth/devices?per_page=500')).json as {
      id: string;
      identity_data: { mac: string };
    }[];
    const idOf = (d: SimDevice) => ids.find((x) => x.identity_data.mac === d.identity.mac)!.id;
    const target = [devices[0]!, devices[1]!, devices[2]!];
    const created = await mgmt.call('POST', '/v1/deployments/deployments', {
      name: 'platform 0.9.3 pilot',
      artifact_name: 'vancore-platform-0.9.3',
      devices: target.map(idOf),
    });
    expect(created.status).toBe(201);
    for (const [i, d] of target.entries()) {
      const next = await d.next();
      const depId = (next.json as { id: string }).id;
      for (const s of ['downloading', 'installing', 'rebooting']) expect((await d.status(depId, s)).status).toBe(204);
      if (i === 2) {
        await d.log(depId, [
          { timestamp: new Date().toISOString(), level: 'error', message: 'ArtifactCommit_Enter: validation failed' },
        ]);
        await d.status(depId, 'failure');
      } else await d.status(depId, 'success');
    }
  });
  afterAll(async () => {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    t = await openTestStore(backend);
  });
  afterEach(async () => {
    await t.dispose();
  });

  it('a full sync brings every van, version, gate state and deployment outcome, and quarantines garbage', async () => {
    const r = await runSync({ mender: client(sim.url, sim), store: t.store, now }, 'full');
    expect(r).toMatchObject({
      kind: 'full',
      devices_seen: 30,
      vans_applied: 30,
      vans_created: 30,
      deployments_seen: 1,
      deployment_devices: 3,
      artifacts_meta_invalid: 0,
    });
    // 5 vans (i % 7 === 3) each report two bad attributes.
    expect(r.attributes_quarantined).toBe(8);
    const s = await snapshotOf(t);
    expect(s.vans).toHaveLength(30);
    expect(s.vans.every((v) => v.auth_status === 'accepted')).toBe(true);
    expect(s.vans.find((v) => v.van_id === 'van-003')).toMatchObject({ battery_soc: null, gate_state: 'open' });
    expect(s.vans.filter((v) => v.gate_state === 'deferred')).toHaveLength(6);
    expect(s.comps.filter((c) => c.component === 'app')).toEqual([]);
    expect(s.deps.map((d) => d.status).sort()).toEqual(['failure', 'success', 'success']);
    const arts = await t.store.db.selectFrom('artifacts').selectAll().orderBy('name').execute();
    expect(arts.map((a) => [a.name, a.component, a.version, a.requires_json])).toEqual([
      ['vancore-app-1.5.0', 'app', '1.5.0', '{"platform":">=0.9.0"}'],
      ['vancore-platform-0.9.3', 'platform', '0.9.3', '{}'],
    ]);
    expect(r.records_quarantined).toBe(0);
  });

  it(`reads the lists this server has: ${profile === '4.1' ? 'v2' : 'v1 after one 404'}`, async () => {
    const mender = client(sim.url, sim);
    sim.clearRequests();
    await runSync({ mender, store: t.store, now }, 'full');
    await runSync({ mender, store: t.store, now }, 'incremental');
    const want = profile === '4.1' ? 'v2' : 'v1';
    expect(mender.listApis).toEqual({ deployments: want, artifacts: want });
    const v2 = sim.requests().filter((q) => /\/v2\/deployments\/(deployments|artifacts)$/.test(q.path));
    // 4.1: every list call is v2; 3.7: v2 was asked once per list, then never again.
    expect(v2.length).toBe(profile === '4.1' ? v2.length : 2);
    if (profile === '4.1') expect(v2.length).toBeGreaterThanOrEqual(4);
  });

  it("catches ops' tag and group changes with a reconcile run (updated_ts does not move for them)", async () => {
    const mender = client(sim.url, sim);
    await runSync({ mender, store: t.store, now }, 'full');
    const ids = await t.store.db.selectFrom('vans').select(['device_id', 'van_id']).orderBy('van_id').execute();
    const [a, b] = [ids[4]!.device_id, ids[11]!.device_id];
    simClock.advance(60_000);
    await mender.setTags(a, [{ name: 'region', value: 'north' }]);
    await mender.setGroup(b, 'pilot-north');
    const inc = await runSync({ mender, store: t.store, now }, 'incremental');
    const row = (id: string) =>
      t.store.db
        .selectFrom('vans')
        .select(['tags_json', 'mender_group'])
        .where('device_id', '=', id)
        .executeTakeFirstOrThrow();
    // inventory store/mongo/datastore_mongo.go: tags and group writes leave updated_ts alone.
    expect(inc.tags_or_group_changed).toBe(0);
    expect(JSON.parse((await row(a)).tags_json)).toEqual({});
    expect((await row(b)).mender_group).toBeNull();

    const rec = await runSync({ mender, store: t.store, now }, 'reconcile');
    expect(rec).toMatchObject({ kind: 'reconcile', tags_or_group_changed: 2, decommissioned: 0 });
    // Besides ops' changes, the reconcile applies exactly what an incremental run would (the cursor overlap).
    expect(rec.vans_applied).toBe(2 + inc.vans_applied);
    expect(JSON.parse((await row(a)).tags_json)).toEqual({ region: 'north' });
    expect((await row(b)).mender_group).toBe('pilot-north');
    // Nothing left to catch.
    expect((await runSync({ mender, store: t.store, now }, 'reconcile')).tags_or_group_changed).toBe(0);
  });

  it('a malformed artifact, deployment or device record is quarantined and counted; the rest syncs', async () => {
    const proxy = await malformingProxy(sim.url);
    try {
      const r = await runSync({ mender: client(proxy.url, sim), store: t.store, now }, 'full');
      expect(r).toMatchObject({ vans_applied: 30, deployments_seen: 1, records_quarantined: 3 });
      expect(await t.store.db.selectFrom('artifacts').select('name').execute()).toHaveLength(2);
      const q = await t.store.db
        .selectFrom('quarantine')
        .select(['device_id', 'scope', 'count'])
        .where('scope', 'like', 'record:%')
        .orderBy('scope')
        .execute();
      expect(q.map((x) => [x.scope, x.device_id, Number(x.count)])).toEqual([
        ['record:artifact', 'bad-artifact', 1],
        ['record:deployment', 'bad-deployment', 1],
        ['record:inventory_device', 'bad-device', 1],
      ]);
      expect(await t.store.quarantinedRecords()).toEqual({ artifact: 1, deployment: 1, inventory_device: 1 });
    } finally {
      await proxy.close();
    }
  });

  it('an incremental sync reads only what changed (newest first) and keeps the rest', async () => {
    const mender = client(sim.url, sim);
    await runSync({ mender, store: t.store, now }, 'full');
    simClock.advance(60_000);
    expect(
      (
        await devices[9]!.putInventory(
          vanInventory(9, {
            'vancore.health.battery_soc': '11',
            'vancore.gate.state': 'deferred',
            'vancore.gate.reason': 'battery_low',
          }),
        )
      ).status,
    ).toBe(200);
    sim.clearRequests();
    const r = await runSync({ mender, store: t.store, now }, 'incremental');
    // Newest first: van-009 (changed) and van-029 (updated within the cursor's 5 s overlap) are read; the
    // first page already reaches past the cursor, so no further page is asked for.
    expect(r.vans_applied).toBe(2);
    expect(sim.requests().filter((q) => q.path.endsWith('/filters/search'))).toHaveLength(1);
    const v = await t.store.db.selectFrom('vans').selectAll().where('van_id', '=', 'van-009').executeTakeFirstOrThrow();
    expect([v.battery_soc, v.gate_state, v.gate_reason]).toEqual([11, 'deferred', 'battery_low']);
    expect(await t.store.db.selectFrom('vans').select('device_id').execute()).toHaveLength(30);
    // Finished deployments already read are not read again.
    expect(sim.requests().filter((q) => q.path.includes('/devices/list'))).toHaveLength(0);
  });

  it('converges to the same records through a proxy failing 20 % of calls', async () => {
    await runSync({ mender: client(sim.url, sim), store: t.store, now }, 'full');
    const clean = await snapshotOf(t);
    const chaosStore = await openTestStore(backend);
    const proxy = await startChaosProxy(sim.url, { failShare: 0.2, seed: 42, stallMs: 3_000 });
    try {
      const runner = new SyncRunner(
        { mender: client(proxy.url, sim, 3), store: chaosStore.store, now },
        { intervalMs: 60_000, fullEveryMs: 0 },
      );
      // A sync may still give up after its retries; the scheduled next one picks up: emulate a few ticks.
      let done = false;
      for (let tick = 0; tick < 5 && !done; tick++)
        done = await runner.syncNow('full').then(
          () => true,
          () => false,
        );
      expect(done).toBe(true);
      expect(await snapshotOf(chaosStore)).toEqual(clean);
      expect(Object.values(proxy.stats.failed).reduce((a, b) => a + b, 0)).toBeGreaterThan(3);
    } finally {
      await proxy.close();
      await chaosStore.dispose();
    }
  });

  it('a "sync now" while one runs joins it', async () => {
    const runner = new SyncRunner(
      { mender: client(sim.url, sim), store: t.store, now },
      { intervalMs: 60_000, fullEveryMs: 3_600_000 },
    );
    const a = runner.syncNow('incremental');
    const b = runner.syncNow('incremental');
    expect(b).toBe(a);
    expect(runner.running).toBe(true);
    await a;
    expect(runner.running).toBe(false);
    expect(runner.metrics.runs.incremental).toBe(1);
  });
});
