import { describe, expect, it } from 'vitest';
import { parseDeviceTypeFile } from '../../../core/schemas/client.js';
import { formatInventoryLines, parseInventory } from '../../../core/schemas/inventory.js';
import {
  gatherInventory,
  inventoryEntries,
  within,
  type InventoryFacts,
} from '../../../agent-hooks/inventory/inventory.js';
import { cpuTempFromZones, mountFor } from '../../../agent-hooks/inventory/si-probes.js';
import { hostPaths } from '../../../core/host-paths.js';
import type { ReasonCode } from '../../../core/reason-codes.js';
import { DeviceConfig } from '../../../core/config/device-config.js';

const NOW = new Date('2026-11-22T10:00:00Z');
const GiB = 1024 ** 3;

function facts(over: Partial<InventoryFacts> = {}): InventoryFacts {
  return {
    now: NOW,
    vanId: 'van-0042',
    versions: { platform: '0.9.2', config: '1.4.0' },
    disk: { availableBytes: 20 * GiB, sizeBytes: 100 * GiB },
    cpuTempC: 52.25,
    memory: { availableBytes: 2 * GiB, totalBytes: 8 * GiB },
    readings: {
      signal: { quality: 0.781, at: '2026-11-22T09:59:30Z' },
      power: { battery_soc_pct: 81.6, shore_power: false, at: '2026-11-22T09:58:00Z' },
    },
    staleness: { signal_seconds: 120, power_seconds: 300 },
    lastUpdate: null,
    gate: null,
    vpn: null,
    client: null,
    ...over,
  };
}

const attrs = (lines: string[]) =>
  lines.map((l) => {
    const i = l.indexOf('=');
    return { name: l.slice(0, i), value: l.slice(i + 1), scope: 'inventory' };
  });

describe('inventoryEntries', () => {
  it('prints every documented key that has a value, and the bridge parses all of them', () => {
    const { lines } = formatInventoryLines(
      inventoryEntries(
        facts({
          lastUpdate: {
            status: 'success',
            component: 'platform',
            version: '0.9.2',
            artifact_name: 'a',
            at: '2026-11-22T09:00:00Z',
          },
          gate: {
            last: {
              phase: 'Download_Enter',
              verdict: 'defer',
              state: 'deferred',
              exit_code: 1,
              reasons: [{ code: 'moving', message: 'the van is moving' }],
              facts: {},
              at: '2026-11-22T09:59:00Z',
              since: '2026-11-22T09:50:00Z',
            },
            phases: {},
            history_lines: 1,
          },
          vpn: { state: 'dual', step: 'verify' },
          client: { flavour: 'mender-update-5', version: '5.1.0' },
        }),
      ).valueOf() as Record<string, string>,
    );
    const parsed = parseInventory(attrs(lines));
    expect(parsed.dropped).toEqual([]);
    expect(parsed.vancore).toEqual({
      van_id: 'van-0042',
      components: { config: '1.4.0', platform: '0.9.2' },
      health: {
        disk_ok: true,
        temp_ok: true,
        signal_quality: 0.78,
        battery_soc: 82,
        shore_power: false,
        last_update_status: 'success',
      },
      gate: {
        state: 'deferred',
        phase: 'Download_Enter',
        reason: 'moving: the van is moving',
        codes: 'moving',
        since: '2026-11-22T09:50:00Z',
      },
      vpn: { state: 'dual', step: 'verify' },
      // No soak.json in these facts (the soak keys: test/unit/agent-hooks/soak.test.ts).
      data: {},
      soak: {},
      client: 'mender-update/5.1.0',
    });
    expect(lines).toContain('vancore.client=mender-update/5.1.0');
    expect(parsed.extra).toEqual({
      'health.disk_free_mb': '20480',
      'health.mem_available_mb': '2048',
      'health.cpu_temp_c': '52.3',
    });
  });

  it('gate keys follow the published view: a new message with the same codes changes nothing', () => {
    const decision = (message: string, code: ReasonCode = 'settling') => ({
      phase: 'Sync_Leave' as const,
      verdict: 'defer' as const,
      state: 'deferred' as const,
      exit_code: 1 as const,
      reasons: [{ code, message }],
      facts: {},
      at: '2026-11-22T09:59:00Z',
      since: '2026-11-22T09:50:00Z',
    });
    const first = decision('stationary for 10 s, needs 5 min');
    const published = {
      phase: 'Sync_Leave' as const,
      state: 'deferred' as const,
      codes: ['settling'],
      reason: 'settling: stationary for 10 s, needs 5 min',
      since: first.since,
    };
    const gateKeys = (last: ReturnType<typeof decision>) =>
      Object.entries(inventoryEntries(facts({ gate: { last, phases: {}, history_lines: 2, published } }))).filter(
        ([k]) => k.startsWith('vancore.gate.'),
      );
    expect(gateKeys(decision('stationary for 50 s, needs 5 min'))).toEqual(gateKeys(first));
    expect(gateKeys(first)).toContainEqual(['vancore.gate.phase', 'Sync_Leave']);
  });

  it.each<[string, Partial<InventoryFacts>, Record<string, unknown>]>([
    [
      'a broken temperature sensor leaves temp_ok out',
      { cpuTempC: undefined },
      { 'vancore.health.temp_ok': undefined },
    ],
    ['a hot CPU', { cpuTempC: 91 }, { 'vancore.health.temp_ok': false }],
    [
      'little free space',
      { disk: { availableBytes: 0.5 * GiB, sizeBytes: 100 * GiB } },
      { 'vancore.health.disk_ok': false },
    ],
    [
      'under 5 % free',
      { disk: { availableBytes: 4 * GiB, sizeBytes: 100 * GiB } },
      { 'vancore.health.disk_ok': false },
    ],
    [
      'stale signal and power readings are unknown',
      { now: new Date('2026-11-22T11:00:00Z') },
      { 'vancore.health.signal_quality': undefined, 'vancore.health.battery_soc': undefined },
    ],
    ['no gate journal: phase none, no state', {}, { 'vancore.gate.phase': 'none', 'vancore.gate.state': undefined }],
    ['no vpn.json: unknown', {}, { 'vancore.vpn.state': 'unknown', 'vancore.vpn.step': undefined }],
    ['no update yet', {}, { 'vancore.health.last_update_status': 'none' }],
    ['no van id', { vanId: undefined }, { 'vancore.van_id': undefined }],
  ])('%s', (_what, over, want) => {
    const e = inventoryEntries(facts(over));
    for (const [k, v] of Object.entries(want)) expect(e[k]).toBe(v);
  });
});

