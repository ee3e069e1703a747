// The virtual fleet against the Mender simulator over real HTTP: acceptance, inventory, a deployment whose
// statistics match the seeded script to the device, deferral, offline stragglers, abort, re-auth.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../core/clock.js';
import { NOT_NOW_STATE } from '../../../core/schemas/client.js';
import { parseInventory } from '../../../core/schemas/inventory.js';
import {
  startVirtualFleet,
  type VirtualDeviceInfo,
  type VirtualFleet,
  type VirtualFleetOptions,
} from '../../../mender-sim/fleet/index.js';
import { startMenderSim, type MenderSim, type MenderSimOptions } from '../../../mender-sim/index.js';
import { Mgmt, buildArtifact } from '../../../mender-sim/testkit.js';

const TARGET = 'vancore-app-1.4.0';

let dir: string;
let artifact: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-fleet-it-'));
  artifact = await readFile(
    await buildArtifact(dir, {
      name: TARGET,
      provides: { 'vancore.app.version': '1.4.0' },
      metaData: { vancore: { component: 'app', version: '1.4.0' } },
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const open: { fleet?: VirtualFleet; sim?: MenderSim }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.fleet?.stop();
    await o.sim?.close();
  }
});

/** A simulator with the target artifact uploaded, and a fleet against it (both closed after the test). */
async function setup(simOpts: MenderSimOptions, fleetOpts: Omit<VirtualFleetOptions, 'serverUrl'>) {
  const sim = await startMenderSim(simOpts);
  const handle: { fleet?: VirtualFleet; sim?: MenderSim } = { sim };
  open.push(handle);
  const mg = new Mgmt(sim.url, await sim.managementToken());
  expect((await mg.upload(artifact)).status).toBe(201);
  const fleet = await startVirtualFleet({
    serverUrl: sim.url,
    pollIntervalMs: 150,
    retryIntervalMs: 100,
    trace: 64,
    ...fleetOpts,
  });
  handle.fleet = fleet;
  return { sim, mg, fleet };
}

const ids = (devices: VirtualDeviceInfo[]) => devices.map((d) => d.deviceId ?? '');
const requests = (d: VirtualDeviceInfo) => (d.trace ?? []).map((t) => `${t.request}=${t.status}`);
/** The update check's v1 fallback as traced: POST on 3.x, GET on 5.x (machine.ts CLIENT_MODELS). */
const v1 = (d: VirtualDeviceInfo) => (d.client === 'mender-update-5' ? 'next-v1:GET' : 'next-v1');

async function deploy(mg: Mgmt, body: Record<string, unknown>, group?: string): Promise<string> {
  const r = await mg.call(
    'POST',
    group ? `/v1/deployments/deployments/group/${group}` : '/v1/deployments/deployments',
    {
      name: 'fleet test',
      artifact_name: TARGET,
      ...body,
    },
  );
  expect(r.status).toBe(201);
  return (r.headers.get('location') ?? '').split('/').pop() ?? '';
}

async function deviceStatuses(mg: Mgmt, dep: string): Promise<Map<string, string>> {
  const r = await mg.get(`/v1/deployments/deployments/${dep}/devices/list?per_page=500`);
  return new Map((r.json as { id: string; status: string }[]).map((d) => [d.id, d.status]));
}

