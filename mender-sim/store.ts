// The simulator's state and its indexes, with one method per Mender operation. Decisions that carry
// Mender's rules are pure functions in deployment-logic.ts / inventory-query.ts; this class gathers
// the facts, calls them, and applies the result.
//
// Indexes exist so the device hot paths stay O(1)-ish at 10,000 devices: deployments/next reads the
// device's active device deployment or the front of its precomputed queue of targeting deployments
// (filled once when a deployment is created), never scans devices × deployments.
import { randomBytes, randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { JwtSigner, PublicKeyCache, VerifiedSignatures, newJti, type JwtClaims } from './auth.js';
import {
  compareRequest,
  decideAssignment,
  deploymentStatus,
  emptyStats,
  pickDeployment,
  type NextRequest,
  type Stats,
} from './deployment-logic.js';
import { SimHttpError, badRequest, notFound } from './errors.js';
import type { InventoryView } from './inventory-query.js';
import {
  FINAL_STATUSES,
  type ArtifactRec,
  type AttrValue,
  type AuthSetRec,
  type AuthStatus,
  type DeploymentRec,
  type DeploymentStatus,
  type DeviceAuthStatus,
  type DeviceDeploymentRec,
  type DeviceDeploymentStatus,
  type DeviceRec,
  type LogMessage,
  type PatRec,
  type ReleaseMeta,
  type StateFile,
  type TokenRec,
} from './model.js';

const WEEK_S = 7 * 24 * 3600;
/** useradm `limit_sessions_per_user` [code]. */
const MAX_SESSIONS = 10;
/** useradm: at most 10 PATs per user, each living at most a year [code]. */
const MAX_PATS = 10;
export const MAX_PAT_SECONDS = 31_536_000;
/** Device tokens kept per device (a client re-authenticates before each commit); older ones are revoked. */
const TOKENS_PER_DEVICE = 4;

export interface StoreOptions {
  now: () => number;
  email: string;
  password: string;
  autoAccept: boolean;
  /** Verify X-MEN-Signature on auth requests (default true). */
  verifySignatures: boolean;
  /** Called after every change that should be persisted. */
  onChange: () => void;
}

export interface DeploymentView {
  rec: DeploymentRec;
  status: DeploymentStatus;
  stats: Stats;
  deviceCount: number;
}

interface DeploymentIndex {
  targets: Set<string>;
  stats: Stats;
  status: DeploymentStatus;
  /** device id → device deployment, in join order */
  devices: Map<string, DeviceDeploymentRec>;
}

/** Canonical JSON (sorted keys) so the same identity always maps to the same device. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const isFinal = (s: DeviceDeploymentStatus): boolean => FINAL_STATUSES.has(s);

/** Every combination of one value per key (deployments pkg doc.UnwindMap), each as canonical JSON. */
export function dependsCombinations(depends: Readonly<Record<string, string | string[]>>): string[] {
  let combos: Record<string, string>[] = [{}];
  for (const key of Object.keys(depends).sort()) {
    const v = depends[key];
    const values = Array.isArray(v) ? v : v === undefined ? [] : [v];
    if (values.length === 0) continue;
    combos = combos.flatMap((c) => values.map((x) => ({ ...c, [key]: x })));
  }
  return combos.map((c) => canonical(c));
}

export class SimStore {
  readonly signer: JwtSigner;
  readonly #secret: Buffer;
  readonly #o: StoreOptions;
  #user: StateFile['user'];
  readonly #pats = new Map<string, PatRec>();
  readonly #tokens = new Map<string, TokenRec>();
  readonly #devices = new Map<string, DeviceRec>();
  readonly #artifacts = new Map<string, ArtifactRec>();
  readonly #releases = new Map<string, ReleaseMeta>();
  readonly #deployments = new Map<string, DeploymentRec>();
  #seq = 0;

  // ---- indexes (rebuilt from the records on restore)
  readonly #byIdentity = new Map<string, string>();
  readonly #groups = new Map<string, Set<string>>();
  readonly #artifactsByName = new Map<string, ArtifactRec[]>();
  readonly #depIndex = new Map<string, DeploymentIndex>();
  /** device id → its device deployments (history), join order */
  readonly #ddByDevice = new Map<string, DeviceDeploymentRec[]>();
  /** device id → its one active device deployment */
  readonly #activeDd = new Map<string, DeviceDeploymentRec>();
  /** device id → seq of the newest deployment it finished (history not deleted); absent = none */
  readonly #lastFinishedSeq = new Map<string, number>();
  /** device id → active deployments that target it and it has not joined yet, in creation order */
  readonly #queues = new Map<string, DeploymentRec[]>();
  readonly #sessions: string[] = [];
  readonly #deviceTokens = new Map<string, string[]>();
  readonly #keys = new PublicKeyCache();
  readonly #signatures = new VerifiedSignatures();
  /**
   * Raw token → jti for tokens this instance signed or already verified: the device hot path then skips
   * the HMAC and JSON decode. Revocation and expiry are still checked on the token record every time.
   */
  readonly #verified = new Map<string, string>();

  constructor(options: StoreOptions, state?: StateFile) {
    this.#o = options;
    this.#secret = state ? Buffer.from(state.secret, 'base64') : randomBytes(32);
    this.signer = new JwtSigner(this.#secret);
    this.#user = state?.user ?? { id: randomUUID(), email: options.email, createdMs: options.now() };
    // The configured credentials win over a persisted e-mail: the CLI flags are the source of truth.
    this.#user.email = options.email;
    if (state) this.#restore(state);
  }

  get now(): number {
    return this.#o.now();
  }

  #changed(): void {
    this.#o.onChange();
  }

  // ================================================================================ useradm

  userJson(): Record<string, unknown> {
    const u = this.#user;
    return {
      id: u.id,
      email: u.email,
      created_ts: new Date(u.createdMs).toISOString(),
      updated_ts: new Date(u.createdMs).toISOString(),
      ...(u.loginMs ? { login_ts: new Date(u.loginMs).toISOString() } : {}),
    };
  }

  get userId(): string {
    return this.#user.id;
  }

  /** Basic-auth login: the raw JWT, or 401 `unauthorized`. Beyond 10 sessions the oldest are revoked. */
  login(email: string, password: string, noExpiry: boolean): string {
    if (email !== this.#user.email || password !== this.#o.password) throw new SimHttpError(401, 'unauthorized');
    const now = this.now;
    this.#user.loginMs = now;
    const token = this.#issue('user', this.#user.id, noExpiry ? undefined : now + WEEK_S * 1000);
    this.#sessions.push(token.jti);
    while (this.#sessions.length > MAX_SESSIONS) {
      const old = this.#sessions.shift();
      if (old) this.#tokens.delete(old);
    }
    this.#changed();
    return token.raw;
  }

  logout(jti: string): void {
    this.#tokens.delete(jti);
    const i = this.#sessions.indexOf(jti);
    if (i >= 0) this.#sessions.splice(i, 1);
    this.#changed();
  }

  #issue(
    kind: TokenRec['kind'],
    sub: string,
    expiresMs: number | undefined,
    extra: { authSetId?: string; jti?: string } = {},
  ): { raw: string; jti: string } {
    const now = this.now;
    const jti = extra.jti ?? newJti();
    const claims: JwtClaims = {
      jti,
      sub,
      iat: Math.floor(now / 1000),
      ...(expiresMs === undefined ? {} : { exp: Math.floor(expiresMs / 1000) }),
      iss: kind === 'device' ? 'Mender' : 'Mender.Users',
      ...(kind === 'device' ? { 'mender.device': true } : { 'mender.user': true, scp: 'mender.*' }),
      ...(kind === 'pat' ? { 'mender.pat': true } : {}),
    };
    this.#tokens.set(jti, {
      jti,
      kind,
      sub,
      issuedMs: now,
      ...(expiresMs === undefined ? {} : { expiresMs }),
      ...(extra.authSetId ? { authSetId: extra.authSetId } : {}),
    });
    const raw = this.signer.sign(claims);
    this.#remember(raw, jti);
    return { raw, jti };
  }

  #remember(raw: string, jti: string): void {
    if (this.#verified.size >= 200_000) this.#verified.clear();
    this.#verified.set(raw, jti);
  }

  /** A live token record for a raw token of one of `kinds`, or undefined. */
  #live(raw: string, kinds: readonly TokenRec['kind'][]): TokenRec | undefined {
    let jti = this.#verified.get(raw);
    if (jti === undefined) {
      const claims = this.signer.verify(raw);
      if (!claims) return undefined;
      const known = this.#tokens.get(claims.jti);
      if (!known || known.sub !== claims.sub) return undefined;
      jti = claims.jti;
      this.#remember(raw, jti);
    }
    const rec = this.#tokens.get(jti);
    if (!rec || !kinds.includes(rec.kind)) return undefined;
    if (rec.expiresMs !== undefined && rec.expiresMs <= this.now) return undefined;
    return rec;
  }

  /** The management identity of a user JWT or PAT; PAT use is recorded as `last_used`. */
  verifyManagement(raw: string): TokenRec | undefined {
    const rec = this.#live(raw, ['user', 'pat']);
    if (rec?.kind === 'pat') {
      const pat = this.#pats.get(rec.jti);
      if (!pat) return undefined;
      pat.lastUsedMs = this.now;
    }
    return rec;
  }

  createPat(name: string, expiresIn: number): string {
    for (const p of this.#pats.values()) {
      if (p.name === name) throw new SimHttpError(409, 'Personal Access Token with a given name already exists');
    }
    if (this.#pats.size >= MAX_PATS) {
      throw new SimHttpError(422, 'maximum number of personal access tokens reached for this user');
    }
    const now = this.now;
    const expiresMs = expiresIn > 0 ? now + expiresIn * 1000 : undefined;
    const jti = randomUUID();
    this.#pats.set(jti, { id: jti, name, createdMs: now, ...(expiresMs ? { expiresMs } : {}) });
    const t = this.#issue('pat', this.#user.id, expiresMs, { jti });
    this.#changed();
    return t.raw;
  }

  listPats(): Record<string, unknown>[] {
    return [...this.#pats.values()].map((p) => ({
      id: p.id,
      name: p.name,
      created_ts: new Date(p.createdMs).toISOString(),
      // A PAT without expiry has none in Mender either; the spec's required field gets the far future.
      expiration_date: new Date(p.expiresMs ?? Date.UTC(9999, 11, 31)).toISOString(),
      ...(p.lastUsedMs ? { last_used: new Date(p.lastUsedMs).toISOString() } : {}),
    }));
  }

  deletePat(id: string): void {
    this.#pats.delete(id);
    this.#tokens.delete(id);
    this.#changed();
  }

  // ================================================================================ deviceauth

  deviceStatus(d: DeviceRec): DeviceAuthStatus {
    let best: DeviceAuthStatus = 'noauth';
    const order: DeviceAuthStatus[] = ['noauth', 'rejected', 'pending', 'preauthorized', 'accepted'];
    for (const a of d.authSets) if (order.indexOf(a.status) > order.indexOf(best)) best = a.status;
    return best;
  }

  device(id: string): DeviceRec | undefined {
    return this.#devices.get(id);
  }

  devices(): IterableIterator<DeviceRec> {
    return this.#devices.values();
  }

  get deviceCount(): number {
    return this.#devices.size;
  }

  /**
   * POST auth_requests: find or create the device by identity and its auth set by key, then answer with a
   * device JWT when that set is accepted (or preauthorized, or pending under autoAccept); else 401.
   */
  authRequest(input: { idData: string; pubkey: string; rawBody: Buffer; signature: string | undefined }): string {
    let identity: unknown;
    try {
      identity = JSON.parse(input.idData);
    } catch {
      throw badRequest('invalid auth request: id_data must be a JSON object');
    }
    if (typeof identity !== 'object' || identity === null || Array.isArray(identity)) {
      throw badRequest('invalid auth request: id_data must be a JSON object');
    }
    const key = this.#keys.parse(input.pubkey);
    if (!key) throw badRequest('invalid auth request: cannot decode public key');
    if (this.#o.verifySignatures) {
      if (!input.signature) throw badRequest('missing request signature header');
      if (!this.#signatures.verify(key, input.rawBody, input.signature)) {
        throw new SimHttpError(401, 'signature verification failed');
      }
    }
    const now = this.now;
    const idKey = canonical(identity);
    let dev = this.#device(this.#byIdentity.get(idKey));
    if (!dev) {
      dev = {
        id: randomUUID(),
        identityKey: idKey,
        identityData: identity as Record<string, unknown>,
        createdMs: now,
        updatedMs: now,
        authSets: [],
        inventory: {},
        tags: {},
        invUpdatedMs: now,
      };
      this.#devices.set(dev.id, dev);
      this.#byIdentity.set(idKey, dev.id);
    }
    dev.checkInMs = now;
    dev.updatedMs = now;
    let aset = dev.authSets.find((a) => a.pubkey === key.pem);
    if (!aset) {
      aset = { id: randomUUID(), pubkey: key.pem, identityData: dev.identityData, status: 'pending', ts: now };
      dev.authSets.push(aset);
      dev.updatedMs = now;
      this.#changed();
    }
    if (aset.status === 'preauthorized' || (aset.status === 'pending' && this.#o.autoAccept)) {
      this.#accept(dev, aset);
      this.#changed();
    }
    if (aset.status !== 'accepted') throw new SimHttpError(401, 'dev auth: unauthorized');
    const t = this.#issue('device', dev.id, now + WEEK_S * 1000, { authSetId: aset.id });
    const list = this.#deviceTokens.get(dev.id) ?? [];
    list.push(t.jti);
    while (list.length > TOKENS_PER_DEVICE) {
      const old = list.shift();
      if (old) this.#tokens.delete(old);
    }
    this.#deviceTokens.set(dev.id, list);
    this.#changed();
    return t.raw;
  }

  #device(id: string | undefined): DeviceRec | undefined {
    return id === undefined ? undefined : this.#devices.get(id);
  }

  /** Accepting one auth set rejects the device's other accepted sets (one accepted key per device). */
  #accept(dev: DeviceRec, aset: AuthSetRec): void {
    for (const other of dev.authSets) {
      if (other !== aset && other.status === 'accepted') {
        other.status = 'rejected';
        this.#revokeAuthSetTokens(dev.id, other.id);
      }
    }
    aset.status = 'accepted';
    dev.updatedMs = this.now;
  }

  #revokeAuthSetTokens(deviceId: string, authSetId: string | undefined): void {
    const list = this.#deviceTokens.get(deviceId);
    if (!list) return;
    const keep: string[] = [];
    for (const jti of list) {
      const t = this.#tokens.get(jti);
      if (t && (authSetId === undefined || t.authSetId === authSetId)) this.#tokens.delete(jti);
      else if (t) keep.push(jti);
    }
    this.#deviceTokens.set(deviceId, keep);
  }

  /** The device ID of a live device token; records the check-in. Hot path. */
  verifyDevice(raw: string): string | undefined {
    const rec = this.#live(raw, ['device']);
    if (!rec) return undefined;
    const dev = this.#devices.get(rec.sub);
    if (!dev) return undefined;
    // deviceauth writes check_in_time with UpdateDevice, which also sets updated_ts (issue #14).
    const now = this.now;
    dev.checkInMs = now;
    dev.updatedMs = now;
    return dev.id;
  }

  setAuthStatus(deviceId: string, authSetId: string, status: string): void {
    const dev = this.#devices.get(deviceId);
    if (!dev) throw notFound('device not found');
    const aset = dev.authSets.find((a) => a.id === authSetId);
    if (!aset) throw notFound('authentication set not found');
    // deviceauth takes accepted, rejected and pending (a reset); anything else is 400.
    switch (status) {
      case 'accepted':
        if (aset.status !== 'accepted') this.#accept(dev, aset);
        break;
      case 'rejected':
      case 'pending':
        aset.status = status;
        this.#revokeAuthSetTokens(dev.id, aset.id);
        break;
      default:
        throw badRequest('incorrect device status');
    }
    dev.updatedMs = this.now;
    this.#changed();
  }

  authSetStatus(deviceId: string, authSetId: string): AuthStatus {
    const aset = this.#devices.get(deviceId)?.authSets.find((a) => a.id === authSetId);
    if (!aset) throw notFound('authentication set not found');
    return aset.status;
  }

  /** POST /devices: a preauthorized auth set, or the existing device when the identity is known (409). */
  preauthorize(identityData: Record<string, unknown>, pubkey: string): { id: string } | { existing: DeviceRec } {
    const key = this.#keys.parse(pubkey);
    if (!key) throw badRequest('failed to decode preauth request: cannot decode public key');
    const idKey = canonical(identityData);
    const existing = this.#device(this.#byIdentity.get(idKey));
    if (existing) return { existing };
    const now = this.now;
    const dev: DeviceRec = {
      id: randomUUID(),
      identityKey: idKey,
      identityData,
      createdMs: now,
      updatedMs: now,
      authSets: [{ id: randomUUID(), pubkey: key.pem, identityData, status: 'preauthorized', ts: now }],
      inventory: {},
      tags: {},
      invUpdatedMs: now,
    };
    this.#devices.set(dev.id, dev);
    this.#byIdentity.set(idKey, dev.id);
    this.#changed();
    return { id: dev.id };
  }

  /**
   * DELETE /devices/{id} (decommission): the device leaves deviceauth and inventory, its tokens die, and
   * its active and pending deployments end `decommissioned` (done at once; Mender runs a workflow).
   */
  decommission(deviceId: string): void {
    const dev = this.#devices.get(deviceId);
    if (!dev) throw notFound('device not found');
    this.#endDeviceDeployments(deviceId, 'decommissioned');
    this.#revokeAuthSetTokens(deviceId, undefined);
    this.#deviceTokens.delete(deviceId);
    if (dev.group) this.#groups.get(dev.group)?.delete(deviceId);
    this.#cleanGroup(dev.group);
    this.#byIdentity.delete(dev.identityKey);
    this.#devices.delete(deviceId);
    this.#queues.delete(deviceId);
    this.#changed();
  }

  deleteAuthSet(deviceId: string, authSetId: string): void {
    const dev = this.#devices.get(deviceId);
    const i = dev ? dev.authSets.findIndex((a) => a.id === authSetId) : -1;
    if (!dev || i < 0) throw notFound('authentication set not found');
    dev.authSets.splice(i, 1);
    this.#revokeAuthSetTokens(deviceId, authSetId);
    dev.updatedMs = this.now;
    this.#changed();
  }

  revokeDeviceToken(jti: string): void {
    const t = this.#tokens.get(jti);
    if (t?.kind !== 'device') throw notFound('token not found');
    this.#tokens.delete(jti);
    this.#changed();
  }

  // ================================================================================ inventory

  inventoryView(d: DeviceRec): InventoryView {
    return {
      id: d.id,
      status: this.deviceStatus(d),
      identity: d.identityData,
      inventory: d.inventory,
      tags: d.tags,
      group: d.group,
      createdMs: d.createdMs,
      updatedMs: d.invUpdatedMs,
    };
  }

  /**
   * Device PUT (replace the inventory scope) or PATCH (merge). `skipUnchanged` (4.1): mender-server
   * backend/services/inventory/inv/inventory.go `needsUpsert` writes nothing — updated_ts stays — when
   * updated_ts is on the current (UTC) day and no reported value differs (descriptions are not compared)
   * and, for PUT, no stored inventory attribute would be removed.
   */
  putAttributes(
    deviceId: string,
    attrs: readonly { name: string; value: AttrValue; description?: string | undefined }[],
    replace: boolean,
    skipUnchanged = false,
  ): void {
    const dev = this.#devices.get(deviceId);
    if (!dev) throw notFound('device not found');
    const now = this.now;
    const DAY = 86_400_000;
    if (skipUnchanged && Math.floor(dev.invUpdatedMs / DAY) === Math.floor(now / DAY)) {
      const inv = dev.inventory;
      const changed = attrs.some((a) => !(a.name in inv) || !isDeepStrictEqual(inv[a.name]?.value, a.value));
      const removed = replace && Object.keys(inv).some((n) => !attrs.some((a) => a.name === n));
      if (!changed && !removed) return;
    }
    const next: Record<string, (typeof dev.inventory)[string]> = replace ? {} : dev.inventory;
    for (const a of attrs) {
      next[a.name] = { value: a.value, ts: now, ...(a.description ? { description: a.description } : {}) };
    }
    dev.inventory = next;
    dev.invUpdatedMs = now;
    this.#changed();
  }

  /** Remove a device's inventory record (attributes, tags, group); identity stays with deviceauth. */
  deleteInventory(deviceId: string): void {
    const dev = this.#devices.get(deviceId);
    if (!dev) return;
    dev.inventory = {};
    dev.tags = {};
    delete dev.tagsEtag;
    this.#setGroup(dev, undefined);
    dev.invUpdatedMs = this.now;
    this.#changed();
  }

  setTags(
    deviceId: string,
    tags: readonly { name: string; value: string; description?: string | undefined }[],
    replace: boolean,
    ifMatch: string | undefined,
  ): void {
    const dev = this.#devices.get(deviceId);
    if (!dev) throw notFound('device not found');
    if (ifMatch !== undefined && ifMatch !== (dev.tagsEtag ?? '')) {
      throw new SimHttpError(412, "ETag doesn't match");
    }
    const now = this.now;
    const next = replace ? {} : { ...dev.tags };
    for (const t of tags)
      next[t.name] = { value: t.value, ts: now, ...(t.description ? { description: t.description } : {}) };
    dev.tags = next;
    dev.tagsEtag = randomUUID();
    // [code] inventory's updated_ts moves only when the device reports its attributes, never on tag or
    // group changes by ops (issue #14): an incremental sync ordered by it misses ops' changes.
    this.#changed();
  }

  #setGroup(dev: DeviceRec, group: string | undefined): boolean {
    if (dev.group === group) return false;
    const old = dev.group;
    if (old !== undefined) this.#groups.get(old)?.delete(dev.id);
    if (group === undefined) delete dev.group;
    else {
      dev.group = group;
      let set = this.#groups.get(group);
      if (!set) this.#groups.set(group, (set = new Set()));
      set.add(dev.id);
    }
    this.#cleanGroup(old);
    return true;
  }

  /** A group exists only while it has members. */
  #cleanGroup(name: string | undefined): void {
    if (name !== undefined && this.#groups.get(name)?.size === 0) this.#groups.delete(name);
  }

  setGroup(deviceId: string, group: string): void {
    const dev = this.#devices.get(deviceId);
    if (!dev) throw notFound('device not found');
    this.#setGroup(dev, group);
    this.#changed();
  }

  clearGroup(deviceId: string, group: string): void {
    const dev = this.#devices.get(deviceId);
    if (!dev || dev.group !== group) throw notFound('device not found');
    this.#setGroup(dev, undefined);
    this.#changed();
  }

  addToGroup(group: string, ids: readonly string[]): { updated_count: number; matched_count: number } {
    let updated = 0;
    let matched = 0;
    for (const id of ids) {
      const dev = this.#devices.get(id);
      if (!dev) continue;
      matched += 1;
      if (this.#setGroup(dev, group)) updated += 1;
    }
    this.#changed();
    return { updated_count: updated, matched_count: matched };
  }

  removeFromGroup(group: string, ids: readonly string[]): { updated_count: number } {
    let updated = 0;
    for (const id of ids) {
      const dev = this.#devices.get(id);
      if (dev?.group === group && this.#setGroup(dev, undefined)) updated += 1;
    }
    this.#changed();
    return { updated_count: updated };
  }

  deleteGroup(group: string): { updated_count: number } {
    const members = this.#groups.get(group);
    if (!members || members.size === 0) throw notFound('group not found');
    return this.removeFromGroup(group, [...members]);
  }

  groupNames(status?: string): string[] {
    const out: string[] = [];
    for (const [name, members] of this.#groups) {
      if (status === undefined) out.push(name);
      else {
        for (const id of members) {
          const d = this.#devices.get(id);
          if (d && this.deviceStatus(d) === status) {
            out.push(name);
            break;
          }
        }
      }
    }
    return out.sort();
  }

  groupMembers(group: string): string[] {
    const members = this.#groups.get(group);
    if (!members || members.size === 0) throw notFound('group not found');
    // Insertion order of the device records, not of group assignment: stable across restarts.
    return [...this.#devices.keys()].filter((id) => members.has(id));
  }

  // ================================================================================ artifacts

  artifacts(): ArtifactRec[] {
    return [...this.#artifacts.values()];
  }

  artifact(id: string): ArtifactRec | undefined {
    return this.#artifacts.get(id);
  }

  /**
   * 409 when an artifact of the same name has a depends combination in common ([code] deployments
   * model/image.go MarshalBSON: `depends_idx` = doc.UnwindMap(depends) — every combination of one value
   * per depends key, device_type included — under a unique index with the name; mongo's duplicate-key
   * error becomes the ConflictError, "An artifact with the same name has conflicting dependencies"
   * in 4.1's app.go). So the same name and device type with different depends is accepted.
   */
  checkUnique(name: string, depends: Readonly<Record<string, string | string[]>>): void {
    const mine = new Set(dependsCombinations(depends));
    for (const a of this.#artifactsByName.get(name) ?? []) {
      const theirs = dependsCombinations({ ...a.depends, device_type: a.deviceTypes });
      if (theirs.some((c) => mine.has(c))) {
        throw new SimHttpError(409, 'An artifact with the same name has conflicting dependencies', {
          extra: { metadata: { artifact_id: a.id, name: a.name, device_types_compatible: a.deviceTypes } },
        });
      }
    }
  }

  addArtifact(rec: ArtifactRec): void {
    this.checkUnique(rec.name, { ...rec.depends, device_type: rec.deviceTypes });
    this.#artifacts.set(rec.id, rec);
    this.#indexArtifact(rec);
    if (!this.#releases.has(rec.name)) this.#releases.set(rec.name, { notes: '', tags: [] });
    this.#changed();
  }

  #indexArtifact(rec: ArtifactRec): void {
    const list = this.#artifactsByName.get(rec.name) ?? [];
    list.push(rec);
    this.#artifactsByName.set(rec.name, list);
  }

  editArtifact(id: string, description: string): void {
    const a = this.#artifacts.get(id);
    if (!a) throw notFound();
    a.description = description;
    a.modifiedMs = this.now;
    this.#changed();
  }

  /** Whether an unfinished deployment may still hand this artifact to a device. */
  artifactInActiveUse(a: ArtifactRec): boolean {
    for (const d of this.#deployments.values()) {
      if (this.#depIndex.get(d.id)?.status === 'finished') continue;
      if (d.artifactName === a.name) return true;
    }
    return false;
  }

  /** Remove an artifact record; returns it so the caller can delete its file. */
  deleteArtifact(id: string): ArtifactRec {
    const a = this.#artifacts.get(id);
    if (!a) throw notFound();
    if (this.artifactInActiveUse(a)) throw new SimHttpError(409, 'Artifact is used in active deployment');
    this.#artifacts.delete(id);
    const list = (this.#artifactsByName.get(a.name) ?? []).filter((x) => x.id !== id);
    if (list.length) this.#artifactsByName.set(a.name, list);
    else {
      this.#artifactsByName.delete(a.name);
      this.#releases.delete(a.name);
    }
    this.#changed();
    return a;
  }

  releaseNames(): string[] {
    return [...this.#artifactsByName.keys()];
  }

  releaseArtifacts(name: string): ArtifactRec[] {
    return this.#artifactsByName.get(name) ?? [];
  }

  releaseMeta(name: string): ReleaseMeta {
    return this.#releases.get(name) ?? { notes: '', tags: [] };
  }

  updateRelease(name: string, patch: { notes?: string; tags?: string[] }): void {
    if (!this.#artifactsByName.has(name)) throw notFound('release not found');
    const meta = { ...this.releaseMeta(name), ...patch };
    this.#releases.set(name, meta);
    this.#changed();
  }

  // ================================================================================ deployments

  deployments(): DeploymentView[] {
    return [...this.#deployments.values()].map((d) => this.deploymentView(d));
  }

  deployment(id: string): DeploymentView | undefined {
    const d = this.#deployments.get(id);
    return d ? this.deploymentView(d) : undefined;
  }

  deploymentView(d: DeploymentRec): DeploymentView {
    const ix = this.#ix(d.id);
    return { rec: d, status: ix.status, stats: ix.stats, deviceCount: ix.devices.size };
  }

  #ix(id: string): DeploymentIndex {
    const ix = this.#depIndex.get(id);
    if (!ix) throw new Error(`deployment index missing for ${id}`);
    return ix;
  }

  /** Accepted device IDs, optionally in one static group, in device creation order. */
  acceptedDevices(group?: string): string[] {
    const out: string[] = [];
    for (const d of this.#devices.values()) {
      if (group !== undefined && d.group !== group) continue;
      if (this.deviceStatus(d) === 'accepted') out.push(d.id);
    }
    return out;
  }

  /**
   * POST /deployments or /deployments/group/{name}: targets fixed now (GUIDE §4.1) — a group or
   * all_devices resolves to the accepted devices at this moment (none → 400), an explicit list is taken
   * as given; no artifact of that name → 422.
   */
  createDeployment(input: {
    name: string;
    artifactName: string;
    devices?: readonly string[];
    allDevices?: boolean;
    group?: string;
    force: boolean;
  }): string {
    let targets: string[];
    if (input.group !== undefined || input.allDevices) {
      targets = this.acceptedDevices(input.group);
      if (targets.length === 0) throw badRequest('No devices for the deployment');
    } else {
      targets = [...new Set(input.devices ?? [])];
    }
    const artifacts = this.#artifactsByName.get(input.artifactName) ?? [];
    if (artifacts.length === 0) throw new SimHttpError(422, 'No artifact for the deployment');
    const now = this.now;
    this.#seq += 1;
    const rec: DeploymentRec = {
      id: randomUUID(),
      seq: this.#seq,
      name: input.name,
      artifactName: input.artifactName,
      createdMs: now,
      targets,
      groups: input.group !== undefined ? [input.group] : [],
      artifacts: artifacts.map((a) => a.id),
      force: input.force,
      aborted: false,
      totalSize: 0,
    };
    this.#deployments.set(rec.id, rec);
    this.#depIndex.set(rec.id, {
      targets: new Set(targets),
      stats: emptyStats(),
      status: 'pending',
      devices: new Map(),
    });
    for (const id of targets) this.#enqueue(id, rec);
    this.#changed();
    return rec.id;
  }

  #enqueue(deviceId: string, d: DeploymentRec): void {
    const q = this.#queues.get(deviceId);
    if (q) q.push(d);
    else this.#queues.set(deviceId, [d]);
  }

  deviceDeployments(deploymentId: string): DeviceDeploymentRec[] {
    return [...this.#ix(deploymentId).devices.values()];
  }

  deviceDeployment(deploymentId: string, deviceId: string): DeviceDeploymentRec | undefined {
    return this.#depIndex.get(deploymentId)?.devices.get(deviceId);
  }

  /** A device's history, newest deployment first, without entries whose history was deleted. */
  deviceHistory(deviceId: string): DeviceDeploymentRec[] {
    return (this.#ddByDevice.get(deviceId) ?? [])
      .filter((dd) => dd.deletedMs === undefined)
      .sort(
        (a, b) => (this.#deployments.get(b.deploymentId)?.seq ?? 0) - (this.#deployments.get(a.deploymentId)?.seq ?? 0),
      );
  }

  #setDdStatus(dd: DeviceDeploymentRec, status: DeviceDeploymentStatus, substate?: string): void {
    const dep = this.#deployments.get(dd.deploymentId);
    if (!dep) return;
    const ix = this.#ix(dep.id);
    const old = dd.status;
    const now = this.now;
    ix.stats[old] -= 1;
    ix.stats[status] += 1;
    dd.status = status;
    if (substate !== undefined) dd.substate = substate;
    if (status !== 'pending' && dd.startedMs === undefined && !isFinal(status)) dd.startedMs = now;
    if (isFinal(status)) {
      dd.finishedMs = now;
      if (this.#activeDd.get(dd.deviceId) === dd) this.#activeDd.delete(dd.deviceId);
      if (dd.deletedMs === undefined) {
        this.#lastFinishedSeq.set(dd.deviceId, Math.max(this.#lastFinishedSeq.get(dd.deviceId) ?? -1, dep.seq));
      }
    } else if (isFinal(old)) {
      // [code] a device may report again after a final status (only aborted/decommissioned are locked):
      // the entry is active once more, so the device's ordering facts are recomputed from its history.
      delete dd.finishedMs;
      this.#reindexDevice(dd.deviceId);
    }
    this.#recalc(dep);
  }

  #recalc(dep: DeploymentRec): void {
    const ix = this.#ix(dep.id);
    const status = deploymentStatus({ aborted: dep.aborted, maxDevices: ix.targets.size, stats: ix.stats });
    if (status === 'finished' && ix.status !== 'finished') dep.finishedMs ??= this.now;
    ix.status = status;
  }

  /** Create (or, after a history reset, replace) the device's entry in a deployment. */
  #join(
    dep: DeploymentRec,
    deviceId: string,
    status: DeviceDeploymentStatus,
    extra: Partial<DeviceDeploymentRec>,
  ): DeviceDeploymentRec {
    const ix = this.#ix(dep.id);
    const prev = ix.devices.get(deviceId);
    if (prev) {
      ix.stats[prev.status] -= 1;
      const hist = this.#ddByDevice.get(deviceId);
      if (hist)
        this.#ddByDevice.set(
          deviceId,
          hist.filter((x) => x !== prev),
        );
    }
    const now = this.now;
    const dd: DeviceDeploymentRec = {
      id: randomUUID(),
      deploymentId: dep.id,
      deviceId,
      status,
      createdMs: dep.createdMs,
      ...extra,
    };
    if (isFinal(status)) dd.finishedMs = now;
    ix.devices.set(deviceId, dd);
    ix.stats[status] += 1;
    const hist = this.#ddByDevice.get(deviceId);
    if (hist) hist.push(dd);
    else this.#ddByDevice.set(deviceId, [dd]);
    if (isFinal(status)) {
      this.#lastFinishedSeq.set(deviceId, Math.max(this.#lastFinishedSeq.get(deviceId) ?? -1, dep.seq));
    } else {
      this.#activeDd.set(deviceId, dd);
    }
    this.#recalc(dep);
    return dd;
  }

  /**
   * deployments/next (GUIDE §4.2–4.5): the device's active deployment again (409 if it now reports other
   * data), else lazily join the oldest eligible deployment. Returns the deployment and device entry to
   * instruct, or undefined for "no update" (204) — including a fresh `noartifact` / `already-installed`.
   */
  next(
    deviceId: string,
    req: NextRequest,
  ): { deployment: DeploymentRec; dd: DeviceDeploymentRec; artifact: ArtifactRec } | undefined {
    const active = this.#activeDd.get(deviceId);
    if (active) {
      const dep = this.#deployments.get(active.deploymentId);
      const artifact = active.artifactId ? this.#artifacts.get(active.artifactId) : undefined;
      if (!dep) return undefined;
      const cmp = compareRequest(active.request, req);
      if (cmp === 'conflict') {
        this.#setDdStatus(active, 'failure');
        this.#changed();
        throw new SimHttpError(409, 'conflicting request data provided');
      }
      if (cmp === 'first') {
        active.request = req;
        this.#changed();
      }
      if (!artifact) return undefined;
      if (!dep.force && req.artifactName === artifact.name && active.status === 'pending') {
        this.#setDdStatus(active, 'already-installed');
        this.#changed();
        return undefined;
      }
      return { deployment: dep, dd: active, artifact };
    }

    const queue = this.#queues.get(deviceId);
    if (!queue || queue.length === 0) return undefined;
    const entries = queue.map((d) => ({ d, id: d.id, seq: d.seq, active: this.#ix(d.id).status !== 'finished' }));
    const { pick, drop } = pickDeployment(entries, this.#lastFinishedSeq.get(deviceId) ?? -1);
    if (!pick) {
      queue.splice(0, drop);
      return undefined;
    }
    queue.splice(0, drop + 1);
    const dep = pick.d;
    const candidates = (this.#artifactsByName.get(dep.artifactName) ?? []).map((a) => ({
      id: a.id,
      name: a.name,
      deviceTypes: a.deviceTypes,
    }));
    const verdict = decideAssignment({ request: req, force: dep.force, artifacts: candidates });
    const base = { deviceType: req.deviceType, request: req };
    let result: ReturnType<SimStore['next']>;
    switch (verdict.outcome) {
      case 'noartifact':
        this.#join(dep, deviceId, 'noartifact', base);
        break;
      case 'already-installed':
        this.#join(dep, deviceId, 'already-installed', { ...base, artifactId: verdict.artifactId });
        break;
      case 'install': {
        const artifact = this.#artifacts.get(verdict.artifactId);
        if (!artifact) break;
        const dd = this.#join(dep, deviceId, 'pending', { ...base, artifactId: artifact.id });
        dep.totalSize += artifact.size;
        result = { deployment: dep, dd, artifact };
        break;
      }
    }
    this.#changed();
    return result;
  }

  /** A device's status report: 204, 404 when it is not in that deployment, 409 once aborted/decommissioned. */
  reportStatus(
    deploymentId: string,
    deviceId: string,
    status: DeviceDeploymentStatus,
    substate: string | undefined,
  ): void {
    const dd = this.#depIndex.get(deploymentId)?.devices.get(deviceId);
    if (!dd) throw notFound();
    if (dd.status === 'aborted') throw new SimHttpError(409, 'deployment aborted');
    if (dd.status === 'decommissioned') throw new SimHttpError(409, 'device decommissioned');
    if (dd.status === status) return; // [code] "nothing to do", the substate included
    this.#setDdStatus(dd, status, substate);
    this.#changed();
  }

  saveLog(deploymentId: string, deviceId: string, messages: LogMessage[]): void {
    const dd = this.#depIndex.get(deploymentId)?.devices.get(deviceId);
    if (!dd) throw notFound('Deployment not found');
    dd.log = messages;
    this.#changed();
  }

  /**
   * PUT /deployments/{id}/status aborted: 422 once finished; active device entries end `aborted`.
   * [code] deployments api/http AbortDeployment asks IsDeploymentFinished first, which is true for an
   * unknown ID (no unfinished deployment found): so an unknown deployment is 422 too, never 404.
   */
  abort(deploymentId: string): void {
    const dep = this.#deployments.get(deploymentId);
    if (!dep) throw new SimHttpError(422, 'Deployment already finished');
    const ix = this.#ix(dep.id);
    if (ix.status === 'finished') throw new SimHttpError(422, 'Deployment already finished');
    for (const dd of ix.devices.values()) if (!isFinal(dd.status)) this.#setDdStatus(dd, 'aborted');
    dep.aborted = true;
    this.#recalc(dep);
    this.#changed();
  }

  /**
   * [code] updateDeviceDeploymentsStatus: the device's active entry and every newer active deployment
   * that targets it end in `status` (aborted for DELETE /deployments/devices/{id}, decommissioned).
   */
  #endDeviceDeployments(deviceId: string, status: 'aborted' | 'decommissioned'): void {
    const active = this.#activeDd.get(deviceId);
    if (active) this.#setDdStatus(active, status);
    const last = this.#lastFinishedSeq.get(deviceId) ?? -1;
    const queue = this.#queues.get(deviceId) ?? [];
    for (const dep of queue) {
      if (this.#ix(dep.id).status === 'finished' || dep.seq <= last) continue;
      this.#join(dep, deviceId, status, {});
    }
    this.#queues.set(deviceId, []);
  }

  abortDeviceDeployments(deviceId: string): void {
    this.#endDeviceDeployments(deviceId, 'aborted');
    this.#changed();
  }

  /** DELETE /deployments/devices/{id}/history: finished entries are marked deleted; the device may join again. */
  deleteHistory(deviceId: string): void {
    const now = this.now;
    for (const dd of this.#ddByDevice.get(deviceId) ?? []) {
      if (isFinal(dd.status) && dd.deletedMs === undefined) dd.deletedMs = now;
    }
    this.#reindexDevice(deviceId);
    this.#changed();
  }

  /** Recompute a device's active entry, last finished deployment and queue from the records (rare paths). */
  #reindexDevice(deviceId: string): void {
    this.#activeDd.delete(deviceId);
    this.#lastFinishedSeq.delete(deviceId);
    const joined = new Set<string>();
    for (const dd of this.#ddByDevice.get(deviceId) ?? []) {
      const dep = this.#deployments.get(dd.deploymentId);
      if (!dep) continue;
      if (!isFinal(dd.status)) {
        const cur = this.#activeDd.get(deviceId);
        if (!cur || (this.#deployments.get(cur.deploymentId)?.seq ?? 0) > dep.seq) this.#activeDd.set(deviceId, dd);
        joined.add(dep.id);
      } else if (dd.deletedMs === undefined) {
        this.#lastFinishedSeq.set(deviceId, Math.max(this.#lastFinishedSeq.get(deviceId) ?? -1, dep.seq));
        joined.add(dep.id);
      }
    }
    const queue: DeploymentRec[] = [];
    for (const dep of this.#deployments.values()) {
      const ix = this.#ix(dep.id);
      if (ix.status === 'finished' || joined.has(dep.id) || !ix.targets.has(deviceId)) continue;
      queue.push(dep);
    }
    this.#queues.set(deviceId, queue);
  }

  // ================================================================================ persistence

  snapshot(): StateFile {
    const dds: DeviceDeploymentRec[] = [];
    for (const ix of this.#depIndex.values()) dds.push(...ix.devices.values());
    return {
      format: 'vancore-mender-sim',
      version: 1,
      secret: this.#secret.toString('base64'),
      user: this.#user,
      pats: [...this.#pats.values()],
      tokens: [...this.#tokens.values()],
      devices: [...this.#devices.values()],
      artifacts: [...this.#artifacts.values()],
      releases: Object.fromEntries(this.#releases),
      deployments: [...this.#deployments.values()],
      deviceDeployments: dds,
      seq: this.#seq,
    };
  }

  #restore(s: StateFile): void {
    this.#seq = s.seq;
    for (const p of s.pats) this.#pats.set(p.id, p);
    for (const t of s.tokens) {
      this.#tokens.set(t.jti, t);
      if (t.kind === 'user') this.#sessions.push(t.jti);
      if (t.kind === 'device') {
        const list = this.#deviceTokens.get(t.sub) ?? [];
        list.push(t.jti);
        this.#deviceTokens.set(t.sub, list);
      }
    }
    for (const d of s.devices) {
      this.#devices.set(d.id, d);
      this.#byIdentity.set(d.identityKey, d.id);
      if (d.group !== undefined) {
        const set = this.#groups.get(d.group) ?? new Set<string>();
        set.add(d.id);
        this.#groups.set(d.group, set);
      }
    }
    for (const a of s.artifacts) {
      this.#artifacts.set(a.id, a);
      this.#indexArtifact(a);
    }
    for (const [name, meta] of Object.entries(s.releases)) this.#releases.set(name, meta);
    const bySeq = [...s.deployments].sort((a, b) => a.seq - b.seq);
    for (const d of bySeq) {
      this.#deployments.set(d.id, d);
      this.#depIndex.set(d.id, {
        targets: new Set(d.targets),
        stats: emptyStats(),
        status: 'pending',
        devices: new Map(),
      });
    }
    for (const dd of s.deviceDeployments) {
      const ix = this.#depIndex.get(dd.deploymentId);
      if (!ix) continue;
      ix.devices.set(dd.deviceId, dd);
      ix.stats[dd.status] += 1;
      const hist = this.#ddByDevice.get(dd.deviceId) ?? [];
      hist.push(dd);
      this.#ddByDevice.set(dd.deviceId, hist);
    }
    for (const d of bySeq) {
      const ix = this.#ix(d.id);
      ix.status = deploymentStatus({ aborted: d.aborted, maxDevices: ix.targets.size, stats: ix.stats });
    }
    const deviceIds = new Set<string>([...this.#devices.keys(), ...this.#ddByDevice.keys()]);
    for (const d of bySeq) for (const t of d.targets) deviceIds.add(t);
    for (const id of deviceIds) this.#reindexDevice(id);
  }
}
