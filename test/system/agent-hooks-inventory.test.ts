// The identity and inventory scripts under the real mender-client 3.4 daemon, against the simulator:
// the device authenticates with our identity (van_id + MAC), and every documented inventory key
// reaches the server. With broken sensors and corrupt files the script still prints only lines the
// client accepts (one bad line would make it drop the whole output, RECIPE §7).
import { copyFile, chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { InventoryKeys, parseInventory } from '../../core/schemas/inventory.js';
import { copyBuiltHooks } from '../integration/agent-hooks/support/bundles.js';
import { systemTest, type Bed } from './harness/bed.js';

const MAC = '02:aa:bb:cc:dd:03';
const STATE = 'var/lib/vancore-ota';

let work: string;
let hooks: Record<'identity/mender-device-identity' | 'inventory/mender-inventory-vancore', string>;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-sys-inventory-'));
  hooks = await copyBuiltHooks(join(work, 'hooks'), [
    'identity/mender-device-identity',
    'inventory/mender-inventory-vancore',
  ]);
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function vanRoot(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(work, 'van-'));
  const nic = join(root, 'sys/class/net/enp1s0');
  await mkdir(join(nic, 'device'), { recursive: true });
  for (const [f, v] of Object.entries({ address: MAC, ifindex: '2', type: '1', addr_assign_type: '0' })) {
    await writeFile(join(nic, f), `${v}\n`);
  }
  for (const [p, content] of Object.entries(files)) {
    await mkdir(join(root, p, '..'), { recursive: true });
    await writeFile(join(root, p), content);
  }
  return root;
}

/** A managed sandbox running our identity and inventory scripts; returns the device's attributes once ours arrived. */
async function inventoryOf(bed: Bed, root: string, marker: (attrs: Map<string, unknown>) => boolean) {
  const dev = await bed.managedDevice({ sim: { autoAccept: true }, sandbox: { identity: { mac: MAC } } });
  const identity = join(dev.sb.shareDir, 'identity/mender-device-identity');
  await copyFile(hooks['identity/mender-device-identity'], identity);
  await chmod(identity, 0o755);
  const inventory = join(dev.sb.shareDir, 'inventory/mender-inventory-vancore');
  await copyFile(hooks['inventory/mender-inventory-vancore'], inventory);
  await chmod(inventory, 0o755);
  const daemon = bed.startDaemon(dev.sb, { env: { VANCORE_OTA_ROOT: root } });
  const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });
  const attrs = await bed.waitFor(
    async () => {
      const list = (await dev.mgmt.inventoryDevice(deviceId)).attributes ?? [];
      const m = new Map(list.filter((a) => (a.scope ?? 'inventory') === 'inventory').map((a) => [a.name, a.value]));
      return marker(m) ? list : undefined;
    },
    { describe: 'the VanCore inventory in the simulator', daemon, timeoutMs: 30_000 },
  );
  const device = await dev.mgmt.device(deviceId);
  await daemon.stop();
  return { attrs, device };
}