describe('virtual fleet against the simulator', () => {
  it('pending devices retry auth and come in once accepted through the management API', async () => {
    const { mg, fleet } = await setup({ autoAccept: false }, { count: 6, seed: 11 });
    await fleet.until((s) => s.activity.pending === 6);
    const pending = await mg.get('/v2/devauth/devices?status=pending&per_page=500');
    const list = pending.json as { id: string; identity_data: { van_id: string } }[];
    expect(list.map((d) => d.identity_data.van_id).sort()).toEqual(fleet.devices().map((d) => d.vanId));
    for (const d of list) expect((await mg.accept(d.id)).status).toBe(204);
    const s = await fleet.until((st) => st.booted === 6);
    expect(s.events.accepted).toBe(6);
    expect(s.errors).toEqual({ network: 0, http: 0, reauth: 0, internal: 0 });
    expect(new Set(ids(fleet.devices()))).toEqual(new Set(list.map((d) => d.id)));
    const count = await mg.get('/v2/devauth/devices/count?status=accepted');
    expect(count.json).toEqual({ count: 6 });
  });

  it('a 40-device deployment ends exactly as the seeded script says', async () => {
    const script = {
      failure: 0.1,
      rollback: 0.05,
      deferral: { share: 0.1, polls: 2, reason: 'weak_signal' as const },
      offline: 0.05,
      overrides: { 'van-00005': { artifactName: TARGET } },
    };
    const { mg, fleet } = await setup(
      { autoAccept: true },
      { count: 40, seed: 'it-main', script, stages: { pilot: 0.25 } },
    );
    const booted = await fleet.until((s) => s.booted === 40);
    expect(booted.events.offline).toBe(2);
    // The default fleet is mixed: half 3.4, half 5.x.
    expect(booted.clients).toEqual({ 'mender-3': 20, 'mender-update-5': 20 });

    // Every device is accepted and its inventory carries the VanCore keys, within the contract.
    expect((await mg.get('/v2/devauth/devices/count?status=accepted')).json).toEqual({ count: 40 });
    const inv = (await mg.get('/v1/inventory/devices?per_page=500')).json as { id: string; attributes: unknown }[];
    expect(inv).toHaveLength(40);
    const byVan = new Map(fleet.devices().map((d) => [d.vanId, d]));
    for (const d of inv) {
      const p = parseInventory(d.attributes);
      expect(p.dropped).toEqual([]);
      const mine = byVan.get(p.vancore.van_id ?? '');
      expect(mine?.deviceId).toBe(d.id);
      expect(p.mender.artifact_name).toBe(mine?.vanId === 'van-00005' ? TARGET : 'vancore-factory-0.9.0');
      expect(p.vancore.components).toEqual({ platform: '0.9.0', app: '1.3.0' });
      expect(p.vancore.gate.state).toBe('open');
      expect(p.identity).toMatchObject({ van_id: mine?.vanId, mac: mine?.identity.mac, status: 'accepted' });
    }

    // Stages land in static groups.
    expect(await fleet.applyStages(mg.token)).toEqual({ pilot: 10 });
    const pilot = (await mg.get('/v1/inventory/groups/pilot/devices?per_page=500')).json as string[];
    expect(new Set(pilot)).toEqual(new Set(ids(fleet.devices().filter((d) => d.stage === 'pilot'))));

    const devices = fleet.devices();
    const dep = await deploy(mg, { devices: ids(devices) });
    fleet.pollNow();
    const online = devices.filter((d) => !d.behaviour.offline);
    // The server settles `already-installed` itself when the device polls (it answers 204): the device
    // running the target never sees the deployment, so it is not among the fleet's own outcomes.
    const end = await fleet.until(
      (s) => s.events.success + s.events.failure + s.events.rolled_back === online.length - 1,
    );

    // What the script says, device by device.
    const want = (d: VirtualDeviceInfo) =>
      d.behaviour.artifactName === TARGET
        ? 'already-installed'
        : d.behaviour.outcome === 'success'
          ? 'success'
          : 'failure';
    const expected = { success: 0, failure: 0, 'already-installed': 0 };
    for (const d of online) expected[want(d)] += 1;
    expect(expected).toEqual({ success: 31, failure: 6, 'already-installed': 1 });
    const stats = (await mg.get(`/v1/deployments/deployments/${dep}/statistics`)).json as Record<string, number>;
    expect(stats).toMatchObject({ ...expected, pending: 0, downloading: 0, installing: 0, rebooting: 0, aborted: 0 });
    const statuses = await deviceStatuses(mg, dep);
    for (const d of online) expect([d.vanId, statuses.get(d.deviceId ?? '')]).toEqual([d.vanId, want(d)]);
    expect(end.errors).toEqual({ network: 0, http: 0, reauth: 0, internal: 0 });

    // Offline stragglers never asked: the deployment stays in progress, as on a real server.
    for (const d of devices.filter((x) => x.behaviour.offline)) {
      expect(statuses.has(d.deviceId ?? '')).toBe(false);
      expect(requests(d)).toEqual(['auth=200', 'inventory=200', 'next-v2=404', `${v1(d)}=204`]);
    }
    const depJson = (await mg.get(`/v1/deployments/deployments/${dep}`)).json as {
      status: string;
      max_devices: number;
    };
    expect(depJson).toMatchObject({ status: 'inprogress', max_devices: 40 });

    // Failures left their log; successes report the new artifact and component version in inventory.
    const reportedAfter = (d: VirtualDeviceInfo) => {
      const r = requests(d);
      const last = r.findLastIndex((x) => /^(status:success|log)=/.test(x));
      return d.behaviour.artifactName === TARGET || (last >= 0 && r.slice(last + 1).includes('inventory=200'));
    };
    await fleet.until(() => fleet.devices().every((d) => d.behaviour.offline || reportedAfter(d)));
    for (const d of fleet.devices().filter((x) => !x.behaviour.offline)) {
      const p = parseInventory(
        ((await mg.get(`/v1/inventory/devices/${d.deviceId}`)).json as { attributes: unknown }).attributes,
      );
      if (want(d) === 'failure') {
        const log = await mg.get(`/v1/deployments/deployments/${dep}/devices/${d.deviceId}/log`);
        expect(log.status).toBe(200);
        expect(log.text).toMatch(
          d.behaviour.outcome === 'rollback' ? /ArtifactCommit_Enter.*rolled back/ : /ArtifactInstall/,
        );
        expect(p.mender.artifact_name).toBe('vancore-factory-0.9.0');
        expect(p.vancore.health.last_update_status).toBe(
          d.behaviour.outcome === 'rollback' ? 'rolled_back' : 'failure',
        );
      } else {
        expect(p.mender.artifact_name).toBe(TARGET);
        expect(p.vancore.components.app).toBe(want(d) === 'success' ? '1.4.0' : '1.3.0');
      }
    }

    // Deferring devices turned the deployment down twice (nothing reported) and took it the third time.
    const deferring = fleet.devices().filter((d) => d.behaviour.deferral);
    expect(deferring).toHaveLength(4);
    for (const d of deferring) {
      expect(d.deferrals).toBe(2);
      const r = requests(d);
      const firstStatus = r.findIndex((x) => x.startsWith('status:'));
      expect(r.slice(0, firstStatus).filter((x) => x === `${v1(d)}=200`)).toHaveLength(3);
      expect(d.outcomes).toEqual([
        want(d) === 'success' ? 'success' : d.behaviour.outcome === 'rollback' ? 'rolled_back' : 'failure',
      ]);
    }
  });

  it('a deferring device shows the gate in inventory and leaves its deployment pending', async () => {
    const { mg, fleet } = await setup(
      { autoAccept: true },
      { count: 3, seed: 5, script: { deferral: { share: 1, polls: 1_000, reason: 'low_battery' } } },
    );
    await fleet.until((s) => s.booted === 3);
    const dep = await deploy(mg, { all_devices: true });
    fleet.pollNow();
    await fleet.until((s) => s.events.deferred >= 6 && s.activity.deferred === 3);
    for (const d of fleet.devices()) {
      const p = parseInventory(
        ((await mg.get(`/v1/inventory/devices/${d.deviceId}`)).json as { attributes: unknown }).attributes,
      );
      expect(p.vancore.gate.state).toBe('deferred');
      expect(p.vancore.gate.reason).toMatch(/^battery_low: /);
      // Where the gate said "not now": Download_Enter on 3.x, Sync_Leave on 5.x (read raw: the core
      // contract learns the Sync_Leave phase with issue #13 item 3).
      const raw = (
        (await mg.get(`/v1/inventory/devices/${d.deviceId}`)).json as {
          attributes: { name: string; value: unknown }[];
        }
      ).attributes;
      expect(raw.find((a) => a.name === 'vancore.gate.phase')?.value).toBe(NOT_NOW_STATE[d.client]);
      expect(p.vancore.health.battery_soc).toBe(14);
      expect(requests(d).filter((x) => x.startsWith('status:'))).toEqual([]);
    }
    const depJson = (await mg.get(`/v1/deployments/deployments/${dep}`)).json as {
      status: string;
      statistics: { status: Record<string, number> };
    };
    expect(depJson.status).toBe('pending');
    expect(depJson.statistics.status.pending).toBe(3);
  });

  it('abort mid-update: the next status report gets 409, the devices roll back and end aborted', async () => {
    const { mg, fleet } = await setup(
      { autoAccept: true },
      { count: 8, seed: 3, stepDelayMs: 1_500, stages: { canary: 1 } },
    );
    await fleet.until((s) => s.booted === 8);
    await fleet.applyStages(mg.token);
    const dep = await deploy(mg, {}, 'canary');
    fleet.pollNow();
    await fleet.until(() => fleet.devices().every((d) => requests(d).includes('status:installing=204')));
    expect((await mg.call('PUT', `/v1/deployments/deployments/${dep}/status`, { status: 'aborted' })).status).toBe(204);
    const end = await fleet.until((s) => s.events.aborted === 8 && s.activity.updating === 0);
    expect(end.events.success).toBe(0);
    for (const d of fleet.devices()) {
      const r = requests(d);
      const first409 = r.findIndex((x) => x.endsWith('=409'));
      expect(r[first409]).toMatch(/^status:(rebooting|installing)=409$/);
      expect(r.slice(first409 + 1, first409 + 3)).toEqual(['status:failure=409', 'log=204']);
      expect(d).toMatchObject({
        artifactName: 'vancore-factory-0.9.0',
        lastUpdateStatus: 'rolled_back',
        outcomes: ['aborted'],
      });
    }
    const stats = (await mg.get(`/v1/deployments/deployments/${dep}/statistics`)).json as Record<string, number>;
    expect(stats).toMatchObject({ aborted: 8, success: 0, failure: 0 });
    const log = await mg.get(`/v1/deployments/deployments/${dep}/devices/${fleet.devices()[0]?.deviceId}/log`);
    expect(log.text).toMatch(/deployment aborted at the backend/);
  });

  it('re-authenticates on a 401 and repeats the request', async () => {
    const { sim, fleet } = await setup({ autoAccept: true }, { count: 2, seed: 9 });
    await fleet.until((s) => s.booted === 2);
    sim.injectFaults({ match: /\/v2\/deployments\/device\/deployments\/next$/, status: 401, count: 2 });
    fleet.pollNow();
    const s = await fleet.until(
      (st) => (st.requests.byKind['next-v1'] ?? 0) + (st.requests.byKind['next-v1:GET'] ?? 0) === 4,
    );
    expect(s.errors.reauth).toBe(2);
    for (const d of fleet.devices()) {
      expect(requests(d).slice(4)).toEqual(['next-v2=401', 'auth=200', 'next-v2=404', `${v1(d)}=204`]);
    }
  });

  it('follows an injected clock: waits move only when the clock does; stop() ends all traffic', async () => {
    const clock = new ManualClock();
    const { sim, fleet } = await setup(
      { autoAccept: true },
      { count: 3, seed: 2, clock, pollIntervalMs: 60_000, inventoryIntervalMs: 3_600_000 },
    );
    const booted = await fleet.until((s) => s.booted === 3);
    expect(booted.requests.total).toBe(12);
    await new Promise((r) => setTimeout(r, 300));
    expect(fleet.stats().requests.total).toBe(12);
    clock.advance(60_000);
    const polled = await fleet.until((s) => s.requests.total === 18);
    expect(polled.requests.byKind['next-v2']).toBe(6);
    expect((polled.requests.byKind['next-v1'] ?? 0) + (polled.requests.byKind['next-v1:GET'] ?? 0)).toBe(6);
    await fleet.stop();
    const seen = sim.requests().length;
    clock.advance(3_600_000);
    fleet.pollNow();
    await new Promise((r) => setTimeout(r, 200));
    expect(sim.requests().length).toBe(seen);
  });
});
