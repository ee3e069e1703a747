// The virtual fleet's model of the C++ Mender client (`mender-update-5`, mender-sim/fleet/machine.ts
// CLIENT_MODELS) against the verified rows of ../shared/mender-client/RECIPE-current.md, one case per row the
// model covers, each naming its row. Every case drives one virtual van against the real simulator
// (startMenderSim) and asserts the request sequence the simulator recorded (`requests()`: method, path,
// status) together with the bodies seen on the wire (cpp-client-model-wire.ts), and what the server made of
// them (the deployment's device status, its log).
//
// Rows the model does not cover (standalone mode, exit 21 retries inside the client, D-Bus, the log upload
// truncated at debug level) are listed in docs/virtual-fleet.md. Where a row leaves a detail open, the
// client's source is cited: src/mender-update/deployments/deployments.cpp (v2 → v1 fallback, status body)
// and src/mender-update/inventory.cpp (inventory body, hash of the last accepted payload).
import { createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClientFlavour } from '../../core/schemas/client.js';
import { startVirtualFleet, type VirtualFleet } from '../../mender-sim/fleet/index.js';
import type { ScenarioInput } from '../../mender-sim/fleet/scenario.js';
import { startMenderSim, type MenderSim } from '../../mender-sim/index.js';
import { Mgmt, buildArtifact } from '../../mender-sim/testkit.js';
import { startWire, type Wire, type WireRecord } from './cpp-client-model-wire.js';

const TARGET = 'vancore-app-1.4.0';
const FACTORY = 'vancore-factory-0.9.0';
const STATUS = /^\/api\/devices\/v1\/deployments\/device\/deployments\/[^/]+\/status$/;
const LOG = /^\/api\/devices\/v1\/deployments\/device\/deployments\/[^/]+\/log$/;
const AUTH = '/api/devices/v1/authentication/auth_requests';
const INVENTORY = '/api/devices/v1/inventory/device/attributes';
const NEXT_V2 = '/api/devices/v2/deployments/device/deployments/next';
const NEXT_V1 = '/api/devices/v1/deployments/device/deployments/next';

let dir: string;
let artifact: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-cpp-model-'));
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

interface Van {
  sim: MenderSim;
  wire: Wire;
  fleet: VirtualFleet;
  mg: Mgmt;
  deviceId: string;
}
const open: Van[] = [];
afterEach(async () => {
  for (const v of open.splice(0)) {
    await v.fleet.stop();
    await v.wire.close();
    await v.sim.close();
  }
});

/** One booted virtual van of `client` behind the recording wire; the target artifact is uploaded. */
async function van(client: ClientFlavour, behaviour: NonNullable<ScenarioInput['overrides']>[string] = {}) {
  const sim = await startMenderSim({ autoAccept: true });
  const mg = new Mgmt(sim.url, await sim.managementToken());
  expect((await mg.upload(artifact)).status).toBe(201);
  const wire = await startWire(sim.url);
  const fleet = await startVirtualFleet({
    serverUrl: wire.url,
    count: 1,
    clients: client,
    pollIntervalMs: 100,
    retryIntervalMs: 100,
    inventoryIntervalMs: 60_000,
    script: { overrides: { '0': behaviour } },
  });
  const v: Van = { sim, wire, fleet, mg, deviceId: '' };
  open.push(v);
  await fleet.until((s) => s.booted === 1);
  v.deviceId = fleet.devices()[0]?.deviceId ?? '';
  return v;
}

async function deploy(v: Van): Promise<string> {
  const r = await v.mg.call('POST', '/v1/deployments/deployments', {
    name: 'contract',
    artifact_name: TARGET,
    devices: [v.deviceId],
  });
  expect(r.status).toBe(201);
  v.fleet.pollNow();
  return (r.headers.get('location') ?? '').split('/').pop() ?? '';
}

async function deviceStatus(v: Van, dep: string): Promise<string | undefined> {
  const r = await v.mg.get(`/v1/deployments/deployments/${dep}/devices/list?per_page=10`);
  return (r.json as { id: string; status: string }[]).find((d) => d.id === v.deviceId)?.status;
}

/**
 * The wire's device-API requests, checked against what the simulator itself recorded. Both record a request
 * when its answer is written, so the two logs are compared once they hold the same number of requests.
 */
