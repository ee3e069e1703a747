// A thin client of the Mender 3.7 OSS management API (../shared/mender-api/GUIDE.md §1–§4), used by the
// system tests to drive the simulator exactly as an operator or the bridge would drive a real server:
// plain fetch, documented paths and status codes, responses parsed (never cast) at the boundary.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { z } from 'zod';

const MGMT = '/api/management';

export const AuthSet = z.looseObject({ id: z.string(), status: z.string() });
export const DevauthDevice = z.looseObject({
  id: z.string(),
  status: z.string(),
  identity_data: z.record(z.string(), z.unknown()),
  auth_sets: z.array(AuthSet).optional(),
});
export type DevauthDevice = z.infer<typeof DevauthDevice>;

const count = z.number().int();
/** `GET …/statistics`: DeploymentStatusStatistics (every key required by the spec). */
export const Statistics = z.looseObject({
  success: count,
  pending: count,
  downloading: count,
  installing: count,
  rebooting: count,
  failure: count,
  noartifact: count,
  'already-installed': count,
  aborted: count,
});
export type Statistics = z.infer<typeof Statistics>;

export const Deployment = z.looseObject({
  id: z.string(),
  name: z.string(),
  artifact_name: z.string(),
  status: z.enum(['pending', 'inprogress', 'finished']),
  device_count: z.number().int(),
});
export type Deployment = z.infer<typeof Deployment>;

export const DeviceDeployment = z.looseObject({
  id: z.string(),
  status: z.string(),
  log: z.boolean().optional(),
  substate: z.string().optional(),
});
export type DeviceDeployment = z.infer<typeof DeviceDeployment>;

export const InventoryDevice = z.looseObject({
  id: z.string(),
  attributes: z.array(z.looseObject({ name: z.string(), value: z.unknown(), scope: z.string().optional() })).optional(),
});
export type InventoryDevice = z.infer<typeof InventoryDevice>;

export class MgmtError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${method} ${path} -> ${status}: ${body.slice(0, 500)}`);
  }
}

/** `POST /useradm/auth/login` with Basic auth; the body is the raw JWT (GUIDE §1). */
export async function login(baseUrl: string, user: string, password: string): Promise<string> {
  const path = `${MGMT}/v1/useradm/auth/login`;
  const res = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
  });
  const body = await res.text();
  if (res.status !== 200) throw new MgmtError('POST', path, res.status, body);
  return body.trim();
}

export class MgmtClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
  ) {}

  static async login(baseUrl: string, user: string, password: string): Promise<MgmtClient> {
    return new MgmtClient(baseUrl, await login(baseUrl, user, password));
  }

  async #call(
    method: string,
    path: string,
    opts: { json?: unknown; body?: FormData; expect?: readonly number[] } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    let body: string | FormData | undefined = opts.body;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    const res = await fetch(`${this.baseUrl}${MGMT}${path}`, { method, headers, body });
    if (!(opts.expect ?? [200]).includes(res.status)) {
      throw new MgmtError(method, `${MGMT}${path}`, res.status, await res.text());
    }
    return res;
  }

  async #json<T>(schema: z.ZodType<T>, method: string, path: string): Promise<T> {
    const res = await this.#call(method, path);
    return schema.parse(await res.json());
  }

  /** The last path segment of a 201's `Location` (GUIDE §0: relative, with an odd prefix). */
  static #createdId(res: Response): string {
    const id = res.headers.get('location')?.split('/').pop();
    if (!id) throw new Error(`201 without a Location header from ${res.url}`);
    return id;
  }

  // --- deviceauth (GUIDE §2.1)

  devices(status?: 'pending' | 'accepted' | 'rejected' | 'preauthorized' | 'noauth'): Promise<DevauthDevice[]> {
    const q = status ? `?status=${status}` : '';
    return this.#json(z.array(DevauthDevice), 'GET', `/v2/devauth/devices${q}`);
  }

  device(id: string): Promise<DevauthDevice> {
    return this.#json(DevauthDevice, 'GET', `/v2/devauth/devices/${id}`);
  }

  /** Accepts the device's pending auth set (`PUT …/auth/{aid}/status`, 204). */
  async acceptDevice(id: string): Promise<void> {
    const dev = await this.device(id);
    const set = dev.auth_sets?.find((a) => a.status === 'pending') ?? dev.auth_sets?.[0];
    if (!set) throw new Error(`device ${id} has no auth set to accept`);
    await this.#call('PUT', `/v2/devauth/devices/${id}/auth/${set.id}/status`, {
      json: { status: 'accepted' },
      expect: [204],
    });
  }

  // --- inventory (GUIDE §2.2)

  inventoryDevice(id: string): Promise<InventoryDevice> {
    return this.#json(InventoryDevice, 'GET', `/v1/inventory/devices/${id}`);
  }

  /** A device's attribute value in scope `inventory`, as the device reported it. */
  async inventoryAttribute(id: string, name: string): Promise<unknown> {
    const dev = await this.inventoryDevice(id);
    return dev.attributes?.find((a) => a.name === name && (a.scope ?? 'inventory') === 'inventory')?.value;
  }

  // --- artifacts (GUIDE §3)

  /** Multipart upload, the `artifact` part last; returns the new artifact's id. */
  async uploadArtifact(file: string, description = ''): Promise<string> {
    const form = new FormData();
    form.append('description', description);
    form.append('artifact', new Blob([await readFile(file)]), basename(file));
    const res = await this.#call('POST', '/v1/deployments/artifacts', { body: form, expect: [201] });
    return MgmtClient.#createdId(res);
  }

  // --- deployments (GUIDE §4)

  /** `POST /deployments` to an explicit device list; returns the deployment id. */
  async createDeployment(d: { name: string; artifact_name: string; devices: readonly string[] }): Promise<string> {
    const res = await this.#call('POST', '/v1/deployments/deployments', { json: d, expect: [201] });
    return MgmtClient.#createdId(res);
  }

  deployment(id: string): Promise<Deployment> {
    return this.#json(Deployment, 'GET', `/v1/deployments/deployments/${id}`);
  }

  statistics(id: string): Promise<Statistics> {
    return this.#json(Statistics, 'GET', `/v1/deployments/deployments/${id}/statistics`);
  }

  /** Per-device statuses (`GET …/devices/list`, paginated; one page is plenty for a test). */
  deviceDeployments(id: string): Promise<DeviceDeployment[]> {
    return this.#json(z.array(DeviceDeployment), 'GET', `/v1/deployments/deployments/${id}/devices/list?per_page=500`);
  }

  /** The device's deployment log: text/plain, one `<timestamp> <level>: <message>` line per message. */
  async deviceLog(id: string, deviceId: string): Promise<string> {
    const res = await this.#call('GET', `/v1/deployments/deployments/${id}/devices/${deviceId}/log`);
    return res.text();
  }

  /** `PUT …/status {"status":"aborted"}` (204; 422 once finished). */
  async abort(id: string): Promise<void> {
    await this.#call('PUT', `/v1/deployments/deployments/${id}/status`, {
      json: { status: 'aborted' },
      expect: [204],
    });
  }
}
