// The data ledger's rules (bridge/rules/data-ledger.ts, issue #17 items 2 and 5) on plain facts.
import { describe, expect, it } from 'vitest';
import {
  artifactFor,
  budgetVerdict,
  countOf,
  ledgerEntry,
  monthTotals,
  waveLedger,
  type LedgerArtifact,
} from '../../../bridge/rules/data-ledger.js';

const ARTIFACTS: LedgerArtifact[] = [
  { name: 'vancore-platform-1.0.0', deviceTypes: ['vanpc'], size: 50_000_000, deltaOf: null },
  { name: 'vancore-platform-1.0.0', deviceTypes: ['vanpc-arm'], size: 48_000_000, deltaOf: null },
  {
    name: 'vancore-platform-1.0.0-delta-from-0.9.0',
    deviceTypes: ['vanpc', 'vanpc-arm'],
    size: 5_300_000,
    deltaOf: '0.9.0',
  },
];
const entry = (status: string, artifactName = 'vancore-platform-1.0.0', finished = '2026-12-03T10:00:00Z') => ({
  deploymentId: 'dep',
  deployment: 'vancore rel r1 w1 platform',
  artifactName,
  status,
  started: '2026-12-03T09:00:00Z',
  finished,
});

describe('what a device deployment cost', () => {
  it.each([
    ['success', 'delivered'],
    ['failure', 'at_most'],
    ['already-installed', 'none'],
    ['noartifact', 'none'],
    ['aborted', 'none'],
    ['downloading', 'none'],
  ])('%s counts as %s', (status, count) => expect(countOf(status)).toBe(count));

  it("the artifact of the deployment's name for the van's device type, as Mender picks it", () => {
    expect(artifactFor(ARTIFACTS, 'vancore-platform-1.0.0', 'vanpc-arm')?.size).toBe(48_000_000);
    expect(artifactFor(ARTIFACTS, 'vancore-platform-1.0.0', 'vanpc')?.size).toBe(50_000_000);
    // Unknown device type: the smallest of the name (Mender's tie-break).
    expect(artifactFor(ARTIFACTS, 'vancore-platform-1.0.0', null)?.size).toBe(48_000_000);
    expect(artifactFor(ARTIFACTS, 'gone', 'vanpc')).toBeUndefined();
  });

  it('a delta is a delta, bytes only when downloaded', () => {
    expect(ledgerEntry(entry('success', 'vancore-platform-1.0.0-delta-from-0.9.0'), ARTIFACTS, 'vanpc')).toMatchObject({
      kind: 'delta',
      count: 'delivered',
      bytes: 5_300_000,
    });
    expect(ledgerEntry(entry('already-installed'), ARTIFACTS, 'vanpc')).toMatchObject({ kind: 'full', bytes: 0 });
    expect(ledgerEntry(entry('success', 'gone'), ARTIFACTS, 'vanpc')).toMatchObject({ size: null, bytes: 0 });
  });

  it('month totals take only the month the deployment finished in', () => {
    const e = [
      ledgerEntry(entry('success'), ARTIFACTS, 'vanpc'),
      ledgerEntry(entry('failure', 'vancore-platform-1.0.0-delta-from-0.9.0'), ARTIFACTS, 'vanpc'),
      ledgerEntry(entry('success', 'vancore-platform-1.0.0', '2026-11-30T23:59:59Z'), ARTIFACTS, 'vanpc'),
    ];
    expect(monthTotals(e, '2026-12')).toEqual({ delivered: 50_000_000, at_most: 5_300_000 });
    expect(monthTotals(e, '2026-11')).toEqual({ delivered: 50_000_000, at_most: 0 });
  });
});

describe('budget verdict', () => {
  const B = 100 * 1_048_576;
  it.each<
    [string, { month: string | null; kib: number | null }, { delivered: number; at_most: number }, boolean, number]
  >([
    [
      'cellular counter over',
      { month: '2026-12', kib: 150 * 1024 },
      { delivered: 0, at_most: 0 },
      true,
      150 * 1_048_576,
    ],
    [
      'OTA over, no modem counter',
      { month: null, kib: null },
      { delivered: 90 * 1_048_576, at_most: 20 * 1_048_576 },
      true,
      110 * 1_048_576,
    ],
    [
      "last month's counter is not this month's",
      { month: '2026-11', kib: 500 * 1024 },
      { delivered: 1, at_most: 0 },
      false,
      1,
    ],
    [
      'exactly at the budget is not over',
      { month: '2026-12', kib: 100 * 1024 },
      { delivered: 0, at_most: 0 },
      false,
      B,
    ],
  ])('%s', (_what, reported, ota, over, used) => {
    const v = budgetVerdict({ month: '2026-12', budgetBytes: B, reported, ota });
    expect(v.over_budget).toBe(over);
    expect(v.used_bytes).toBe(used);
  });
  it('no budget: never over', () => {
    expect(
      budgetVerdict({
        month: '2026-12',
        budgetBytes: null,
        reported: { month: '2026-12', kib: 1e9 },
        ota: { delivered: 0, at_most: 0 },
      }).over_budget,
    ).toBe(false);
  });
});

describe('waveLedger', () => {
  it('counts vans and bytes per wave, delta and full apart, failures at most', () => {
    const w = waveLedger(
      [
        {
          wave: 1,
          deviceId: 'a',
          deviceType: 'vanpc',
          artifactName: 'vancore-platform-1.0.0-delta-from-0.9.0',
          status: 'success',
        },
        { wave: 1, deviceId: 'b', deviceType: 'vanpc-arm', artifactName: 'vancore-platform-1.0.0', status: 'success' },
        { wave: 1, deviceId: 'c', deviceType: 'vanpc', artifactName: 'vancore-platform-1.0.0', status: 'failure' },
        { wave: 2, deviceId: 'c', deviceType: 'vanpc', artifactName: 'vancore-platform-1.0.0', status: 'pending' },
        { wave: 2, deviceId: 'd', deviceType: 'vanpc', artifactName: 'gone', status: 'success' },
      ],
      ARTIFACTS,
    );
    expect(w).toEqual([
      {
        wave: 1,
        vans: 3,
        delta_vans: 1,
        full_vans: 2,
        delta_bytes: 5_300_000,
        full_bytes: 48_000_000,
        failed_bytes_at_most: 50_000_000,
        size_unknown: 0,
      },
      {
        wave: 2,
        vans: 2,
        delta_vans: 0,
        full_vans: 2,
        delta_bytes: 0,
        full_bytes: 0,
        failed_bytes_at_most: 0,
        size_unknown: 1,
      },
    ]);
  });
});
