// Helpers for tests that drive the simulator over HTTP: a device that speaks the device API the way
// mender-client 3.4 does (signed auth request, inventory PUT, v2 → v1 next, status, log), a thin
// management client, and artifacts built with the real mender-artifact.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON when it is JSON, else undefined. */
  json: unknown;
}

/** Sees every request/response made through `http` (contract tests validate each one). */
export type Observer = (request: { method: string; url: string }, response: HttpResult) => void;

export async function http(
  url: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer | FormData;
    observe?: Observer;
  } = {},
): Promise<HttpResult> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    ...(init.headers ? { headers: init.headers } : {}),
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const result = { status: res.status, headers: res.headers, text, json };
  init.observe?.({ method: init.method ?? 'GET', url }, result);
  return result;
}

export type KeyKind = 'ed25519' | 'rsa' | 'ec';

export function deviceKeys(kind: KeyKind = 'ed25519'): { privateKey: KeyObject; publicPem: string } {
  const pair =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : kind === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
        : generateKeyPairSync('ed25519');
  return { privateKey: pair.privateKey, publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** A device as mender-client 3.4 talks to the server. */
export class SimDevice {
  readonly baseUrl: string;
  readonly identity: Record<string, string>;
  readonly #keys: { privateKey: KeyObject; publicPem: string };
  readonly #kind: KeyKind;
  readonly #observe: Observer | undefined;
  token: string | undefined;
  artifactName: string;
  deviceType: string;

  constructor(
    baseUrl: string,
    opts: {
      mac?: string;
      identity?: Record<string, string>;
      keyKind?: KeyKind;
      artifactName?: string;
      deviceType?: string;
      observe?: Observer;
    } = {},
  ) {
    this.baseUrl = baseUrl;
    this.#observe = opts.observe;
    this.identity = opts.identity ?? { mac: opts.mac ?? '02:00:00:00:00:01' };
    this.#kind = opts.keyKind ?? 'ed25519';
    this.#keys = deviceKeys(this.#kind);
    this.artifactName = opts.artifactName ?? 'factory-image';
    this.deviceType = opts.deviceType ?? 'vanpc';
  }

  get publicPem(): string {
    return this.#keys.publicPem;
  }

  /** POST auth_requests, signed like the client (RSA PKCS#1 v1.5 / ECDSA DER / Ed25519 over the body). */
  async authenticate(opts: { badSignature?: boolean } = {}): Promise<HttpResult> {
    const body = `${JSON.stringify({ id_data: JSON.stringify(this.identity), pubkey: this.#keys.publicPem, tenant_token: '' })}\n`;
    const data = Buffer.from(body);
    const sig = sign(
      this.#kind === 'ed25519' ? null : 'sha256',
      opts.badSignature ? Buffer.from('other') : data,
      this.#keys.privateKey,
    );
    const r = await this.#http(`${this.baseUrl}/api/devices/v1/authentication/auth_requests`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-MEN-Signature': sig.toString('base64'),
        Authorization: 'Bearer ',
      },
      body: data,
    });
    if (r.status === 200) this.token = r.text;
    return r;
  }

  #http(url: string, init: Parameters<typeof http>[1] = {}): Promise<HttpResult> {
    return http(url, { ...init, ...(this.#observe ? { observe: this.#observe } : {}) });
  }

  #auth(): Record<string, string> {
    return { Authorization: `Bearer ${this.token ?? ''}`, 'Content-Type': 'application/json' };
  }

  async putInventory(attrs: Record<string, unknown>, method: 'PUT' | 'PATCH' = 'PUT'): Promise<HttpResult> {
    const list = Object.entries({ device_type: this.deviceType, artifact_name: this.artifactName, ...attrs }).map(
      ([name, value]) => ({ name, value }),
    );
    return this.#http(`${this.baseUrl}/api/devices/v1/inventory/device/attributes`, {
      method,
      headers: this.#auth(),
      body: `${JSON.stringify(list)}\n`,
    });
  }

  /** The client 3.x sequence: POST v2 (404 in OSS) → POST v1. Returns the v1 answer. */
  async next(how: 'client3' | 'get' | 'post' = 'client3'): Promise<HttpResult> {
    const base = `${this.baseUrl}/api/devices`;
    const provides = { artifact_name: this.artifactName, device_type: this.deviceType };
    if (how === 'get') {
      const q = new URLSearchParams(provides);
      return this.#http(`${base}/v1/deployments/device/deployments/next?${q.toString()}`, { headers: this.#auth() });
    }
    if (how === 'client3') {
      const v2 = await this.#http(`${base}/v2/deployments/device/deployments/next`, {
        method: 'POST',
        headers: this.#auth(),
        body: JSON.stringify({ device_provides: provides, update_control_map: true }),
      });
      if (v2.status !== 404) return v2;
    }
    return this.#http(`${base}/v1/deployments/device/deployments/next`, {
      method: 'POST',
      headers: this.#auth(),
      body: JSON.stringify(provides),
    });
  }

  async status(deploymentId: string, status: string, substate?: string): Promise<HttpResult> {
    return this.#http(`${this.baseUrl}/api/devices/v1/deployments/device/deployments/${deploymentId}/status`, {
      method: 'PUT',
      headers: this.#auth(),
      body: `${JSON.stringify({ status, ...(substate ? { substate } : {}) })}\n`,
    });
  }

  async log(
    deploymentId: string,
    messages: { timestamp: string; level: string; message: string }[],
  ): Promise<HttpResult> {
    return this.#http(`${this.baseUrl}/api/devices/v1/deployments/device/deployments/${deploymentId}/log`, {
      method: 'PUT',
      headers: this.#auth(),
      body: JSON.stringify({ messages }),
    });
  }
}

