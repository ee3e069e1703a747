// The rollout forecast, table-tested on plain facts: the planner's waves (stages, sizes, earliest opening),
// bytes per van from the artifact of its device type for each component it lacks, vans already current,
// held or excluded, unknown sizes, and vans waiting for an unmetered link.
import { describe, expect, it } from 'vitest';
import { RolloutSettings as Schema } from '../../../../core/config/bridge-config.js';
import {
  type ForecastArtifact,
  type ForecastFacts,
  type ForecastVan,
  forecastRollout,
  waitsForUnmetered,
} from '../../../../bridge/rollout/forecast.js';
import type { ReleaseComponent } from '../../../../bridge/rollout/release.js';
import type { Stage } from '../../../../bridge/store/fleet-store.js';

const T0 = '2026-11-22T00:00:00.000Z';
const H = 3_600_000;
const iso = (hours: number) => new Date(Date.parse(T0) + hours * H).toISOString();

const platform: ReleaseComponent = {
  component: 'platform',
  version: '1.0.0',
  artifact_id: 'a1',
  artifact_name: 'vancore-platform-1.0.0',
  requires: {},
  deltas: [],
};
const app: ReleaseComponent = {
  component: 'app',
  version: '1.4.0',
  artifact_id: 'a2',
  artifact_name: 'vancore-app-1.4.0',
  requires: { platform: '^1.0.0' },
  deltas: [],
};
const ARTIFACTS: ForecastArtifact[] = [
  { id: 'a1', name: 'vancore-platform-1.0.0', deviceTypes: ['vanpc'], size: 1000 },
  { id: 'a1b', name: 'vancore-platform-1.0.0', deviceTypes: ['vanpc-arm'], size: 1200 },
  { id: 'a2', name: 'vancore-app-1.4.0', deviceTypes: ['vanpc', 'vanpc-arm'], size: 500 },
];

function van(i: number, stage: Stage = 'fleet', over: Partial<ForecastVan> = {}): ForecastVan {
  return {
    deviceId: `d${String(i).padStart(4, '0')}`,
    vanId: `van-${String(i).padStart(5, '0')}`,
    stage,
    hold: false,
    excluded: false,
    tags: {},
    components: { platform: '0.9.0', app: '1.3.0' },
    healthy: true,
    deviceType: 'vanpc',
    gateCodes: [],
    ...over,
  };
}

function fleet(internal: number, pilot: number, rest: number): ForecastVan[] {
  let i = 0;
  return [
    ...Array.from({ length: internal }, () => van(i++, 'internal')),
    ...Array.from({ length: pilot }, () => van(i++, 'pilot')),
    ...Array.from({ length: rest }, () => van(i++, 'fleet')),
  ];
}

function facts(over: Partial<ForecastFacts> = {}): ForecastFacts {
  return {
    now: new Date(T0),
    release: 'rel-1',
    settings: Schema.parse({ wave_percent: 10, wave_interval_hours: 24, soak_hours: { internal: 24, pilot: 72 } }),
    components: [platform, app],
    vans: fleet(2, 4, 100),
    artifacts: ARTIFACTS,
    ...over,
  };
}

