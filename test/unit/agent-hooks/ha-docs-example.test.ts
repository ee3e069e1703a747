// The ota.yaml example in docs/home-assistant.md is a valid device config and says what the page says.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeviceConfig } from '../../../core/config/device-config.js';
import { parseConfig, parseYamlText } from '../../../core/config/load.js';
import { repoRoot } from '../../helpers/cli.js';

describe('docs/home-assistant.md', () => {
  it('its ota.yaml example parses with the device schema', async () => {
    const page = await readFile(join(repoRoot, 'docs/home-assistant.md'), 'utf8');
    const block = /## ota\.yaml\n\n```yaml\n([\s\S]*?)```/.exec(page)?.[1];
    expect(block).toBeDefined();
    const cfg = parseConfig(DeviceConfig, parseYamlText(block ?? '', 'docs example'), 'docs example');
    expect(cfg.ha_supervisor).toEqual({
      url: 'http://supervisor',
      request_timeout_seconds: 600,
      start_timeout_seconds: 300,
      settle_seconds: 10,
      poll_interval_seconds: 2,
    });
    expect(cfg.sensors.home_assistant?.entities).toMatchObject({
      occupied: 'binary_sensor.van_occupied',
      sleeping: 'input_boolean.someone_sleeping',
      heating: 'binary_sensor.heating_needs_hub',
      postpone: 'input_boolean.vancore_postpone',
    });
    expect(cfg.sensors.home_assistant?.postpone_budget).toEqual({ max_count: 3, max_hours: 72 });
    expect(cfg.sensors.home_assistant?.publish).toEqual({
      enabled: true,
      entity_id: 'sensor.vancore_update',
      notice_minutes: 10,
    });
  });

  it('a typo in the new keys is refused with its path', () => {
    const r = DeviceConfig.safeParse({ ha_supervisor: { urll: 'http://supervisor' } });
    expect(r.success).toBe(false);
    const p = DeviceConfig.safeParse({
      sensors: { home_assistant: { url: 'http://ha:8123', token_file: '/t', publish: { entity_id: 'light.x' } } },
    });
    expect(p.success).toBe(false);
  });
});
