// Which van id each device of a sync batch ends up with. Van ids come from untrusted inventory: a
// claim on an id another device holds is refused, unless that device gives the id up in the same batch
// (hubs swapped between vans). Pure: the caller passes who currently owns the claimed ids.

export interface VanIdClaim {
  deviceId: string;
  /** The van id stored for this device, if any. */
  current?: string | undefined;
  /** The van id the device reports now, if any. */
  claim?: string | undefined;
}

export interface VanIdAssignment {
  vanId: string;
  /** Why the device's claim was refused (it then keeps its current id, or its device id). */
  refused?: string;
}

/**
 * @param ownerOutsideBatch the device holding a van id among devices NOT in this batch, if any.
 */
export function assignVanIds(
  batch: readonly VanIdClaim[],
  ownerOutsideBatch: (vanId: string) => string | undefined,
): Map<string, VanIdAssignment> {
  const desired = new Map<string, string>();
  const refused = new Map<string, string>();
  const byDevice = new Map(batch.map((c) => [c.deviceId, c]));
  for (const c of batch) desired.set(c.deviceId, c.claim ?? c.current ?? c.deviceId);

  // Each round settles at least one conflict by moving a loser to a fallback; fallbacks only get
  // more specific (claim → current → device id), so this ends within 2·n rounds.
  for (let round = 0; round <= 2 * batch.length; round++) {
    const wanting = new Map<string, string[]>();
    for (const [deviceId, vanId] of desired) wanting.set(vanId, [...(wanting.get(vanId) ?? []), deviceId]);
    let changed = false;
    for (const [vanId, devices] of wanting) {
      const outside = ownerOutsideBatch(vanId);
      const holder = outside && !byDevice.has(outside) ? outside : undefined;
      const keep = holder ? undefined : (devices.find((d) => byDevice.get(d)?.current === vanId) ?? devices[0]);
      for (const d of devices) {
        if (d === keep) continue;
        const c = byDevice.get(d)!;
        const owner = holder ?? keep!;
        if (!refused.has(d)) refused.set(d, `van id ${vanId} is already used by device ${owner}`);
        const fallback = vanId !== c.current && c.current ? c.current : d;
        if (fallback !== vanId) {
          desired.set(d, fallback);
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  const out = new Map<string, VanIdAssignment>();
  for (const c of batch) {
    const vanId = desired.get(c.deviceId)!;
    const why = c.claim !== undefined && vanId !== c.claim ? refused.get(c.deviceId) : undefined;
    out.set(c.deviceId, why ? { vanId, refused: why } : { vanId });
  }
  return out;
}