describe('forecastRollout', () => {
  it("opens the planner's waves: internal, pilot, then fleet waves of ceil(wave_percent × fleet) at their earliest times", () => {
    const f = forecastRollout(facts());
    expect(f.waves.map((w) => [w.label, w.vans])).toEqual([
      ['internal', 2],
      ['pilot', 4],
      ...Array.from({ length: 10 }, (_, i) => [`fleet-${i + 1}`, 10]),
    ]);
    expect(f.waves.map((w) => w.wave)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // Pilot after the internal soak, fleet-1 after the pilot soak, then one fleet wave per interval.
    expect(f.waves.slice(0, 4).map((w) => w.opens_at_earliest)).toEqual([iso(0), iso(24), iso(96), iso(120)]);
    expect(f.waves.at(-1)!.opens_at_earliest).toBe(iso(96 + 9 * 24));
    // Every van lacks both components: 1000 + 500 bytes each.
    expect(f.waves[0]).toMatchObject({ full_bytes: 3000, delta_bytes: 0, bytes: 3000 });
    expect(f.waves[0]!.components).toEqual([
      {
        component: 'platform',
        artifact_name: 'vancore-platform-1.0.0',
        vans: 2,
        full_bytes: 2000,
        delta_vans: 0,
        delta_bytes: 0,
      },
      {
        component: 'app',
        artifact_name: 'vancore-app-1.4.0',
        vans: 2,
        full_bytes: 1000,
        delta_vans: 0,
        delta_bytes: 0,
      },
    ]);
    expect(f).toMatchObject({
      vans: 106,
      full_bytes: 106 * 1500,
      delta_bytes: 0,
      bytes: 106 * 1500,
      waiting_unmetered: 0,
      size_unknown: 0,
      fleet: { total: 106, current: 0, held: 0, excluded: 0 },
    });
    expect(f.notes.join('\n')).toMatch(/the delta artifact from the version it runs/);
  });

  it('is deterministic and the same for the same facts (the hashed order)', () => {
    expect(forecastRollout(facts())).toEqual(forecastRollout(facts()));
  });

  const cases: {
    name: string;
    vans: ForecastVan[];
    artifacts?: ForecastArtifact[];
    want: {
      vans: number;
      bytes: number;
      waiting?: number;
      waitingBytes?: number;
      unknown?: number;
      fleet?: object;
      waves?: [string, number][];
    };
  }[] = [
    {
      name: 'a van on the platform already downloads only the app',
      vans: [van(1, 'fleet', { components: { platform: '1.0.0', app: '1.3.0' } })],
      want: { vans: 1, bytes: 500, waves: [['fleet-1', 1]] },
    },
    {
      name: 'a van on every version (or a newer one) is current: in no wave, no bytes',
      vans: [
        van(1, 'fleet', { components: { platform: '1.0.0', app: '2.0.0' } }),
        van(2, 'fleet', { components: { platform: '1.2.0', app: '1.4.0' } }),
        van(3),
      ],
      want: { vans: 1, bytes: 1500, fleet: { total: 3, current: 2, held: 0, excluded: 0 } },
    },
    {
      name: 'held and excluded vans are in no wave',
      vans: [van(1, 'pilot', { hold: true }), van(2, 'fleet', { excluded: true }), van(3)],
      want: { vans: 1, bytes: 1500, fleet: { total: 3, current: 0, held: 1, excluded: 1 }, waves: [['fleet-1', 1]] },
    },
    {
      name: "the size is the artifact built for the van's device type",
      vans: [van(1, 'fleet', { deviceType: 'vanpc-arm' }), van(2)],
      want: { vans: 2, bytes: 1200 + 500 + 1000 + 500 },
    },
    {
      name: "an unknown device type falls back to the release's artifact",
      vans: [van(1, 'fleet', { deviceType: null }), van(2, 'fleet', { deviceType: 'other' })],
      want: { vans: 2, bytes: 2 * 1500 },
    },
    {
      name: 'an artifact without a size: its vans are counted as size_unknown, their known bytes still count',
      vans: [van(1), van(2, 'fleet', { components: { platform: '1.0.0', app: '1.3.0' } })],
      artifacts: ARTIFACTS.map((a) => (a.id === 'a1' ? { ...a, size: null } : a)),
      want: { vans: 2, bytes: 500 + 500, unknown: 1 },
    },
    {
      name: 'vans whose gate waits for an unmetered link are counted with their bytes; other reasons are not',
      vans: [
        van(1, 'fleet', { gateCodes: ['roaming'] }),
        van(2, 'fleet', { gateCodes: ['metered_over_max', 'moving'] }),
        van(3, 'fleet', { gateCodes: ['hotspot_metered'], components: { platform: '1.0.0', app: '1.0.0' } }),
        van(4, 'fleet', { gateCodes: ['moving', 'link_unknown'] }),
        van(5),
        // Current: it downloads nothing, so it waits for nothing.
        van(6, 'fleet', { gateCodes: ['roaming'], components: { platform: '1.0.0', app: '1.4.0' } }),
      ],
      want: { vans: 5, bytes: 4 * 1500 + 500, waiting: 3, waitingBytes: 1500 + 1500 + 500 },
    },
    {
      name: 'internal and pilot vans each get their own wave before the fleet',
      vans: [van(1, 'internal'), van(2, 'pilot'), van(3, 'pilot'), van(4)],
      want: {
        vans: 4,
        bytes: 4 * 1500,
        waves: [
          ['internal', 1],
          ['pilot', 2],
          ['fleet-1', 1],
        ],
      },
    },
    {
      name: 'nothing to do: no waves, zero bytes',
      vans: [van(1, 'fleet', { components: { platform: '1.0.0', app: '1.4.0' } })],
      want: { vans: 0, bytes: 0, waves: [] },
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const f = forecastRollout(facts({ vans: c.vans, ...(c.artifacts ? { artifacts: c.artifacts } : {}) }));
      expect(f.vans).toBe(c.want.vans);
      expect(f.bytes).toBe(c.want.bytes);
      expect(f.full_bytes).toBe(c.want.bytes);
      expect(f.delta_bytes).toBe(0);
      expect(f.waiting_unmetered).toBe(c.want.waiting ?? 0);
      expect(f.waiting_unmetered_bytes).toBe(c.want.waitingBytes ?? 0);
      expect(f.size_unknown).toBe(c.want.unknown ?? 0);
      if (c.want.fleet) expect(f.fleet).toEqual(c.want.fleet);
      if (c.want.waves) expect(f.waves.map((w) => [w.label, w.vans])).toEqual(c.want.waves);
      // The total is the sum of the waves.
      expect(f.waves.reduce((a, w) => a + w.bytes, 0)).toBe(f.bytes);
      expect(f.waves.reduce((a, w) => a + w.waiting_unmetered, 0)).toBe(f.waiting_unmetered);
    });

  it.each([
    ['roaming', true],
    ['roaming_over_small', true],
    ['roaming_size_unknown', true],
    ['metered_deferred', true],
    ['metered_over_max', true],
    ['metered_size_unknown', true],
    ['hotspot_metered', true],
    ['hotspot_over_max', true],
    ['link_unknown', false],
    ['moving', false],
    ['roamingx', false],
    ['signal_low', false],
  ])('waitsForUnmetered(%s) is %s', (code, want) => {
    expect(waitsForUnmetered(code)).toBe(want);
  });
});

describe('forecastRollout with delta artifacts (issue #17)', () => {
  it('a van on the delta base is counted at the delta size, the others at the full size', () => {
    const withDelta: ReleaseComponent = {
      ...platform,
      deltas: [{ base_version: '0.9.0', artifact_id: 'a1d', artifact_name: 'vancore-platform-1.0.0-delta-from-0.9.0' }],
    };
    const artifacts = [
      ...ARTIFACTS,
      { id: 'a1d', name: 'vancore-platform-1.0.0-delta-from-0.9.0', deviceTypes: ['vanpc', 'vanpc-arm'], size: 80 },
    ];
    // 10 fleet vans: 6 on 0.9.0 (delta), 4 on 0.8.0 (full).
    const vans = Array.from({ length: 10 }, (_, i) =>
      van(i, 'fleet', { components: { platform: i < 6 ? '0.9.0' : '0.8.0', app: '1.4.0' } }),
    );
    const f = forecastRollout(facts({ components: [withDelta, app], vans, artifacts }));
    expect(f).toMatchObject({
      vans: 10,
      delta_vans: 6,
      delta_bytes: 6 * 80,
      full_bytes: 4 * 1000,
      bytes: 6 * 80 + 4000,
    });
    const comp = f.waves.flatMap((w) => w.components).filter((c) => c.component === 'platform');
    expect(comp.reduce((a, c) => a + c.delta_vans, 0)).toBe(6);
    expect(comp.reduce((a, c) => a + c.vans, 0)).toBe(10);
  });
});
