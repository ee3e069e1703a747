// Which Mender server line the simulator answers as. Each profile follows that line's server code:
//   '3.7' — the separate service repos at their Mender 3.7 tags (deployments 4.6, inventory 4.4,
//           deviceauth 3.6, useradm 1.22) behind the reference Traefik gateway;
//   '4.1' — the mendersoftware/mender-server monorepo v4.1.x (backend/services/*).
// docs/simulator.md lists every place where the two differ.
export const MENDER_PROFILES = ['4.1', '3.7'] as const;
export type MenderProfile = (typeof MENDER_PROFILES)[number];
export const DEFAULT_PROFILE: MenderProfile = '4.1';

export function isMenderProfile(v: unknown): v is MenderProfile {
  return typeof v === 'string' && (MENDER_PROFILES as readonly string[]).includes(v);
}

/**
 * `updates[].meta_data` / `metadata` as each line's deployments service renders an artifact's payload
 * meta-data (the JSON object written by `mender-artifact -m`):
 *
 * 3.7 — deployments 4.6 `model/update.go`: `MetaData interface{}`. Read back from MongoDB into an empty
 *   interface, the mongo driver decodes every embedded document as `primitive.D`, which encoding/json
 *   writes as a list of `{"Key": …, "Value": …}`; nested documents are lists the same way (no ancestor
 *   map type to decode into). So `meta_data` is a Key/Value list all the way down.
 * 4.1 — mender-server `backend/services/deployments/model/update.go`: `MetaData map[string]interface{}`
 *   is sent as `metadata` (the object; nested documents decode into the ancestor's map type, so they stay
 *   objects), and its `MarshalJSON` adds the deprecated `meta_data` as one `{"Key", "Value"}` entry per
 *   top-level key (values as they are), kept "for backwards compatibility" with mender-cli. Both fields
 *   are omitted when the artifact has no meta-data (omitempty / len > 0).
 * Key order: Go builds both from a map, so real servers send keys in no fixed order; the simulator keeps
 * the artifact's order (one of the orders a real server may send).
 */
export function updateMetaJson(
  profile: MenderProfile,
  meta: Record<string, unknown> | undefined,
): { meta_data?: unknown; metadata?: Record<string, unknown> } {
  if (!meta || Object.keys(meta).length === 0) return {};
  if (profile === '3.7') return { meta_data: keyValueDeep(meta) };
  return { metadata: meta, meta_data: Object.entries(meta).map(([Key, Value]) => ({ Key, Value })) };
}

/** A JSON object as the mongo driver's primitive.D marshals: `[{"Key","Value"}]`, nested too. */
function keyValueDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(keyValueDeep);
  if (v !== null && typeof v === 'object') {
    return Object.entries(v as Record<string, unknown>).map(([Key, Value]) => ({ Key, Value: keyValueDeep(Value) }));
  }
  return v;
}
