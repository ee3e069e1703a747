// Inventory keys (ARCHITECTURE.md "Inventory"): what `mender-inventory-vancore` prints and what the
// bridge reads back from Mender. Devices are untrusted: the parser never throws on attribute content;
// anything that does not fit the contract is dropped and counted.
import * as z from 'zod/mini';
import { parseClientAttribute } from './client.js';
import { ComponentName, GatePhase, IsoDateTime, SemVer, UnitInterval, VanId } from './common.js';
import { GateState } from './gate.js';

export const LastUpdateStatuses = ['none', 'success', 'failure', 'rolled_back', 'in_progress'] as const;
export const VpnStates = ['tailscale', 'dual', 'headscale', 'retired', 'reverted', 'unknown'] as const;
export const VpnSteps = ['none', 'add', 'verify', 'cutover', 'retire'] as const;
/** The post-commit soak (issue #20 item 2, agent-hooks/soak/): `off` when soak_hours is 0. */
export const SoakStates = ['watching', 'passed', 'regressed', 'off'] as const;

/**
 * Strings as the clients send them: the C++ client (mender-update ≥ 5) PUTs every value as a string
 * ("true", "0.78"), Go 3.4 too for script output. Numbers and booleans are accepted as well (Mender may
 * store them); surrounding blanks and the case of true/false do not matter.
 */
const BoolText = z.pipe(
  z.union([
    z.boolean(),
    z.pipe(
      z.string().check(z.regex(/^\s*(true|false)\s*$/i, { error: 'must be true or false' })),
      z.transform((s) => s.trim().toLowerCase() === 'true'),
    ),
  ]),
  z.transform((v) => v === true),
);
const NumText = (inner: z.ZodMiniNumber<number>) =>
  z.pipe(
    z.union([
      z.number(),
      z.pipe(
        z.string().check(z.regex(/^\s*-?\d+(\.\d+)?\s*$/, { error: 'must be a number' })),
        z.transform((s) => Number(s.trim())),
      ),
    ]),
    inner,
  );

/** Fixed keys and their value schemas. `vancore.<component>.version` is matched separately. */
export const InventoryKeySchemas = {
  'vancore.van_id': VanId,
  'vancore.health.disk_ok': BoolText,
  'vancore.health.temp_ok': BoolText,
  'vancore.health.signal_quality': NumText(UnitInterval),
  'vancore.health.battery_soc': NumText(z.number().check(z.minimum(0), z.maximum(100))),
  'vancore.health.shore_power': BoolText,
  'vancore.health.last_update_status': z.enum(LastUpdateStatuses),
  'vancore.gate.state': GateState,
  'vancore.gate.phase': z.union([GatePhase, z.literal('none')]),
  'vancore.gate.reason': z.string().check(z.maxLength(256)),
  /** The reason codes of `vancore.gate.reason`, comma-separated in the gate's order (core/reason-codes.ts). */
  'vancore.gate.codes': z.string().check(z.maxLength(256), z.regex(/^[a-z][a-z0-9_]*(,[a-z][a-z0-9_]*)*$/)),
  'vancore.gate.since': IsoDateTime,
  'vancore.vpn.state': z.enum(VpnStates),
  'vancore.vpn.step': z.enum(VpnSteps),
  /** The calendar month (UTC, `YYYY-MM`) of `vancore.data.month_bytes` (issue #17 item 5). */
  'vancore.data.month': z.string().check(z.regex(/^\d{4}-(0[1-9]|1[0-2])$/, { error: 'must be YYYY-MM' })),
  /** Bytes received + sent on the van's cellular (wwan) interfaces this month, across reboots. */
  'vancore.data.month_bytes': NumText(z.number().check(z.int(), z.minimum(0))),
  /** The post-commit soak of the last committed artifact (agent-hooks/soak/, docs/agent-hooks.md). */
  'vancore.soak.state': z.enum(SoakStates),
  /** The artifact whose commit the soak watches. */
  'vancore.soak.artifact': z.string().check(z.minLength(1), z.maxLength(256)),
  /** Why it regressed: reason codes first, like the gate's lines (`soak_container_restarts: …`, agent-hooks/soak/soak.ts). */
  'vancore.soak.reason': z.string().check(z.maxLength(256)),
  /** When the soak started (the commit), on the van's clock. */
  'vancore.soak.since': IsoDateTime,
  /** `<binary>/<version>` of the van's Mender client (core/schemas/client.ts), e.g. `mender-update/5.1.0`. */
  'vancore.client': z
    .string()
    .check(
      z.refine((s) => parseClientAttribute(s) !== undefined, { error: 'must be <mender|mender-update>/<version>' }),
    ),
} as const;
export type InventoryKey = keyof typeof InventoryKeySchemas;
export const InventoryKeys = Object.keys(InventoryKeySchemas) as InventoryKey[];

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f]+/g;
const COMPONENT_VERSION = /^vancore\.([a-z][a-z0-9_]{0,31})\.version$/;

