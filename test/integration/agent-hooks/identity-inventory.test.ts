// The identity and inventory scripts as real processes on temp van roots (sysfs, /etc/vancore and
// the state dir built per test): every output line must be a key=value line the client accepts,
// whatever state the files are in (RECIPE §7: one bad line drops the whole script's output).
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../../core/schemas/inventory.js';
import { copyBuiltHooks } from './support/bundles.js';

let work: string;
let identity: string;
let inventory: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-hooks-it-'));
  const built = await copyBuiltHooks(join(work, 'hooks'), [
    'identity/mender-device-identity',
    'inventory/mender-inventory-vancore',
  ]);
  identity = built['identity/mender-device-identity'];
  inventory = built['inventory/mender-inventory-vancore'];
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function nic(root: string, name: string, o: { index: number; mac: string; physical?: boolean; type?: number }) {
  const dir = join(root, 'sys/class/net', name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'address'), `${o.mac}\n`);
  await writeFile(join(dir, 'ifindex'), `${o.index}\n`);
  await writeFile(join(dir, 'type'), `${o.type ?? 1}\n`);
  await writeFile(join(dir, 'addr_assign_type'), '0\n');
  if (o.physical !== false) await mkdir(join(dir, 'device'));
}

async function van(files: Record<string, string> = {}): Promise<string> {
  const root = await mkdtemp(join(work, 'root-'));
  await nic(root, 'lo', { index: 1, mac: '00:00:00:00:00:00', physical: false, type: 772 });
  await nic(root, 'docker0', { index: 2, mac: '02:42:ac:11:00:01', physical: false });
  await nic(root, 'wlan0', { index: 4, mac: '02:aa:bb:cc:dd:04' });
  await nic(root, 'enp1s0', { index: 3, mac: '02:aa:bb:cc:dd:03' });
  for (const [p, content] of Object.entries(files)) {
    await mkdir(join(root, p, '..'), { recursive: true });
    await writeFile(join(root, p), content);
  }
  return root;
}

function run(script: string, root: string) {
  const r = spawnSync(script, [], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, VANCORE_OTA_ROOT: root },
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const LINE = /^[A-Za-z0-9_.-]+=[^\n]*$/;

function attributes(stdout: string) {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      expect(l).toMatch(LINE);
      const i = l.indexOf('=');
      return { name: l.slice(0, i), value: l.slice(i + 1), scope: 'inventory' };
    });
}

