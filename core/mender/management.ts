// Mender OSS management API client (3.7 and 4.1; GUIDE.md): the calls the bridge, the packaging commands
// and the tests make. Pagination is by counting (a short page or X-Total-Count ends it): `Link` differs
// between services and inventory v2 sends none.
//
// Lists are read record by record (`parseEach`): a record that does not fit its schema is set aside in
// the page's `rejected` (with its id when it has one) and the rest of the list is used. The v2 lists of
// 4.1 (deployments, artifacts) are preferred; whether the server has them is learnt from its first
// answer (404 / 405 → the v1 list from then on), never configured.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import * as z from 'zod';
import { VanError } from '../errors.js';
import { MenderApiError } from './errors.js';
import { MenderHttp, type MenderHttpOptions } from './http.js';
import { multipartBody } from './multipart.js';
import {
  Artifact,
  AuthDevice,
  Count,
  Deployment,
  DeploymentDevice,
  DeploymentStatistics,
  DeviceDeploymentHistoryEntry,
  InventoryDevice,
  MenderGroupName,
  StatisticsListEntry,
} from './schemas.js';

const MGMT = '/api/management';
const INV1 = `${MGMT}/v1/inventory`;
const INV2 = `${MGMT}/v2/inventory`;
const DEVAUTH = `${MGMT}/v2/devauth`;
const DEPL = `${MGMT}/v1/deployments`;
const DEPL2 = `${MGMT}/v2/deployments`;

/** A list record that did not fit its schema: set aside, counted, reported — never fatal to the list. */
export interface RejectedRecord {
  kind: 'artifact' | 'deployment' | 'deployment_device' | 'inventory_device' | 'auth_device';
  /** The record's `id` when it has a string one. */
  id?: string;
  reason: string;
}

export interface Page<T> {
  items: T[];
  /** From X-Total-Count when the endpoint sends it. */
  total?: number;
  /** Records of this page that did not fit (they count towards the page size when paginating). */
  rejected?: RejectedRecord[];
}

/** Which list a server answers: learnt once per client from the first v2 call. */
export type ListApi = 'v2' | 'v1';

const AnyList = z.array(z.unknown());

/** Parse each record of a list on its own; the misfits go to `rejected` with the first issue as reason. */
export function parseEach<S extends z.ZodType>(
  schema: S,
  raw: unknown[],
  kind: RejectedRecord['kind'],
): { items: z.infer<S>[]; rejected: RejectedRecord[] } {
  const items: z.infer<S>[] = [];
  const rejected: RejectedRecord[] = [];
  for (const r of raw) {
    const parsed = schema.safeParse(r);
    if (parsed.success) {
      items.push(parsed.data);
      continue;
    }
    const id = r !== null && typeof r === 'object' && typeof (r as { id?: unknown }).id === 'string';
    const issue = parsed.error.issues[0];
    rejected.push({
      kind,
      ...(id ? { id: (r as { id: string }).id } : {}),
      reason: issue ? `${issue.path.join('.') || '(record)'}: ${issue.message}` : 'invalid record',
    });
  }
  return { items, rejected };
}

const notThere = (e: unknown) => e instanceof MenderApiError && (e.status === 404 || e.status === 405);

export interface SearchFilter {
  scope: 'identity' | 'inventory' | 'system' | 'tags';
  attribute: string;
  type: '$eq' | '$nin';
  value: string | number | boolean | (string | number)[];
}

export interface NewDeployment {
  name: string;
  artifact_name: string;
  devices?: string[];
  all_devices?: boolean;
  force_installation?: boolean;
}

export interface UploadProgress {
  sent: number;
  total: number;
}

/** The id at the end of a Location header such as `./management/v1/deployments/deployments/<id>`. */
export function idFromLocation(location: string | undefined): string {
  const id = location?.split('?')[0]?.split('/').filter(Boolean).pop();
  if (!id) throw new VanError('MENDER_API', 'Mender did not return a Location for the new object');
  return id;
}

type MenderQuery = Record<string, string | number | boolean | (string | number)[] | undefined>;