export interface VanInventory {
  van_id?: string;
  /** Installed VanCore component versions, e.g. `{ platform: "0.9.2" }`. */
  components: Record<string, string>;
  health: {
    disk_ok?: boolean;
    temp_ok?: boolean;
    signal_quality?: number;
    battery_soc?: number;
    shore_power?: boolean;
    last_update_status?: (typeof LastUpdateStatuses)[number];
  };
  gate: {
    state?: GateState;
    phase?: GatePhase | 'none';
    reason?: string;
    /** `vancore.gate.codes` as reported (absent from hubs before issue #15: the bridge parses the line). */
    codes?: string;
    since?: string;
  };
  vpn: { state?: (typeof VpnStates)[number]; step?: (typeof VpnSteps)[number] };
  /** Cellular data this month (agent-hooks/inventory/data-usage.ts): absent on hubs without a modem. */
  data: { month?: string; month_bytes?: number };
  soak: { state?: (typeof SoakStates)[number]; artifact?: string; reason?: string; since?: string };
  /** `vancore.client` as reported (`mender/3.4.0`, `mender-update/5.1.0`). */
  client?: string;
}

export interface DroppedAttribute {
  scope: string;
  name: string;
  reason: string;
}

export type AttributeValue = string | number | boolean | (string | number | boolean)[];

export interface ParsedInventory {
  vancore: VanInventory;
  /** Mender's own inventory attributes (device_type, artifact_name, mender_client_version). */
  mender: { device_type?: string; artifact_name?: string; mender_client_version?: string };
  /** Other scopes, passed through as plain values: identity, system, tags. */
  identity: Record<string, AttributeValue>;
  system: Record<string, AttributeValue>;
  tags: Record<string, AttributeValue>;
  /** Inventory attributes outside the VanCore contract (network_interfaces, cpu_model, …). */
  extra: Record<string, AttributeValue>;
  dropped: DroppedAttribute[];
}

/**
 * Per-device limits on what the bridge keeps (issue #16 item 7, docs/security.md): one device must not
 * grow the fleet records by megabytes nor slow every sync. Past them, the rest of that device's
 * attributes are quarantined as one counted entry; the VanCore keys come first in Mender's own order.
 */
export const INVENTORY_LIMITS = {
  attributesPerDevice: 512,
  valueChars: 4096,
  listItems: 256,
  bytesPerDevice: 256 * 1024,
} as const;

/**
 * Text PostgreSQL cannot store as sent (issue #16 item 1): NUL (refused in text and jsonb alike), and
 * lone UTF-16 surrogates (sent as U+FFFD, so two different names would become one key). Such an
 * attribute is quarantined. `\p{Cs}` in a `u` regex matches only unpaired surrogates.
 */
const LONE_SURROGATE = /\p{Cs}/u;
const anyText = (v: unknown, bad: (s: string) => boolean): boolean =>
  typeof v === 'string' ? bad(v) : Array.isArray(v) && v.some((x) => typeof x === 'string' && bad(x));
const hasNul = (v: unknown): boolean => anyText(v, (s) => s.includes('\u0000'));
const badText = (v: unknown): boolean => anyText(v, (s) => LONE_SURROGATE.test(s));

/** A name or scope as it may be stored in the quarantine record itself. */
const storable = (s: string): string =>
  s.replaceAll('\u0000', '\\0').replace(/\p{Cs}/gu, (c) => `\\u${c.charCodeAt(0).toString(16)}`);

// The envelope of each attribute is checked by hand: this runs for every attribute of every device on
// every sync (tens of thousands per page), and zod's generic machinery cost ~0.2 ms per device here.
const isScalar = (v: unknown): v is string | number | boolean =>
  (typeof v === 'string' && v.length <= INVENTORY_LIMITS.valueChars) ||
  (typeof v === 'number' && Number.isFinite(v)) ||
  typeof v === 'boolean';

function attributeValue(v: unknown): AttributeValue | undefined {
  if (isScalar(v)) return v;
  if (Array.isArray(v) && v.length <= INVENTORY_LIMITS.listItems && v.every(isScalar)) return v;
  return undefined;
}

function rawAttribute(raw: unknown): { name: string; scope: string; value: unknown } | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const { name, scope, value } = raw as { name?: unknown; scope?: unknown; value?: unknown };
  if (typeof name !== 'string' || name.length < 1 || name.length > 1024) return undefined;
  if (scope !== undefined && typeof scope !== 'string') return undefined;
  return { name, scope: scope ?? 'inventory', value };
}

const MenderNames = ['device_type', 'artifact_name', 'mender_client_version'] as const;

function assign(inv: VanInventory, key: InventoryKey, value: unknown): void {
  const [, group, field] = key.split('.') as [string, string, string | undefined];
  if (group === 'van_id') inv.van_id = value as string;
  else if (group === 'client') inv.client = value as string;
  else if (group === 'health' || group === 'gate' || group === 'vpn' || group === 'data' || group === 'soak') {
    (inv[group] as Record<string, unknown>)[field as string] = value;
  }
}