describe('mender-device-identity', () => {
  it('prints van_id and the MAC of the lowest-index physical interface, the same every time', async () => {
    const root = await van({ 'etc/vancore/van-id': 'van-0042\n' });
    const a = run(identity, root);
    expect(a).toMatchObject({ code: 0, stdout: 'mac=02:aa:bb:cc:dd:03\nvan_id=van-0042\n', stderr: '' });
    expect(run(identity, root).stdout).toBe(a.stdout);
  });

  it('ota.yaml van_id wins over /etc/vancore/van-id', async () => {
    const root = await van({ 'etc/vancore/van-id': 'van-0042\n', 'etc/vancore/ota.yaml': 'van_id: van-0381\n' });
    expect(run(identity, root).stdout).toBe('mac=02:aa:bb:cc:dd:03\nvan_id=van-0381\n');
  });

  it.each([
    ['no van id', {}, 'mender-device-identity: no van id: set van_id in ota.yaml or write it to /etc/vancore/van-id\n'],
    [
      'a broken ota.yaml',
      { 'etc/vancore/van-id': 'van-1\n', 'etc/vancore/ota.yaml': 'van_id: [\n' },
      /^mender-device-identity: invalid YAML in .*ota.yaml line 2/,
    ],
  ])('%s: exit 1, one stderr line, nothing on stdout', async (_what, files, line) => {
    const r = run(identity, await van(files));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    if (typeof line === 'string') expect(r.stderr).toBe(line);
    else expect(r.stderr).toMatch(line);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('mender-inventory-vancore', () => {
  const state = 'var/lib/vancore-ota';

  it('a van with every source present: every documented key, all accepted by the bridge parser', async () => {
    const now = new Date().toISOString();
    const root = await van({
      'etc/vancore/van-id': 'van-0042\n',
      [`${state}/versions.json`]: '{"platform":"0.9.2","config":"1.4.0"}',
      [`${state}/last-update.json`]: JSON.stringify({
        status: 'success',
        component: 'platform',
        version: '0.9.2',
        artifact_name: 'a',
        at: now,
      }),
      [`${state}/readings.json`]: JSON.stringify({
        signal: { quality: 0.7, at: now },
        power: { battery_soc_pct: 64, shore_power: true, at: now },
      }),
      [`${state}/gate.json`]: JSON.stringify({
        last: {
          phase: 'ArtifactInstall_Enter',
          verdict: 'retry',
          state: 'deferred',
          exit_code: 21,
          reasons: [{ code: 'battery_low', message: 'battery 12 % < 30 %\nand falling=fast' }],
          facts: {},
          at: now,
          since: now,
        },
        phases: {},
        history_lines: 3,
      }),
      [`${state}/vpn.json`]: '{"state":"dual","step":"verify"}',
    });
    const r = run(inventory, root);
    expect(r.code).toBe(0);
    const parsed = parseInventory(attributes(r.stdout));
    expect(parsed.dropped).toEqual([]);
    expect(parsed.vancore.van_id).toBe('van-0042');
    expect(parsed.vancore.components).toEqual({ config: '1.4.0', platform: '0.9.2' });
    expect(typeof parsed.vancore.health.disk_ok).toBe('boolean');
    expect(parsed.vancore.health).toMatchObject({
      signal_quality: 0.7,
      battery_soc: 64,
      shore_power: true,
      last_update_status: 'success',
    });
    expect(parsed.vancore.gate).toEqual({
      state: 'deferred',
      phase: 'ArtifactInstall_Enter',
      reason: 'battery_low: battery 12 % < 30 % and falling=fast',
      codes: 'battery_low',
      since: now,
    });
    expect(parsed.vancore.vpn).toEqual({ state: 'dual', step: 'verify' });
  });

  it.each<[string, Record<string, string>]>([
    ['nothing at all (fresh van, no state dir)', {}],
    [
      'corrupt files everywhere',
      {
        'etc/vancore/van-id': 'not a van id\nvan_id=evil\n',
        [`${state}/versions.json`]: '{"platform":"0.9.2\\n=x","Bad Name":"1.0.0","app":"1.4.0"}',
        [`${state}/last-update.json`]: '{"status":"exploded"}',
        [`${state}/readings.json`]: '{{{',
        [`${state}/gate.json`]: '{"last": 42}',
        [`${state}/vpn.json`]: '{"state":"tailscale\\nvancore.van_id=x","step":"add"}',
      },
    ],
    ['binary garbage', { [`${state}/versions.json`]: '\u0000\u00ff\u0001', [`${state}/gate.json`]: '\u0000' }],
  ])('%s: only well-formed lines, none the bridge drops as malformed', async (_what, files) => {
    const r = run(inventory, await van(files));
    expect(r.code).toBe(0);
    const attrs = attributes(r.stdout);
    const parsed = parseInventory(attrs);
    // The van id is the only value that can be bad here, and it must be left out, not printed.
    expect(parsed.dropped).toEqual([]);
    expect(parsed.vancore.vpn.state).toBe('unknown');
    expect(parsed.vancore.health.last_update_status).toBe('none');
    expect(parsed.vancore.gate.phase).toBe('none');
    if (files[`${state}/versions.json`]?.includes('app')) expect(parsed.vancore.components).toEqual({ app: '1.4.0' });
  });
  it('cellular data this month: the wwan counters add up across runs and a reboot; no modem, no keys', async () => {
    const root = await van({ 'proc/sys/kernel/random/boot_id': 'boot-1\n' });
    const noModem = parseInventory(attributes(run(inventory, root).stdout));
    expect(noModem.vancore.data).toEqual({});
    const wwan = join(root, 'sys/class/net/wwan0');
    await mkdir(join(wwan, 'statistics'), { recursive: true });
    await writeFile(join(wwan, 'uevent'), 'DEVTYPE=wwan\nINTERFACE=wwan0\n');
    const counters = async (rx: number, tx: number) => {
      await writeFile(join(wwan, 'statistics/rx_bytes'), `${rx}\n`);
      await writeFile(join(wwan, 'statistics/tx_bytes'), `${tx}\n`);
    };
    const month = new Date().toISOString().slice(0, 7);
    const data = () => {
      const r = run(inventory, root);
      expect(r.code).toBe(0);
      const parsed = parseInventory(attributes(r.stdout));
      expect(parsed.dropped).toEqual([]);
      return parsed.vancore.data;
    };
    await counters(5_000_000, 1_000_000);
    expect(data()).toEqual({ month, month_bytes: 0 }); // the first run is the baseline
    await counters(7_000_000, 1_500_000);
    expect(data()).toEqual({ month, month_bytes: 2_500_000 });
    // A reboot: the counters start again from 0; everything since is this month's.
    await writeFile(join(root, 'proc/sys/kernel/random/boot_id'), 'boot-2\n');
    await counters(300_000, 100_000);
    expect(data()).toEqual({ month, month_bytes: 2_900_000 });
    // The wired and Wi-Fi interfaces never count, however busy.
    await mkdir(join(root, 'sys/class/net/wlan0/statistics'), { recursive: true });
    await writeFile(join(root, 'sys/class/net/wlan0/statistics/rx_bytes'), '900000000\n');
    await writeFile(join(root, 'sys/class/net/wlan0/statistics/tx_bytes'), '900000000\n');
    expect(data()).toEqual({ month, month_bytes: 2_900_000 });
  });
});