/** Management API calls with a bearer token. Paths are relative to `/api/management`. */
export class Mgmt {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
    readonly observe?: Observer,
  ) {}

  call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
    return http(`${this.baseUrl}/api/management${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(this.observe ? { observe: this.observe } : {}),
    });
  }

  get(path: string): Promise<HttpResult> {
    return this.call('GET', path);
  }

  async upload(file: Buffer, filename = 'a.mender', description?: string): Promise<HttpResult> {
    const form = new FormData();
    if (description !== undefined) form.append('description', description);
    form.append('size', String(file.length));
    form.append('artifact', new Blob([file], { type: 'application/octet-stream' }), filename);
    return http(`${this.baseUrl}/api/management/v1/deployments/artifacts`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${this.token}` },
      body: form,
      ...(this.observe ? { observe: this.observe } : {}),
    });
  }

  /** Accept a pending device by its (only) auth set. */
  async accept(deviceId: string): Promise<HttpResult> {
    const dev = await this.get(`/v2/devauth/devices/${deviceId}`);
    const aid = (dev.json as { auth_sets: { id: string }[] }).auth_sets[0]?.id ?? '';
    return this.call('PUT', `/v2/devauth/devices/${deviceId}/auth/${aid}/status`, { status: 'accepted' });
  }
}

export interface ArtifactSpec {
  name: string;
  deviceTypes?: string[];
  type?: string;
  compression?: 'none' | 'gzip' | 'lzma';
  /** Files to put in the payload: name → content. */
  files?: Record<string, string>;
  metaData?: Record<string, unknown>;
  provides?: Record<string, string>;
  depends?: Record<string, string>;
  /** Artifact state script names (each a tiny `exit 0` script). */
  scripts?: string[];
  softwareName?: string;
  softwareVersion?: string;
  /** Sign with a freshly made ECDSA P-256 key (SEC1; mender-artifact rejects PKCS#8, RECIPE §2.3). */
  signed?: boolean;
}

/** Build a module-image artifact with the real mender-artifact 3.9; returns its path. */
export async function buildArtifact(dir: string, spec: ArtifactSpec): Promise<string> {
  const work = join(dir, `src-${spec.name}-${Math.random().toString(36).slice(2, 8)}`);
  await mkdir(work, { recursive: true });
  const args = ['write', 'module-image', '-T', spec.type ?? 'vancore-compose', '-n', spec.name];
  for (const t of spec.deviceTypes ?? ['vanpc']) args.push('-t', t);
  for (const [name, content] of Object.entries(spec.files ?? { 'docker-compose.yml': 'services: {}\n' })) {
    await writeFile(join(work, name), content);
    args.push('-f', join(work, name));
  }
  if (spec.metaData) {
    await writeFile(join(work, 'meta-data.json'), JSON.stringify(spec.metaData));
    args.push('-m', join(work, 'meta-data.json'));
  }
  for (const [k, v] of Object.entries(spec.provides ?? {})) args.push('-p', `${k}:${v}`);
  for (const [k, v] of Object.entries(spec.depends ?? {})) args.push('-d', `${k}:${v}`);
  for (const s of spec.scripts ?? []) {
    await writeFile(join(work, s), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    args.push('-s', join(work, s));
  }
  if (spec.softwareName) args.push('--software-name', spec.softwareName);
  if (spec.softwareVersion) args.push('--software-version', spec.softwareVersion);
  if (spec.compression) args.push('--compression', spec.compression);
  if (spec.signed) {
    const key = join(work, 'sign.key');
    await run('openssl', ['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', key]);
    args.push('-k', key);
  }
  const out = join(dir, `${spec.name}-${spec.compression ?? 'gzip'}${spec.signed ? '-signed' : ''}.mender`);
  args.push('-o', out);
  await run('mender-artifact', args);
  return out;
}
