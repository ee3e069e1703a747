// `artifact build --type ha-addons` (issue #21): the flags, the payload index it plans, and the lines
// for bad input. The index is checked with the device's own schema (core/schemas/payload-index.ts).
import { describe, expect, it } from 'vitest';
import { VanError } from '../../../core/errors.js';
import { HaAddonsIndex } from '../../../core/schemas/payload-index.js';
import { type ArgValues, parseBuildOptions } from '../../../mender-artifacts/build-options.js';
import { menderArtifactWriteArgs, planBuild } from '../../../mender-artifacts/build-plan.js';

function args(over: ArgValues = {}): ArgValues {
  const base: ArgValues = {
    type: 'ha-addons',
    component: 'ha_addons',
    version: '2.0.0',
    'device-type': ['vanpc'],
    addon: ['core_mosquitto=6.4.1', 'a0d7b954_nodered=18.0.1'],
  };
  return Object.fromEntries(Object.entries({ ...base, ...over }).filter(([, v]) => v !== undefined));
}

function failure(values: ArgValues): string {
  try {
    parseBuildOptions(values);
  } catch (e) {
    if (e instanceof VanError) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error('expected parseBuildOptions to fail');
}

describe('artifact build --type ha-addons', () => {
  it('plans a vancore-ha payload: the add-ons in order, no payload files, vancore.ha_addons.version', () => {
    const options = parseBuildOptions(args({ 'health-url': ['a0d7b954_nodered=http://127.0.0.1:1880/'] }));
    expect(options.payload).toEqual({
      type: 'ha-addons',
      addons: [
        { slug: 'core_mosquitto', version: '6.4.1', health_url: null },
        { slug: 'a0d7b954_nodered', version: '18.0.1', health_url: 'http://127.0.0.1:1880/' },
      ],
    });
    const p = options.payload.type === 'ha-addons' ? options.payload : null;
    const plan = planBuild({
      options,
      constraints: {
        must_be_stationary: true,
        stationary_minutes: 3,
        min_signal_quality: 0.6,
        min_battery_soc: 30,
        shore_power_overrides_battery: true,
        maintenance_window: null,
      },
      payload: { type: 'ha-addons', addons: p?.addons ?? [] },
      scripts: [],
      signing: null,
      base: null,
      menderArtifactVersion: '3.9.0',
      now: new Date('2026-12-06T04:00:00Z'),
    });
    expect(plan.payloadType).toBe('vancore-ha');
    expect(plan.provides).toEqual({ artifact_name: 'vancore-ha_addons-2.0.0', 'vancore.ha_addons.version': '2.0.0' });
    expect(HaAddonsIndex.parse(plan.index)).toEqual(plan.index);
    expect(plan.staged.map((s) => s.name)).toEqual(['vancore-index.json']);
    const argv = menderArtifactWriteArgs(plan, { stageDir: '/s', metaDataFile: '/m', keyFile: null, output: '/o' });
    expect(argv.slice(0, 4)).toEqual(['write', 'module-image', '--type', 'vancore-ha']);
  });

  it.each([
    ['no --addon', { addon: undefined }, 'USAGE: missing --addon SLUG=VERSION (at least one)'],
    [
      'a malformed --addon',
      { addon: ['core_mosquitto'] },
      'USAGE: --addon "core_mosquitto": must be SLUG=VERSION, e.g. core_mosquitto=6.4.1',
    ],
    [
      'a bad slug',
      { addon: ['Core Mosquitto=1.0'] },
      'INPUT_INVALID: --addon "Core Mosquitto=1.0": must be a Home Assistant add-on slug such as core_mosquitto',
    ],
    [
      'self',
      { addon: ['self=1.0'] },
      'INPUT_INVALID: --addon "self=1.0": must name an add-on (\'self\' is the calling add-on)',
    ],
    ['a slug twice', { addon: ['core_a=1', 'core_a=2'] }, 'INPUT_INVALID: --addon: core_a is given twice'],
    [
      'a health URL for another add-on',
      { 'health-url': ['core_x=http://127.0.0.1/'] },
      'INPUT_INVALID: --health-url "core_x=http://127.0.0.1/": core_x is not among the --addon slugs',
    ],
    [
      'a non-http health URL',
      { 'health-url': ['core_mosquitto=ftp://x/'] },
      'INPUT_INVALID: --health-url "core_mosquitto=ftp://x/": must be an http(s) URL',
    ],
    ['--bundle with ha-addons', { bundle: 'x' }, 'USAGE: --bundle is only for --type compose, not --type ha-addons'],
    [
      'ha_addons as a compose bundle',
      { type: 'compose', bundle: 'x', addon: undefined },
      'INPUT_INVALID: --component ha_addons is packaged with --type ha-addons, not --type compose',
    ],
  ])('%s → one line', (_n, over, line) => {
    expect(failure(args(over))).toBe(line);
  });
});
