// The data ledger (issue #17 items 2 and 5) as pure rules: what each device deployment cost a van over
// the air, per van, per rollout wave and per month, and whether a van is over its monthly budget.
//
// Bytes come from Mender's own records: a device deployment's artifact is the one of the deployment's
// artifact name for the van's device type (Mender picks by name and device type, the smallest when
// several match: mender-server backend/services/deployments/store/mongo ImageByIdsAndDeviceType), and
// its `size` is the .mender file the van downloads. A `success` delivered the whole artifact; a
// `failure` may have failed before, during or after the download, so its bytes count "at most";
// already-installed, noartifact, aborted and pending cost nothing (the van never downloaded).
// A van's link bytes (`vancore.data.month_bytes`, all cellular traffic of the month) come from the van.

export type LedgerCount = 'delivered' | 'at_most' | 'none';

export interface LedgerArtifact {
  name: string;
  deviceTypes: string[];
  size: number | null;
  /** `vancore.delta_of`: a layer-delta artifact's base version. */
  deltaOf: string | null;
}

export interface LedgerEntryInput {
  deploymentId: string;
  deployment: string;
  artifactName: string;
  status: string;
  finished: string | null;
  started: string | null;
}

export interface LedgerEntry extends LedgerEntryInput {
  kind: 'delta' | 'full';
  /** The artifact's size (what one download costs), null when Mender did not report it. */
  size: number | null;
  count: LedgerCount;
  /** What this deployment cost the van: size when delivered or at most, else 0. */
  bytes: number;
}

export function countOf(status: string): LedgerCount {
  if (status === 'success') return 'delivered';
  if (status === 'failure') return 'at_most';
  return 'none';
}

/** The artifact a van of `deviceType` gets for `name` (the smallest of those compatible, as Mender). */
export function artifactFor(
  artifacts: readonly LedgerArtifact[],
  name: string,
  deviceType: string | null,
): LedgerArtifact | undefined {
  const byName = artifacts.filter((a) => a.name === name);
  const compatible = deviceType === null ? byName : byName.filter((a) => a.deviceTypes.includes(deviceType));
  return [...(compatible.length ? compatible : byName)].sort((a, b) => (a.size ?? 0) - (b.size ?? 0))[0];
}

export function ledgerEntry(
  e: LedgerEntryInput,
  artifacts: readonly LedgerArtifact[],
  deviceType: string | null,
): LedgerEntry {
  const a = artifactFor(artifacts, e.artifactName, deviceType);
  const count = countOf(e.status);
  const size = a?.size ?? null;
  return { ...e, kind: a?.deltaOf ? 'delta' : 'full', size, count, bytes: count === 'none' ? 0 : (size ?? 0) };
}

export const monthOf = (iso: string): string => iso.slice(0, 7);

export interface MonthTotals {
  /** Delivered bytes of deployments that finished this month. */
  delivered: number;
  /** Bytes of failed deployments this month (each at most its artifact's size). */
  at_most: number;
}

export function monthTotals(entries: readonly LedgerEntry[], month: string): MonthTotals {
  const out: MonthTotals = { delivered: 0, at_most: 0 };
  for (const e of entries) {
    const when = e.finished ?? e.started;
    if (!when || monthOf(when) !== month || e.count === 'none') continue;
    out[e.count] += e.bytes;
  }
  return out;
}

export interface BudgetVerdict {
  month: string;
  budget_bytes: number | null;
  /** Cellular bytes the van reported for this month (null: no report for this month). */
  link_bytes: number | null;
  /** OTA bytes of this month (delivered + failed at most). */
  ota_bytes: number;
  /** The larger of the two: the link counter includes the OTA downloads when they went over cellular. */
  used_bytes: number;
  over_budget: boolean;
}

/**
 * A van is over budget when the month's cellular bytes it reported, or the OTA bytes Mender's records
 * give (when it has no modem counter, or the counter lags), exceed the budget. No budget: never over.
 */
export function budgetVerdict(o: {
  month: string;
  budgetBytes: number | null;
  reported: { month: string | null; kib: number | null };
  ota: MonthTotals;
}): BudgetVerdict {
  const link = o.reported.month === o.month && o.reported.kib !== null ? o.reported.kib * 1024 : null;
  const ota = o.ota.delivered + o.ota.at_most;
  const used = Math.max(link ?? 0, ota);
  return {
    month: o.month,
    budget_bytes: o.budgetBytes,
    link_bytes: link,
    ota_bytes: ota,
    used_bytes: used,
    over_budget: o.budgetBytes !== null && used > o.budgetBytes,
  };
}

export interface WaveLedger {
  wave: number;
  vans: number;
  delta_vans: number;
  full_vans: number;
  delta_bytes: number;
  full_bytes: number;
  /** Failed device deployments' bytes, each at most its artifact's size. */
  failed_bytes_at_most: number;
  /** Device deployments whose artifact size Mender did not report. */
  size_unknown: number;
}

/** Per wave: the tracked deployments' outcomes of one rollout, each costed for its van. */
export function waveLedger(
  outcomes: readonly {
    wave: number;
    deviceId: string;
    deviceType: string | null;
    artifactName: string;
    status: string;
  }[],
  artifacts: readonly LedgerArtifact[],
): WaveLedger[] {
  const waves = new Map<number, WaveLedger & { seen: Set<string>; deltaSeen: Set<string>; fullSeen: Set<string> }>();
  for (const o of outcomes) {
    let w = waves.get(o.wave);
    if (!w) {
      w = {
        wave: o.wave,
        vans: 0,
        delta_vans: 0,
        full_vans: 0,
        delta_bytes: 0,
        full_bytes: 0,
        failed_bytes_at_most: 0,
        size_unknown: 0,
        seen: new Set(),
        deltaSeen: new Set(),
        fullSeen: new Set(),
      };
      waves.set(o.wave, w);
    }
    const a = artifactFor(artifacts, o.artifactName, o.deviceType);
    const delta = Boolean(a?.deltaOf);
    w.seen.add(o.deviceId);
    (delta ? w.deltaSeen : w.fullSeen).add(o.deviceId);
    const count = countOf(o.status);
    if (count === 'none') continue;
    if (a?.size === null || a?.size === undefined) {
      w.size_unknown++;
      continue;
    }
    if (count === 'at_most') w.failed_bytes_at_most += a.size;
    else if (delta) w.delta_bytes += a.size;
    else w.full_bytes += a.size;
  }
  return [...waves.values()]
    .sort((a, b) => a.wave - b.wave)
    .map(({ seen, deltaSeen, fullSeen, ...w }) => ({
      ...w,
      vans: seen.size,
      delta_vans: deltaSeen.size,
      full_vans: fullSeen.size,
    }));
}
