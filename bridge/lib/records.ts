// Reading back what the controllers stored: JSON columns read leniently (a damaged cell is empty, never
// a crash), and per-device outcomes grouped by deployment name. Shared by rollouts and the VPN migration.

/** A JSON column, or null when it is null or not JSON. */
export function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** A JSON array of strings (device ids, …); anything else in it is dropped. */
export function jsonStrings(text: string): string[] {
  const v = parseJson(text);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** A JSON object (tags, …), or `{}`. */
export function jsonObject(text: string): Record<string, unknown> {
  const v = parseJson(text);
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export type OutcomesByDevice = Record<string, { status: string; finishedAt: string | null }>;

/** Outcome rows (one per deployment and device) → per deployment name, per device. */
export function outcomesByName(
  rows: readonly { name: string; device_id: string; status: string; finished_at: string | null }[],
): Map<string, OutcomesByDevice> {
  const by = new Map<string, OutcomesByDevice>();
  for (const o of rows) {
    const m = by.get(o.name) ?? {};
    m[o.device_id] = { status: o.status, finishedAt: o.finished_at };
    by.set(o.name, m);
  }
  return by;
}