describe('device_type for the C++ client (RECIPE-current §3.3: it sends only what scripts print)', () => {
  it.each([
    ['device_type=vanpc\n', 'vanpc'],
    ['device_type=van-pc_2.x', 'van-pc_2.x'],
    ['', undefined],
    ['device_type=\n', undefined],
    ['device_type=a b\n', undefined],
  ])('parses %j', (text, want) => {
    expect(parseDeviceTypeFile(text)).toBe(want);
  });

  it('is printed for mender-update 5.x only (the Go client 3.x sends it itself)', () => {
    const five = inventoryEntries(
      facts({ client: { flavour: 'mender-update-5', version: '5.1.0' }, deviceType: 'vanpc' }),
    );
    expect(five['device_type']).toBe('vanpc');
    const three = inventoryEntries(facts({ client: { flavour: 'mender-3', version: '3.4.0' }, deviceType: 'vanpc' }));
    expect(three['device_type']).toBeUndefined();
  });
});

describe('gatherInventory with broken sensors and files', () => {
  const ctx = (state: string) => ({
    paths: hostPaths('/nonexistent-root'),
    config: DeviceConfig.parse({}),
    configPath: '/nonexistent',
    stateDir: state,
  });

  it('a throwing or hanging probe only drops its own keys', async () => {
    const warn: string[] = [];
    const f = await gatherInventory(ctx('/nonexistent-state'), {
      now: NOW,
      probeTimeoutMs: 50,
      warn: (m) => warn.push(m),
      probes: {
        disk: () => Promise.reject(new Error('df: /dev/sda: input/output error')),
        cpuTempC: () => new Promise(() => undefined),
        memory: () => Promise.resolve({ availableBytes: GiB, totalBytes: 4 * GiB }),
      },
    });
    expect(f.disk).toBeUndefined();
    expect(f.cpuTempC).toBeUndefined();
    expect(f.memory).toEqual({ availableBytes: GiB, totalBytes: 4 * GiB });
    const { lines } = formatInventoryLines(inventoryEntries(f));
    for (const l of lines) expect(l).toMatch(/^[A-Za-z0-9_.-]+=[^\n]*$/);
  });

  it('within() gives undefined for a rejection or a timeout, the value otherwise', async () => {
    expect(await within(Promise.resolve(3), 50)).toBe(3);
    expect(await within(Promise.reject(new Error('x')), 50)).toBeUndefined();
    expect(await within(new Promise(() => undefined), 20)).toBeUndefined();
  });
});

describe('mountFor', () => {
  it.each([
    ['/var/lib/vancore-ota', '/var'],
    ['/data/x', '/data'],
    ['/datax', '/'],
    ['/', '/'],
  ])('%s is on %s', (path, mount) => {
    expect(mountFor([{ mount: '/' }, { mount: '/var' }, { mount: '/data' }], path)?.mount).toBe(mount);
  });
});

describe('cpuTempFromZones', () => {
  it.each<[string, { type: string; temp: string }[], number | undefined]>([
    [
      'the CPU package zone',
      [
        { type: 'acpitz\n', temp: '27800\n' },
        { type: 'x86_pkg_temp\n', temp: '61000\n' },
      ],
      61,
    ],
    ['any zone when none is the CPU', [{ type: 'acpitz', temp: '27800' }], 27.8],
    [
      'a zone reading garbage is skipped',
      [
        { type: 'x86_pkg_temp', temp: 'read error' },
        { type: 'acpitz', temp: '30000' },
      ],
      30,
    ],
    ['an absurd reading is a broken sensor', [{ type: 'x86_pkg_temp', temp: '255000' }], undefined],
    ['no zones', [], undefined],
  ])('%s', (_what, zones, want) => {
    expect(cpuTempFromZones(zones)).toBe(want);
  });
});
