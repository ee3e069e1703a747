// The attention rules (bridge/rules/attention.ts, issue #15 item 2): one table per code over plain facts.
import { describe, expect, it } from 'vitest';
import { budgetVerdict } from '../../../bridge/rules/data-ledger.js';
import {
  AttentionCodes,
  attention,
  type AttentionCode,
  type AttentionFacts,
  type AttentionVan,
} from '../../../bridge/rules/attention.js';

const NOW = new Date('2026-11-22T10:00:00.000Z');
const T = { failed_times: 3, deferred_days: 3, not_seen_days: 7, stuck_downloading_hours: 24 };

const van = (over: Partial<AttentionVan> = {}): AttentionVan => ({
  device_id: 'd1',
  van_id: 'van-1',
  gate_state: 'open',
  gate_reason: null,
  gate_since: '2026-11-22T09:00:00.000Z',
  last_check_in: '2026-11-22T09:55:00.000Z',
  artifact_name: 'vancore-platform-1.0.0',
  disk_ok: 1,
  excluded: 0,
  vpn_state: null,
  vpn_step: null,
  ...over,
});
const facts = (over: Partial<AttentionFacts> = {}): AttentionFacts => ({
  vans: [van()],
  failures: [],
  downloading: [],
  manualVpnRollbacks: [],
  requires: new Map(),
  components: new Map(),
  ...over,
});
const codes = (f: AttentionFacts) => attention(f, T, NOW).map((i) => i.code);
const fail = (artifact: string) => ({ device_id: 'd1', artifact_name: artifact });

// [code, facts that raise it, facts just short of it]
const cases: [AttentionCode, AttentionFacts, AttentionFacts][] = [
  [
    'failed_repeatedly',
    facts({ failures: [fail('a'), fail('b'), fail('c')] }),
    facts({ failures: [fail('a'), fail('b')] }),
  ],
  ['rollback_loop', facts({ failures: [fail('a'), fail('a')] }), facts({ failures: [fail('a')] })],
  [
    'deferred_long',
    facts({ vans: [van({ gate_state: 'deferred', gate_reason: 'moving: x', gate_since: '2026-11-18T10:00:00Z' })] }),
    facts({ vans: [van({ gate_state: 'deferred', gate_reason: 'moving: x', gate_since: '2026-11-20T10:00:00Z' })] }),
  ],
  [
    'clock_ahead',
    facts({ vans: [van({ gate_since: '2026-11-22T10:11:00Z' })] }),
    facts({ vans: [van({ gate_since: '2026-11-22T10:09:00Z' })] }),
  ],
  [
    'not_seen',
    facts({ vans: [van({ last_check_in: '2026-11-14T10:00:00Z' })] }),
    facts({ vans: [van({ last_check_in: '2026-11-16T10:00:00Z' })] }),
  ],
  ['inconsistent_artifact', facts({ vans: [van({ artifact_name: 'vancore-platform-1.0.0_INCONSISTENT' })] }), facts()],
  ['low_disk', facts({ vans: [van({ disk_ok: 0 })] }), facts({ vans: [van({ disk_ok: null })] })],
  ['excluded_from_rollouts', facts({ vans: [van({ excluded: 1 })] }), facts()],
  [
    'vpn_reverted',
    facts({ vans: [van({ vpn_state: 'reverted', vpn_step: 'verify' })] }),
    facts({ vans: [van({ vpn_state: 'dual' })] }),
  ],
  [
    'vpn_manual_rollback',
    facts({
      manualVpnRollbacks: [{ device_id: 'd1', migration_id: 'm1', rollback_step: 'retire', rollback_detail: null }],
    }),
    facts({
      manualVpnRollbacks: [{ device_id: 'gone', migration_id: 'm1', rollback_step: null, rollback_detail: null }],
    }),
  ],
  [
    'stuck_downloading',
    facts({ downloading: [{ device_id: 'd1', deployment_id: 'dep', started: '2026-11-21T09:00:00Z' }] }),
    // The same download while the van's gate holds it: waiting, not stuck.
    facts({
      vans: [van({ gate_state: 'deferred', gate_reason: 'moving: x' })],
      downloading: [{ device_id: 'd1', deployment_id: 'dep', started: '2026-11-21T09:00:00Z' }],
    }),
  ],
  [
    'incompatible_components',
    facts({
      components: new Map([['d1', { platform: '0.9.0', app: '1.5.0' }]]),
      requires: new Map([['app@1.5.0', { platform: '>=1.0.0' }]]),
    }),
    facts({
      components: new Map([['d1', { platform: '1.0.0', app: '1.5.0' }]]),
      requires: new Map([['app@1.5.0', { platform: '>=1.0.0' }]]),
    }),
  ],
  [
    'data_over_budget',
    // 1 MB budget: OTA 0.6 MB delivered + 0.5 MB of a failed download (at most) is over it.
    facts({
      data: new Map([
        [
          'd1',
          budgetVerdict({
            month: '2026-11',
            budgetBytes: 1_048_576,
            reported: { month: null, kib: null },
            ota: { delivered: 600_000, at_most: 500_000 },
          }),
        ],
      ]),
    }),
    // The modem's count of last month does not count in this one.
    facts({
      data: new Map([
        [
          'd1',
          budgetVerdict({
            month: '2026-11',
            budgetBytes: 1_048_576,
            reported: { month: '2026-10', kib: 5000 },
            ota: { delivered: 0, at_most: 0 },
          }),
        ],
      ]),
    }),
  ],
  [
    'revert_not_landed',
    facts({
      revertsNotLanded: [{ device_id: 'd1', detail: 'revert of app 1.5.0 → 1.4.0 ended failure (rollout r1)' }],
    }),
    facts({ revertsNotLanded: [{ device_id: 'd9', detail: 'not a live van' }] }),
  ],
  [
    // Only a regression of the artifact the van runs: an older report is about a commit since replaced.
    'soak_regressed',
    facts({
      vans: [
        van({
          soak_state: 'regressed',
          soak_artifact: 'vancore-platform-1.0.0',
          soak_reason: 'soak_container_restarts: 4 container restarts since the commit (app-web-1 4)',
        }),
      ],
    }),
    facts({
      vans: [van({ soak_state: 'regressed', soak_artifact: 'vancore-platform-0.9.0', soak_reason: 'x' })],
    }),
  ],
];

describe('attention rules', () => {
  it('the table covers every attention code', () => {
    expect(cases.map(([c]) => c).sort()).toEqual([...AttentionCodes].sort());
  });
  it.each(cases)('%s: raised past its threshold, not before', (code, raised, quiet) => {
    expect(codes(raised)).toContain(code);
    expect(codes(quiet)).not.toContain(code);
  });
  it('a van in good order needs nobody', () => {
    expect(attention(facts(), T, NOW)).toEqual([]);
  });
  it('items name the van, sorted by van id then code, with the detail', () => {
    const items = attention(
      facts({
        vans: [van({ device_id: 'd2', van_id: 'van-2', disk_ok: 0 }), van({ excluded: 1, disk_ok: 0 })],
      }),
      T,
      NOW,
    );
    expect(items.map((i) => `${i.van_id}:${i.code}`)).toEqual([
      'van-1:excluded_from_rollouts',
      'van-1:low_disk',
      'van-2:low_disk',
    ]);
    expect(items[1]).toEqual({ van_id: 'van-1', device_id: 'd1', code: 'low_disk', detail: 'disk check failing' });
  });
});