describe('identity and inventory through the real client', () => {
  systemTest(
    'every documented inventory key reaches the simulator, with the identity it authenticated with',
    async ({ bed }) => {
      const now = new Date().toISOString();
      const root = await vanRoot({
        'etc/vancore/van-id': 'van-0042\n',
        // What device install records for Debian's client (the version is the real mender --version).
        'etc/vancore/mender-client.json': '{"flavour":"mender-3","version":"3.4.0+ds1-5+b1"}\n',
        'sys/class/thermal/thermal_zone0/type': 'x86_pkg_temp\n',
        'sys/class/thermal/thermal_zone0/temp': '58000\n',
        [`${STATE}/versions.json`]: '{"platform":"0.9.2","config":"1.4.0"}',
        [`${STATE}/last-update.json`]: JSON.stringify({
          status: 'success',
          component: 'platform',
          version: '0.9.2',
          artifact_name: 'a',
          at: now,
        }),
        [`${STATE}/readings.json`]: JSON.stringify({
          signal: { quality: 0.7, at: now },
          power: { battery_soc_pct: 64, shore_power: true, at: now },
        }),
        [`${STATE}/gate.json`]: JSON.stringify({
          last: {
            phase: 'Download_Enter',
            verdict: 'defer',
            state: 'deferred',
            exit_code: 1,
            reasons: [{ code: 'moving', message: 'the van is moving (imu, 4 s ago)' }],
            facts: {},
            at: now,
            since: now,
          },
          phases: {},
          history_lines: 1,
        }),
        [`${STATE}/vpn.json`]: '{"state":"dual","step":"verify"}',
        // A regressed post-commit soak (agent-hooks/soak/) and a modem (cellular data this month).
        [`${STATE}/soak.json`]: JSON.stringify({
          artifact_name: 'a',
          committed_at: now,
          state: 'regressed',
          until: now,
          reason: 'soak_container_restarts: app restarted 4 times',
          checked_at: now,
          restarts_at_start: {},
          cloud_ok_at: now,
        }),
        'sys/class/net/wwan0/uevent': 'DEVTYPE=wwan\nINTERFACE=wwan0\n',
        'sys/class/net/wwan0/statistics/rx_bytes': '1000\n',
        'sys/class/net/wwan0/statistics/tx_bytes': '500\n',
        'proc/sys/kernel/random/boot_id': 'boot-1\n',
      });
      const { attrs, device } = await inventoryOf(bed, root, (m) => m.has('vancore.vpn.step'));
      const names = new Set(attrs.map((a) => a.name));
      for (const key of InventoryKeys) expect(names, key).toContain(key);
      expect(names).toContain('vancore.platform.version');
      const parsed = parseInventory(attrs);
      expect(parsed.dropped).toEqual([]);
      expect(parsed.vancore).toMatchObject({
        van_id: 'van-0042',
        components: { platform: '0.9.2', config: '1.4.0' },
        health: {
          temp_ok: true,
          signal_quality: 0.7,
          battery_soc: 64,
          shore_power: true,
          last_update_status: 'success',
        },
        gate: { state: 'deferred', phase: 'Download_Enter', reason: 'moving: the van is moving (imu, 4 s ago)' },
        vpn: { state: 'dual', step: 'verify' },
        client: 'mender/3.4.0+ds1-5+b1',
      });
      expect(device.identity_data).toEqual({ mac: MAC, van_id: 'van-0042' });
    },
  );

  systemTest('a broken temperature sensor and corrupt state files: the output is still accepted', async ({ bed }) => {
    const root = await vanRoot({
      'etc/vancore/van-id': 'van-0043\n',
      'sys/class/thermal/thermal_zone0/type': 'x86_pkg_temp\n',
      'sys/class/thermal/thermal_zone0/temp': 'read error: -EIO\n',
      [`${STATE}/versions.json`]: '{"platform":"0.9.2\\n=x","app":"1.4.0"}',
      [`${STATE}/last-update.json`]: 'garbage',
      [`${STATE}/readings.json`]: '{"signal":{"quality":7}}',
      [`${STATE}/gate.json`]: '{"last":{"phase":"Download_Enter"}}',
      [`${STATE}/vpn.json`]: '\u0000\u0001',
    });
    // vpn.state=unknown arriving proves the client took our whole output (it drops all or nothing).
    const { attrs } = await inventoryOf(bed, root, (m) => m.get('vancore.vpn.state') === 'unknown');
    const parsed = parseInventory(attrs);
    expect(parsed.dropped).toEqual([]);
    expect(parsed.vancore.van_id).toBe('van-0043');
    expect(parsed.vancore.components).toEqual({ app: '1.4.0' });
    expect(parsed.vancore.health.last_update_status).toBe('none');
    expect(parsed.vancore.gate).toEqual({ phase: 'none' });
    // This machine has no CPU temperature sensor either, so temp_ok is simply absent.
    expect(parsed.vancore.health.temp_ok).toBeUndefined();
    expect(parsed.vancore.health.signal_quality).toBeUndefined();
  });
});