async function recorded(v: Van): Promise<WireRecord[]> {
  const simLog = () =>
    v.sim
      .requests()
      .filter((r) => r.path.startsWith('/api/devices/'))
      .map((r) => `${r.method} ${r.path} ${r.status}`);
  await v.fleet.until(() => simLog().length === v.wire.records().length);
  const wire = v.wire.records();
  expect(wire.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(simLog());
  return wire;
}

/** Status and log PUTs as `<body> <status>` / `log <status>`, plus re-auths between them. */
function deploymentTalk(records: WireRecord[]): string[] {
  const out: string[] = [];
  let started = false;
  for (const r of records) {
    if (STATUS.test(r.path)) {
      started = true;
      out.push(`${r.body} ${r.status}`);
    } else if (LOG.test(r.path)) out.push(`log ${r.status}`);
    else if (started && r.path === AUTH) out.push(`auth ${r.status}`);
  }
  return out;
}

/**
 * Wait for `pred`, waking the van with `wake` at each check: pollNow / inventoryNow reach only a van that is
 * idle, and with 100 ms polls it may be in the middle of a request when the test asks.
 */
async function nudged(v: Van, wake: 'pollNow' | 'inventoryNow', pred: () => boolean): Promise<void> {
  await v.fleet.until(() => {
    if (pred()) return true;
    v.fleet[wake]();
    return false;
  });
}

const nextAnswers = (records: WireRecord[]) =>
  records.filter((r) => r.path === NEXT_V1 || r.path === NEXT_V2).map((r) => `${r.method} ${r.path} ${r.status}`);

describe('C++ client model (mender-update-5) against RECIPE-current.md', () => {
  it('RECIPE-current §3.2 (d): all scripts exit 0 → downloading, installing, re-auth, installing, success; no substate ever', async () => {
    const v = await van('mender-update-5');
    const dep = await deploy(v);
    await v.fleet.until((s) => s.events.success === 1);
    await v.fleet.until(() => deploymentTalk(v.wire.records()).length === 5);
    expect(deploymentTalk(await recorded(v))).toEqual([
      '{"status":"downloading"} 204',
      '{"status":"installing"} 204',
      'auth 200',
      '{"status":"installing"} 204',
      '{"status":"success"} 204',
    ]);
    // §0: "substates in status bodies: never sent"; the body is exactly {"status":"…"} (deployments.cpp PushStatus).
    for (const r of (await recorded(v)).filter((x) => STATUS.test(x.path)))
      expect(JSON.parse(r.body)).not.toHaveProperty('substate');
    expect(await deviceStatus(v, dep)).toBe('success');
  });

  it('RECIPE-current §3.2 (a): Download_Enter exit 1 → downloading, failure, then the log; never offered again', async () => {
    const v = await van('mender-update-5', { deferral: { polls: 1, reason: 'moving', at: 'Download_Enter' } });
    const dep = await deploy(v);
    await v.fleet.until((s) => s.events.failure === 1);
    const before = nextAnswers(await recorded(v)).length;
    await nudged(v, 'pollNow', () => nextAnswers(v.wire.records()).length >= before + 2);
    const records = await recorded(v);
    expect(deploymentTalk(records)).toEqual(['{"status":"downloading"} 204', '{"status":"failure"} 204', 'log 204']);
    // "It is not retried (the next deployments/next answered 204)."
    expect(nextAnswers(records).slice(before)).toEqual([`POST ${NEXT_V2} 404`, `GET ${NEXT_V1} 204`]);
    expect(await deviceStatus(v, dep)).toBe('failure');
    const log = await v.mg.get(`/v1/deployments/deployments/${dep}/devices/${v.deviceId}/log`);
    expect(log.status).toBe(200);
    expect(log.text).toMatch(/Download_Enter/);
  });

  it('RECIPE-current §3.2 (c): Sync_Leave exit 1 → nothing reported at all; the deployment stays pending and is offered at every poll', async () => {
    const v = await van('mender-update-5', { deferral: { polls: 1_000, reason: 'moving' } });
    const dep = await deploy(v);
    await v.fleet.until(() => (v.fleet.devices()[0]?.deferrals ?? 0) >= 3);
    const records = await recorded(v);
    expect(deploymentTalk(records)).toEqual([]);
    expect(
      records.filter((r) => r.method === 'GET' && r.path === NEXT_V1 && r.status === 200).length,
    ).toBeGreaterThanOrEqual(3);
    expect(await deviceStatus(v, dep)).toBe('pending');
    // The gate's state reaches the server through inventory (at Sync_Leave, the 5.x "not now" state).
    const inv = await v.mg.get(`/v1/inventory/devices/${v.deviceId}`);
    const attrs = (inv.json as { attributes: { name: string; value: unknown }[] }).attributes;
    expect(attrs.find((a) => a.name === 'vancore.gate.state')?.value).toBe('deferred');
    expect(attrs.find((a) => a.name === 'vancore.gate.phase')?.value).toBe('Sync_Leave');
  });

  it('RECIPE-current §3.2 (c), "installs once the script exits 0": after the deferrals the next offer installs', async () => {
    const v = await van('mender-update-5', { deferral: { polls: 2, reason: 'weak_signal' } });
    const dep = await deploy(v);
    await v.fleet.until((s) => s.events.success === 1);
    const records = await recorded(v);
    const firstStatus = records.findIndex((r) => STATUS.test(r.path));
    expect(records.slice(0, firstStatus).filter((r) => r.path === NEXT_V1 && r.status === 200)).toHaveLength(3);
    expect(deploymentTalk(records).filter((x) => !x.startsWith('auth'))).toEqual([
      '{"status":"downloading"} 204',
      '{"status":"installing"} 204',
      '{"status":"installing"} 204',
      '{"status":"success"} 204',
    ]);
    expect(await deviceStatus(v, dep)).toBe('success');
    expect(v.fleet.devices()[0]?.deferrals).toBe(2);
  });

  it('RECIPE-current §3.2 "ArtifactInstall_Enter exit 1" → downloading, installing, failure, then the log', async () => {
    const v = await van('mender-update-5', { outcome: 'failure' });
    const dep = await deploy(v);
    await v.fleet.until((s) => s.events.failure === 1);
    expect(deploymentTalk(await recorded(v))).toEqual([
      '{"status":"downloading"} 204',
      '{"status":"installing"} 204',
      '{"status":"failure"} 204',
      'log 204',
    ]);
    expect(await deviceStatus(v, dep)).toBe('failure');
  });

  it("RECIPE-current §4 (exit 1 in ArtifactCommit_Enter → rollback + failure chain, managed: failure + log) after §3.2 (d)'s re-auth and second installing", async () => {
    const v = await van('mender-update-5', { outcome: 'rollback' });
    const dep = await deploy(v);
    await v.fleet.until((s) => s.events.rolled_back === 1);
    expect(deploymentTalk(await recorded(v))).toEqual([
      '{"status":"downloading"} 204',
      '{"status":"installing"} 204',
      'auth 200',
      '{"status":"installing"} 204',
      '{"status":"failure"} 204',
      'log 204',
    ]);
    expect(await deviceStatus(v, dep)).toBe('failure');
  });

  it('RECIPE-current §3.2 "Requests in every managed run": auth with "tier":"standard" and an Ed25519 key; deployments/next v2 with device_provides (404 → GET v1, deployments.cpp)', async () => {
    const v = await van('mender-update-5');
    const records = await recorded(v);
    const auth = records.find((r) => r.path === AUTH);
    const body = JSON.parse(auth?.body ?? '{}') as { id_data: string; pubkey: string; tier: string };
    expect(body.tier).toBe('standard');
    expect(createPublicKey(body.pubkey).asymmetricKeyType).toBe('ed25519');
    expect(JSON.parse(body.id_data)).toEqual({ mac: v.fleet.devices()[0]?.identity.mac, van_id: 'van-00000' });
    // "At startup the daemon runs an inventory cycle immediately, then a deployment check."
    expect(records.slice(0, 4).map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST ${AUTH}`,
      `PUT ${INVENTORY}`,
      `POST ${NEXT_V2}`,
      `GET ${NEXT_V1}`,
    ]);
    const next = records.find((r) => r.path === NEXT_V2);
    expect(JSON.parse(next?.body ?? '{}')).toEqual({
      device_provides: {
        device_type: 'vanpc',
        artifact_name: FACTORY,
        'vancore.platform.version': '0.9.0',
        'vancore.app.version': '1.3.0',
      },
    });
    const v1 = records.find((r) => r.path === NEXT_V1);
    expect(new URL(v1?.url ?? '', 'http://x').searchParams.toString()).toBe(
      `artifact_name=${FACTORY}&device_type=vanpc`,
    );
  });

  it('RECIPE-current §3.3 "inventory method": one PUT of the whole set, sorted by name, every value a string (lists for repeated keys), with mender_client_version and its provider', async () => {
    const v = await van('mender-update-5');
    const puts = (await recorded(v)).filter((r) => r.path === INVENTORY);
    expect(puts.map((r) => `${r.method} ${r.status}`)).toEqual(['PUT 200']);
    const attrs = JSON.parse(puts[0]?.body ?? '[]') as { name: string; value: unknown }[];
    const names = attrs.map((a) => a.name);
    expect(names).toEqual([...names].sort());
    for (const a of attrs)
      expect(
        typeof a.value === 'string' || (Array.isArray(a.value) && a.value.every((x) => typeof x === 'string')),
      ).toBe(true);
    const get = (n: string) => attrs.find((a) => a.name === n)?.value;
    expect(get('mender_client_version')).toBe('5.1.0');
    expect(get('mender_client_version_provider')).toBe('internal');
    expect(get('vancore.client')).toBe('mender-update/5.1.0');
    expect(get('update_modules')).toEqual(['vancore-compose', 'vancore-config', 'vancore-vpn']);
  });

  it('RECIPE-current §3.3 "unchanged inventory" → skipped; "changed inventory" → PUT at the next cycle', async () => {
    const v = await van('mender-update-5', { deferral: { polls: 1_000, reason: 'low_battery' } });
    const puts = () => v.wire.records().filter((r) => r.path === INVENTORY).length;
    await nudged(v, 'inventoryNow', () => v.fleet.stats().inventoryUnchanged >= 2);
    expect(puts()).toBe(1);
    // The gate defers: vancore.gate.* and the battery change, so the next cycle sends the set.
    await deploy(v);
    await v.fleet.until(() => puts() === 2);
    const last = (await recorded(v)).filter((r) => r.path === INVENTORY)[1];
    expect(last?.body).toContain('"name":"vancore.gate.state","value":"deferred"');
  });

  it('RECIPE-current §3.3 "after a re-authentication" → the identical payload is PUT again', async () => {
    const v = await van('mender-update-5');
    const puts = () => v.wire.records().filter((r) => r.path === INVENTORY);
    await nudged(v, 'inventoryNow', () => v.fleet.stats().inventoryUnchanged >= 1);
    expect(puts()).toHaveLength(1);
    // A 401 on the next update check: the van re-authenticates (a new token clears the inventory cache).
    v.sim.injectFaults({ match: /deployments\/next/, status: 401, count: 1 });
    await nudged(v, 'pollNow', () => v.wire.records().filter((r) => r.path === AUTH).length === 2);
    await nudged(v, 'inventoryNow', () => puts().length === 2);
    const [first, second] = (await recorded(v)).filter((r) => r.path === INVENTORY);
    expect(second?.body).toBe(first?.body);
  });
});

describe('the 3.4 model beside it (RECIPE-current §0 and §6, the same questions on the Go client)', () => {
  it('RECIPE-current §6 "Download_Enter exits 1": no failure, no log, fetched again at the next poll, installs once it exits 0 (the model leaves out the substate PUTs)', async () => {
    const v = await van('mender-3', { deferral: { polls: 2, reason: 'moving' } });
    const dep = await deploy(v);
    await v.fleet.until((s) => s.events.success === 1);
    const records = await recorded(v);
    const firstStatus = records.findIndex((r) => STATUS.test(r.path));
    expect(records.slice(0, firstStatus).filter((r) => r.path === NEXT_V1 && r.status === 200)).toHaveLength(3);
    expect(records.filter((r) => LOG.test(r.path))).toEqual([]);
    expect(deploymentTalk(records).filter((x) => x.includes('"failure"'))).toEqual([]);
    expect(await deviceStatus(v, dep)).toBe('success');
  });

  it('RECIPE-current §0 "inventory" and "status before Download_Enter": 3.4 PUTs inventory every cycle, sends rebooting, bodies end with a newline', async () => {
    const v = await van('mender-3');
    await nudged(v, 'inventoryNow', () => v.wire.records().filter((r) => r.path === INVENTORY).length === 2);
    await deploy(v);
    await v.fleet.until((s) => s.events.success === 1);
    expect(deploymentTalk(await recorded(v))).toEqual([
      '{"status":"downloading"}\n 204',
      '{"status":"installing"}\n 204',
      '{"status":"rebooting"}\n 204',
      'auth 200',
      '{"status":"installing"}\n 204',
      '{"status":"success"}\n 204',
    ]);
  });
});
