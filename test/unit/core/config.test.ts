import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BridgeConfig } from '../../../core/config/bridge-config.js';
import { DeviceConfig } from '../../../core/config/device-config.js';
import { loadConfigFile, parseConfig, parseYamlText } from '../../../core/config/load.js';
import { VanError } from '../../../core/errors.js';

const root = join(import.meta.dirname, '../../..');

function errorOf(fn: () => unknown): VanError {
  try {
    fn();
  } catch (e) {
    if (e instanceof VanError) return e;
    throw e;
  }
  throw new Error('expected a VanError');
}

describe('device config (ota.yaml)', () => {
  it('has the VanCore spec defaults when empty', () => {
    const c = parseConfig(DeviceConfig, {}, 'test');
    expect(c.state_dir).toBe('/var/lib/vancore-ota');
    expect(c.download).toMatchObject({
      must_be_stationary: true,
      stationary_minutes: 3,
      min_signal_quality: 0.6,
      min_battery_soc: 30,
      shore_power_overrides_battery: true,
      maintenance_window: null,
    });
    expect(c.staleness).toEqual({ motion_seconds: 30, signal_seconds: 120, power_seconds: 300 });
    expect(c.sensors.imu.sample_hz).toBe(10);
    expect(c.sensors.probe).toEqual({ count: 5, timeout_ms: 2000 });
    expect(Object.isFrozen(c.download)).toBe(true);
  });

  it('validates the shipped example deploy/device/ota.yaml', async () => {
    const c = await loadConfigFile(DeviceConfig, join(root, 'deploy/device/ota.yaml'), { missingMeansDefaults: false });
    expect(c.download.maintenance_window).toEqual({
      days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
      start: '22:00',
      end: '06:00',
      timezone: 'local',
    });
    expect(c.validation.health_checks).toHaveLength(2);
    expect(c.sensors.home_assistant?.entities.battery_soc).toBe('sensor.victron_battery_soc');
  });

  it('a missing file means the defaults; an unreadable one is an error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vc-cfg-'));
    const c = await loadConfigFile(DeviceConfig, join(dir, 'absent.yaml'), { missingMeansDefaults: true });
    expect(c.install_wait_budget_seconds).toBe(1800);
    await expect(
      loadConfigFile(DeviceConfig, join(dir, 'absent.yaml'), { missingMeansDefaults: false }),
    ).rejects.toThrow(/cannot read config .*absent\.yaml: ENOENT/);
  });

  it.each([
    ['a typo in a key', { download: { min_signal_qualty: 0.5 } }, 'download: unknown key: min_signal_qualty'],
    [
      'a health check with neither command nor url',
      { validation: { health_checks: [{ name: 'x' }] } },
      'validation.health_checks[0]: does not match any allowed form',
    ],
    [
      'an unknown motion source',
      { sensors: { motion_sources: ['sonar'] } },
      'sensors.motion_sources[0]: must be one of: "imu", "gnss", "home_assistant", "file"',
    ],
    ['a non-http server url', { mender: { server_url: 'mender.example' } }, 'mender.server_url: must be a URL'],
  ])('rejects %s in one line', (_n, raw, line) => {
    const e = errorOf(() => parseConfig(DeviceConfig, raw, 'ota.yaml'));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(`invalid config ota.yaml: ${line}`);
  });
});

describe('bridge config (bridge.yaml)', () => {
  it('has defaults for a loopback lab', () => {
    const c = parseConfig(BridgeConfig, {}, 'test');
    expect(c.http).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(c.database.url).toBe('sqlite:./data/vancore-bridge.db');
    expect(c.auth.tokens).toEqual([]);
    expect(c.clock.speed).toBe(1);
    expect(c.rollout).toMatchObject({
      wave_percent: 5,
      wave_interval_hours: 24,
      soak_hours: { internal: 24, pilot: 72 },
    });
  });

  it('validates the shipped example deploy/bridge/bridge.yaml', async () => {
    const c = await loadConfigFile(BridgeConfig, join(root, 'deploy/bridge/bridge.yaml'), {
      missingMeansDefaults: false,
    });
    expect(c.database.url).toMatch(/^postgres:/);
    expect(c.rollout.spread_by_tag).toBe('region');
    expect(c.auth.tokens.map((t) => t.role)).toEqual(['support', 'ops']);
  });

  it.each([
    ['a wave over 10 %', { rollout: { wave_percent: 25 } }, 'rollout.wave_percent: must be ≤ 10'],
    [
      'two token sources',
      { mender: { token: 'abc', token_file: '/x' } },
      'mender: give at most one of token, token_file, token_env',
    ],
    ['a mysql url', { database: { url: 'mysql://x' } }, 'database.url: must be sqlite:<file> or postgres://…'],
    [
      'a short API token',
      { auth: { tokens: [{ name: 'x', role: 'ops', token: 'short' }] } },
      'auth.tokens[0].token: must be ≥ 16 characters or sha256:<64 hex>',
    ],
    [
      'an unknown role',
      { auth: { tokens: [{ name: 'x', role: 'root', token: 'a'.repeat(16) }] } },
      'auth.tokens[0].role: must be one of: "support", "ops"',
    ],
  ])('rejects %s', (_n, raw, line) => {
    expect(errorOf(() => parseConfig(BridgeConfig, raw, 'bridge.yaml')).message).toBe(
      `invalid config bridge.yaml: ${line}`,
    );
  });

  it('never puts a secret value into an error', () => {
    const e = errorOf(() => parseConfig(BridgeConfig, { mender: { token: 12345678901234 } }, 'bridge.yaml'));
    expect(e.message).toBe('invalid config bridge.yaml: mender.token: must be a string, not a whole number');
    expect(e.message).not.toContain('12345678901234');
  });
});

describe('YAML text', () => {
  it('reports syntax errors with their line, in one line', () => {
    const e = errorOf(() => parseYamlText('a: 1\nb: [1, 2\nc: 3\n', 'x.yaml'));
    expect(e.message).toMatch(/^invalid YAML in x\.yaml line \d+: /);
    expect(e.message).not.toContain('\n');
  });
  it('rejects duplicate keys', () => {
    expect(errorOf(() => parseYamlText('a: 1\na: 2\n', 'x.yaml')).message).toBe(
      'invalid YAML in x.yaml line 2: Map keys must be unique',
    );
  });
  it('loads JSON as YAML', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vc-cfg-'));
    const f = join(dir, 'ota.json');
    await writeFile(f, JSON.stringify({ download: { min_battery_soc: 40 } }));
    expect((await loadConfigFile(DeviceConfig, f, { missingMeansDefaults: false })).download.min_battery_soc).toBe(40);
    expect(await readFile(f, 'utf8')).toContain('40');
  });
});