/**
 * Parse Mender's attribute list (`[{name, value, scope?}]`, as in a device's `attributes`) into the
 * VanCore view. Accepts anything; a non-array input gives an empty result with one dropped entry.
 */
export function parseInventory(attributes: unknown): ParsedInventory {
  const out: ParsedInventory = {
    vancore: { components: {}, health: {}, gate: {}, vpn: {}, data: {}, soak: {} },
    mender: {},
    identity: {},
    system: {},
    tags: {},
    extra: {},
    dropped: [],
  };
  if (!Array.isArray(attributes)) {
    out.dropped.push({ scope: '?', name: '?', reason: 'attributes must be a list of {name, value}' });
    return out;
  }
  const seen = new Set<string>();
  let kept = 0;
  let bytes = 0;
  let over = 0;
  for (const raw of attributes as unknown[]) {
    const attr = rawAttribute(raw);
    if (!attr) {
      if (out.dropped.length < INVENTORY_LIMITS.attributesPerDevice)
        out.dropped.push({ scope: '?', name: '?', reason: 'not a {name, value} attribute' });
      else over++;
      continue;
    }
    const { name, scope, value } = attr;
    const drop = (reason: string) => out.dropped.push({ scope: storable(scope), name: storable(name), reason });
    if (hasNul(name) || hasNul(scope) || hasNul(value)) {
      drop('contains a NUL character');
      continue;
    }
    if (badText(name) || badText(scope) || badText(value)) {
      drop('not well-formed Unicode (a lone surrogate)');
      continue;
    }
    // What it would cost to keep (a value that is invalid anyway costs nothing: it is dropped below).
    const data = attributeValue(value);
    const size = name.length + scope.length + (data === undefined ? 0 : JSON.stringify(data).length);
    if (kept >= INVENTORY_LIMITS.attributesPerDevice || bytes + size > INVENTORY_LIMITS.bytesPerDevice) {
      over++;
      continue;
    }
    kept++;
    bytes += size;
    // The first occurrence of a name decides, well-formed or not: a later one never sneaks in.
    const id = `${scope}/${name}`;
    if (seen.has(id)) {
      drop('duplicate attribute');
      continue;
    }
    seen.add(id);
    if (data === undefined) {
      drop('value must be a string, number, boolean or a list of them');
      continue;
    }
    const v = { data };
    if (scope === 'identity' || scope === 'system' || scope === 'tags') {
      out[scope][name] = v.data;
      continue;
    }
    if (scope !== 'inventory') {
      drop(`unknown scope "${scope}"`);
      continue;
    }
    if ((MenderNames as readonly string[]).includes(name)) {
      if (typeof v.data === 'string') out.mender[name as (typeof MenderNames)[number]] = v.data;
      else drop('must be a single string');
      continue;
    }
    if (!name.startsWith('vancore.')) {
      out.extra[name] = v.data;
      continue;
    }
    if (Array.isArray(v.data)) {
      drop('must be a single value (the key was reported more than once)');
      continue;
    }
    const cm = COMPONENT_VERSION.exec(name);
    if (cm) {
      const ok = ComponentName.safeParse(cm[1]).success && SemVer.safeParse(v.data).success;
      if (ok) out.vancore.components[cm[1] as string] = v.data as string;
      else drop('must be a semantic version such as 1.4.0');
      continue;
    }
    if (!(name in InventoryKeySchemas)) {
      drop('not a VanCore inventory key');
      continue;
    }
    const key = name as InventoryKey;
    const parsed = InventoryKeySchemas[key].safeParse(v.data);
    if (!parsed.success) {
      drop(`invalid value for ${key}`);
      continue;
    }
    assign(out.vancore, key, parsed.data);
  }
  // One counted entry each, not one per attribute: the quarantine must not grow with the flood.
  if (over > 0)
    out.dropped.push({
      scope: '*',
      name: '*',
      reason: `over the per-device limit (${INVENTORY_LIMITS.attributesPerDevice} attributes, ${INVENTORY_LIMITS.bytesPerDevice / 1024} KiB)`,
    });
  return out;
}

/**
 * `key=value` lines for the inventory script. RECIPE §7: one malformed line drops the whole script's
 * output, so values are flattened to one line and keys are checked. Returns the lines and what was skipped.
 */
export function formatInventoryLines(entries: Record<string, string | number | boolean | undefined>): {
  lines: string[];
  skipped: string[];
} {
  const lines: string[] = [];
  const skipped: string[] = [];
  for (const [key, value] of Object.entries(entries)) {
    if (value === undefined) continue;
    if (!/^[A-Za-z0-9_.-]+$/.test(key)) {
      skipped.push(key);
      continue;
    }
    // Control characters would break the line protocol; cap length so one value cannot flood inventory.
    const text = String(value).replace(CONTROL_CHARS, ' ').trim().slice(0, 256);
    lines.push(`${key}=${text}`);
  }
  return { lines, skipped };
}