function total(headers: Record<string, string | undefined>): number | undefined {
  const v = headers['x-total-count'];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** A group name that Mender would refuse (or that would change the URL's path) never leaves the bridge. */
function checkGroupName(group: string): void {
  const r = MenderGroupName.safeParse(group);
  if (!r.success) throw new VanError('INPUT_INVALID', `group ${JSON.stringify(group)}: ${r.error.issues[0]?.message}`);
}

export class MenderManagementClient {
  readonly http: MenderHttp;
  readonly pageSize: number;
  /** Per list, what the server answered: unset until the first call. */
  readonly #lists: { deployments?: ListApi; artifacts?: ListApi } = {};

  constructor(http: MenderHttp, options: { pageSize?: number } = {}) {
    this.http = http;
    this.pageSize = options.pageSize ?? 500;
  }

  static create(options: MenderHttpOptions & { pageSize?: number }): MenderManagementClient {
    return new MenderManagementClient(new MenderHttp(options), options);
  }

  /** What each list endpoint turned out to be on this server (`undefined` = not asked yet). */
  get listApis(): Readonly<{ deployments?: ListApi; artifacts?: ListApi }> {
    return { ...this.#lists };
  }

  /**
   * Every item across pages: asks page 1, 2, … until a short page or the announced total. Rejected
   * records count towards the page (a page of misfits is still a full page) and go to `onRejected`.
   */
  async *paginate<T>(
    fetchPage: (page: number, perPage: number) => Promise<Page<T>>,
    perPage = this.pageSize,
    onRejected?: (rejected: RejectedRecord[]) => void,
  ): AsyncGenerator<T[]> {
    let seen = 0;
    for (let page = 1; ; page++) {
      const { items, total: announced, rejected = [] } = await fetchPage(page, perPage);
      if (rejected.length > 0) onRejected?.(rejected);
      if (items.length > 0) yield items;
      const count = items.length + rejected.length;
      seen += count;
      if (count < perPage || (announced !== undefined && seen >= announced)) return;
    }
  }

  async collect<T>(
    fetchPage: (page: number, perPage: number) => Promise<Page<T>>,
    perPage?: number,
    onRejected?: (rejected: RejectedRecord[]) => void,
  ): Promise<T[]> {
    const all: T[] = [];
    for await (const items of this.paginate(fetchPage, perPage, onRejected)) all.push(...items);
    return all;
  }

  /** The v2 list when the server has it (learnt from the first answer), else v1. */
  async #preferV2<T>(list: 'deployments' | 'artifacts', v2: () => Promise<T>, v1: () => Promise<T>): Promise<T> {
    if (this.#lists[list] === 'v1') return v1();
    try {
      const out = await v2();
      this.#lists[list] = 'v2';
      return out;
    } catch (e) {
      if (this.#lists[list] === undefined && notThere(e)) {
        this.#lists[list] = 'v1';
        return v1();
      }
      throw e;
    }
  }

  // ---- inventory -------------------------------------------------------------------------------

  async listInventoryDevices(
    q: {
      page?: number;
      perPage?: number;
      filters?: Record<string, string>;
      sort?: string;
      group?: string;
      hasGroup?: boolean;
    } = {},
  ): Promise<Page<InventoryDevice>> {
    const res = await this.http.request({
      method: 'GET',
      path: `${INV1}/devices`,
      query: {
        page: q.page ?? 1,
        per_page: q.perPage ?? this.pageSize,
        sort: q.sort,
        group: q.group,
        has_group: q.hasGroup,
        ...q.filters,
      },
      schema: AnyList,
    });
    return { ...parseEach(InventoryDevice, res.data, 'inventory_device'), total: total(res.headers) };
  }

  /** v2 search (`$eq`, and the undocumented but working `$nin`); no Link header, X-Total-Count only. */
  async searchDevices(
    q: {
      page?: number;
      perPage?: number;
      filters?: SearchFilter[];
      sort?: { scope: string; attribute: string; order: 'asc' | 'desc' }[];
      attributes?: { scope: string; attribute: string }[];
      deviceIds?: string[];
    } = {},
  ): Promise<Page<InventoryDevice>> {
    const res = await this.http.request({
      method: 'POST',
      path: `${INV2}/filters/search`,
      body: {
        page: q.page ?? 1,
        per_page: q.perPage ?? this.pageSize,
        filters: q.filters ?? [],
        ...(q.sort ? { sort: q.sort } : {}),
        ...(q.attributes ? { attributes: q.attributes } : {}),
        ...(q.deviceIds ? { device_ids: q.deviceIds } : {}),
      },
      idempotent: true, // a search changes nothing
      schema: AnyList,
    });
    return { ...parseEach(InventoryDevice, res.data, 'inventory_device'), total: total(res.headers) };
  }

  async getInventoryDevice(id: string): Promise<InventoryDevice> {
    return (
      await this.http.request({
        method: 'GET',
        path: `${INV1}/devices/${encodeURIComponent(id)}`,
        schema: InventoryDevice,
      })
    ).data;
  }

  /** Upsert (PATCH) or replace (PUT) a device's tags. */
  async setTags(
    id: string,
    tags: { name: string; value: string; description?: string }[],
    opts: { replace?: boolean; ifMatch?: string } = {},
  ): Promise<void> {
    await this.http.request({
      method: opts.replace ? 'PUT' : 'PATCH',
      path: `${INV1}/devices/${encodeURIComponent(id)}/tags`,
      body: tags,
      idempotent: true, // setting the same tags twice gives the same result
      ...(opts.ifMatch ? { headers: { 'If-Match': opts.ifMatch } } : {}),
    });
  }

  async setGroup(id: string, group: string): Promise<void> {
    checkGroupName(group);
    await this.http.request({
      method: 'PUT',
      path: `${INV1}/devices/${encodeURIComponent(id)}/group`,
      body: { group },
    });
  }

  async listGroupDevices(group: string, q: { page?: number; perPage?: number } = {}): Promise<Page<string>> {
    checkGroupName(group);
    const res = await this.http.request({
      method: 'GET',
      path: `${INV1}/groups/${encodeURIComponent(group)}/devices`,
      query: { page: q.page ?? 1, per_page: q.perPage ?? this.pageSize },
      schema: z.array(z.string()),
    });
    return { items: res.data, total: total(res.headers) };
  }

  // ---- device authentication ---------------------------------------------------------------------

  /** deviceauth lists send no X-Total-Count (use countAuthDevices). */
  async listAuthDevices(
    q: { status?: AuthDevice['status']; page?: number; perPage?: number; ids?: string[] } = {},
  ): Promise<Page<AuthDevice>> {
    const res = await this.http.request({
      method: 'GET',
      path: `${DEVAUTH}/devices`,
      query: { status: q.status, page: q.page ?? 1, per_page: q.perPage ?? this.pageSize, id: q.ids },
      schema: AnyList,
    });
    return parseEach(AuthDevice, res.data, 'auth_device');
  }

  async countAuthDevices(status?: AuthDevice['status']): Promise<number> {
    return (
      await this.http.request({ method: 'GET', path: `${DEVAUTH}/devices/count`, query: { status }, schema: Count })
    ).data.count;
  }

  async getAuthDevice(id: string): Promise<AuthDevice> {
    return (
      await this.http.request({
        method: 'GET',
        path: `${DEVAUTH}/devices/${encodeURIComponent(id)}`,
        schema: AuthDevice,
      })
    ).data;
  }

  async setAuthSetStatus(
    deviceId: string,
    authSetId: string,
    status: 'accepted' | 'rejected' | 'pending',
  ): Promise<void> {
    await this.http.request({
      method: 'PUT',
      path: `${DEVAUTH}/devices/${encodeURIComponent(deviceId)}/auth/${encodeURIComponent(authSetId)}/status`,
      body: { status },
    });
  }

  /** Accept a device's pending auth set (the newest one when it has several). */
  async acceptDevice(deviceId: string): Promise<void> {
    const device = await this.getAuthDevice(deviceId);
    const pending = device.auth_sets.filter((a) => a.status === 'pending').at(-1);
    if (!pending) {
      if (device.status === 'accepted') return;
      throw new VanError('CONFLICT', `device ${deviceId} has no pending authentication request`);
    }
    await this.setAuthSetStatus(deviceId, pending.id, 'accepted');
  }

  async decommissionDevice(deviceId: string): Promise<void> {
    await this.http.request({ method: 'DELETE', path: `${DEVAUTH}/devices/${encodeURIComponent(deviceId)}` });
  }

  // ---- artifacts -----------------------------------------------------------------------------------

  /**
   * Artifacts, v2 (`GET /v2/deployments/artifacts`, 4.1: exact `name`) or v1 (`/v1/deployments/artifacts/list`,
   * where `name` is a case-insensitive substring): compare exact names yourself.
   */
  async listArtifacts(q: { name?: string; page?: number; perPage?: number } = {}): Promise<Page<Artifact>> {
    const query = { name: q.name, page: q.page ?? 1, per_page: q.perPage ?? this.pageSize };
    const get = async (path: string) => {
      const res = await this.http.request({ method: 'GET', path, query, schema: AnyList });
      return { ...parseEach(Artifact, res.data, 'artifact'), total: total(res.headers) };
    };
    return this.#preferV2(
      'artifacts',
      () => get(`${DEPL2}/artifacts`),
      () => get(`${DEPL}/artifacts/list`),
    );
  }

  async findArtifactsByName(name: string): Promise<Artifact[]> {
    const all = await this.collect((page, perPage) => this.listArtifacts({ name, page, perPage }));
    return all.filter((a) => a.name === name);
  }

  async getArtifact(id: string): Promise<Artifact> {
    return (
      await this.http.request({ method: 'GET', path: `${DEPL}/artifacts/${encodeURIComponent(id)}`, schema: Artifact })
    ).data;
  }

  /**
   * Streamed multipart upload (the file is never held in memory); `artifact` is the last part as Mender
   * requires. Returns the new artifact id. A 409 (same name and device types) surfaces as CONFLICT.
   */
  async uploadArtifact(
    file: string,
    opts: { description?: string; onProgress?: (p: UploadProgress) => void; timeoutMs?: number } = {},
  ): Promise<string> {
    const { size } = await stat(file);
    const body = multipartBody(
      { ...(opts.description ? { description: opts.description } : {}), size: String(size) },
      { field: 'artifact', filename: basename(file), path: file, size, contentType: 'application/vnd.mender-artifact' },
    );
    const res = await this.http.request({
      method: 'POST',
      path: `${DEPL}/artifacts`,
      stream: {
        open: () => body.open((sent) => opts.onProgress?.({ sent: Math.min(sent, body.length), total: body.length })),
        length: body.length,
        contentType: body.contentType,
      },
      // At least 1 MB/s before giving up on a stalled upload, never less than 2 minutes.
      timeoutMs: opts.timeoutMs ?? Math.max(120_000, Math.ceil(size / 1_000)),
      accept: [201],
    });
    return idFromLocation(res.headers.location);
  }

  /** A time-limited download link for an artifact (what devices get as `source.uri`). */
  async artifactDownloadLink(id: string): Promise<{ uri: string; expire?: string | undefined }> {
    return (
      await this.http.request({
        method: 'GET',
        path: `${DEPL}/artifacts/${encodeURIComponent(id)}/download`,
        schema: z.looseObject({ uri: z.string(), expire: z.string().optional() }),
      })
    ).data;
  }

  async deleteArtifact(id: string): Promise<void> {
    await this.http.request({ method: 'DELETE', path: `${DEPL}/artifacts/${encodeURIComponent(id)}` });
  }

  // ---- deployments ---------------------------------------------------------------------------------

  /** Create a deployment to a device list (or all devices). Not resent after an ambiguous failure. */
  async createDeployment(d: NewDeployment): Promise<string> {
    const res = await this.http.request({ method: 'POST', path: `${DEPL}/deployments`, body: d, accept: [201] });
    return idFromLocation(res.headers.location);
  }

  async createGroupDeployment(group: string, d: Omit<NewDeployment, 'devices' | 'all_devices'>): Promise<string> {
    checkGroupName(group);
    const res = await this.http.request({
      method: 'POST',
      path: `${DEPL}/deployments/group/${encodeURIComponent(group)}`,
      body: d,
      accept: [201],
    });
    return idFromLocation(res.headers.location);
  }

  async getDeployment(id: string): Promise<Deployment> {
    return (
      await this.http.request({
        method: 'GET',
        path: `${DEPL}/deployments/${encodeURIComponent(id)}`,
        schema: Deployment,
      })
    ).data;
  }

  /**
   * Deployments, v2 (`GET /v2/deployments/deployments`, 4.1) when the server has it, else v1. `search` is
   * v1's (a whole-word phrase match on the real server): with it the v1 list is asked; `names` is v2's
   * exact match, and on a v1-only server falls back to `search` of the first name (compare names yourself).
   */
  async listDeployments(
    q: {
      status?: 'pending' | 'inprogress' | 'finished';
      search?: string;
      names?: string[];
      page?: number;
      perPage?: number;
      sort?: 'asc' | 'desc';
      createdAfter?: number;
    } = {},
  ): Promise<Page<Deployment>> {
    const common = {
      status: q.status,
      page: q.page ?? 1,
      per_page: q.perPage ?? this.pageSize,
      sort: q.sort,
      created_after: q.createdAfter,
    };
    const get = async (path: string, query: MenderQuery) => {
      const res = await this.http.request({ method: 'GET', path, query, schema: AnyList });
      return { ...parseEach(Deployment, res.data, 'deployment'), total: total(res.headers) };
    };
    const v1 = () => get(`${DEPL}/deployments`, { ...common, search: q.search ?? q.names?.[0] });
    if (q.search !== undefined) return v1();
    return this.#preferV2('deployments', () => get(`${DEPL2}/deployments`, { ...common, name: q.names }), v1);
  }

  async deploymentStatistics(id: string): Promise<DeploymentStatistics> {
    return (
      await this.http.request({
        method: 'GET',
        path: `${DEPL}/deployments/${encodeURIComponent(id)}/statistics`,
        schema: DeploymentStatistics,
      })
    ).data;
  }

  /** Statistics of up to 100 deployments per call (batched here). */
  async statisticsList(ids: string[]): Promise<Map<string, DeploymentStatistics>> {
    const out = new Map<string, DeploymentStatistics>();
    for (let i = 0; i < ids.length; i += 100) {
      const res = await this.http.request({
        method: 'POST',
        path: `${DEPL}/deployments/statistics/list`,
        body: { deployment_ids: ids.slice(i, i + 100) },
        idempotent: true,
        schema: z.array(StatisticsListEntry),
      });
      for (const e of res.data) out.set(e.id, e.stats);
    }
    return out;
  }

  async deploymentDevices(
    id: string,
    q: { status?: string; page?: number; perPage?: number } = {},
  ): Promise<Page<DeploymentDevice>> {
    const res = await this.http.request({
      method: 'GET',
      path: `${DEPL}/deployments/${encodeURIComponent(id)}/devices/list`,
      query: { status: q.status, page: q.page ?? 1, per_page: q.perPage ?? this.pageSize },
      schema: AnyList,
    });
    return { ...parseEach(DeploymentDevice, res.data, 'deployment_device'), total: total(res.headers) };
  }

  async deploymentDeviceIds(id: string): Promise<string[]> {
    return (
      await this.http.request({
        method: 'GET',
        path: `${DEPL}/deployments/${encodeURIComponent(id)}/device_list`,
        schema: z.array(z.string()),
      })
    ).data;
  }

  /** The device's deployment log as text, one `<timestamp> <level>: <message>` line per message. */
  async deviceLog(deploymentId: string, deviceId: string): Promise<string> {
    const res = await this.http.request({
      method: 'GET',
      path: `${DEPL}/deployments/${encodeURIComponent(deploymentId)}/devices/${encodeURIComponent(deviceId)}/log`,
      text: true,
      headers: { Accept: 'text/plain' },
    });
    return String(res.data);
  }

  /** Abort; devices mid-update roll back at their next status report. 422 when already finished. */
  async abortDeployment(id: string): Promise<void> {
    await this.http.request({
      method: 'PUT',
      path: `${DEPL}/deployments/${encodeURIComponent(id)}/status`,
      body: { status: 'aborted' },
    });
  }

  /** A device's deployment history (the server caps per_page at 20 here). */
  async deviceHistory(
    deviceId: string,
    q: { status?: string; page?: number; perPage?: number } = {},
  ): Promise<Page<DeviceDeploymentHistoryEntry>> {
    const res = await this.http.request({
      method: 'GET',
      path: `${DEPL}/deployments/devices/${encodeURIComponent(deviceId)}`,
      query: { status: q.status, page: q.page ?? 1, per_page: Math.min(q.perPage ?? 20, 20) },
      schema: z.array(DeviceDeploymentHistoryEntry),
    });
    return { items: res.data, total: total(res.headers) };
  }
}
