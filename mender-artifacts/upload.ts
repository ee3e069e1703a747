// `vancore-ota artifact upload FILE --server URL …`: idempotent, streamed upload to the Mender
// management API. Each round senses the server (the artifacts listed under this exact name), decides
// (upload / already there / conflict) and acts; after an ambiguous failure (a 5xx, a reset
// connection, a 409) it senses again instead of blindly resending, so an upload that did land is
// recognised, and a retry never creates a duplicate.
import { stat } from 'node:fs/promises';
import { isAxiosError } from 'axios';
import { type ArtifactFileInfo, readArtifactFile } from '../core/artifact-file.js';
import { VanError } from '../core/errors.js';
import { MenderApiError } from '../core/mender/errors.js';
import type { MenderManagementClient } from '../core/mender/management.js';
import { type RetryPolicy, defaultRetryPolicy, retryDelayMs } from '../core/mender/retry.js';
import type { Progress } from './progress.js';

/** What the server knows of one artifact, reduced to what the decision needs. */
export interface RemoteArtifact {
  id: string;
  name: string;
  description: string;
  deviceTypes: string[];
  size: number | undefined;
  /** Payload file name → sha256, where the server lists them. */
  checksums: Record<string, string>;
}

/** The narrow view of the Mender management API this command needs (a fake in unit tests). */
export interface ArtifactRegistry {
  /** Artifacts whose name is exactly `name` (the server's filter is a substring match). */
  findByName(name: string): Promise<RemoteArtifact[]>;
  /** Upload; resolves with the new artifact's id. A 409 rejects with a MenderApiError of status 409. */
  upload(
    file: string,
    opts: { description: string; onProgress: (sent: number, total: number) => void },
  ): Promise<string>;
}

export function menderRegistry(client: MenderManagementClient): ArtifactRegistry {
  return {
    async findByName(name) {
      const found = await client.findArtifactsByName(name);
      return found.map((a) => ({
        id: a.id,
        name: a.name,
        description: a.description,
        deviceTypes: a.device_types_compatible,
        size: a.size,
        checksums: Object.fromEntries(
          (a.updates ?? []).flatMap((u) => (u.files ?? []).flatMap((f) => (f.checksum ? [[f.name, f.checksum]] : []))),
        ),
      }));
    },
    upload: (file, opts) =>
      client.uploadArtifact(file, {
        description: opts.description,
        onProgress: (p) => opts.onProgress(p.sent, p.total),
      }),
  };
}

export interface LocalArtifact {
  name: string;
  sha256: string;
  size: number;
  deviceTypes: string[];
  checksums: Record<string, string>;
}

export function localArtifact(info: ArtifactFileInfo): LocalArtifact {
  return {
    name: info.name,
    sha256: info.sha256,
    size: info.size,
    deviceTypes: info.deviceTypes,
    checksums: Object.fromEntries(info.payloads.flatMap((p) => p.files.map((f) => [f.name, f.checksum]))),
  };
}

/** The description we upload with: it carries the file's sha256, so a later upload can compare exactly. */
export function uploadDescription(local: LocalArtifact): string {
  return `${local.name} sha256:${local.sha256}`;
}

const SHA_TAG = /\bsha256:([0-9a-f]{64})\b/;

export type UploadDecision =
  { kind: 'upload' } | { kind: 'present'; id: string } | { kind: 'conflict'; id: string; reason: string };

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}

/**
 * Decide from what the server lists. Mender refuses a second artifact with the same name and
 * overlapping device types (409), so only those matter: the same content → already uploaded;
 * anything else → conflict. "Same content" is the sha256 in our description when there is one,
 * else the size and every payload checksum (an artifact uploaded by other means).
 */
export function decideUpload(local: LocalArtifact, remote: RemoteArtifact[]): UploadDecision {
  for (const r of remote) {
    if (r.name !== local.name) continue;
    if (!r.deviceTypes.some((t) => local.deviceTypes.includes(t))) continue;
    const tagged = SHA_TAG.exec(r.description)?.[1];
    if (tagged !== undefined) {
      return tagged === local.sha256
        ? { kind: 'present', id: r.id }
        : {
            kind: 'conflict',
            id: r.id,
            reason: `its sha256 is ${tagged.slice(0, 16)}…, this file's ${local.sha256.slice(0, 16)}…`,
          };
    }
    const names = Object.keys(local.checksums);
    const sameFiles =
      names.length > 0 &&
      sameSet(names, Object.keys(r.checksums)) &&
      names.every((n) => r.checksums[n] === local.checksums[n]);
    const sameSize = r.size === undefined || r.size === local.size;
    if (sameFiles && sameSize && sameSet(r.deviceTypes, local.deviceTypes)) return { kind: 'present', id: r.id };
    return { kind: 'conflict', id: r.id, reason: 'its size, payload checksums or device types differ' };
  }
  return { kind: 'upload' };
}

export interface UploadDeps {
  registry: ArtifactRegistry;
  progress: Progress;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  retry?: RetryPolicy;
}

export interface UploadResult {
  status: 'uploaded' | 'already-uploaded';
  id: string | undefined;
  name: string;
  sha256: string;
  size: number;
}

type Failure = { retry: boolean; conflict: boolean };

function classify(e: unknown): Failure {
  if (e instanceof MenderApiError) {
    return { retry: e.status === 429 || e.status >= 500, conflict: e.status === 409 };
  }
  // A network failure of the HTTP layer (reset, timeout, refused) after its own retries.
  const retry = e instanceof VanError && e.code === 'MENDER_API' && isAxiosError(e.cause);
  return { retry, conflict: false };
}

export async function uploadArtifact(file: string, deps: UploadDeps): Promise<UploadResult> {
  const st = await stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new VanError('INPUT_INVALID', `cannot read ${file}: ${e.code ?? String(e)}`);
  });
  if (!st.isFile()) throw new VanError('INPUT_INVALID', `${file} is not a file`);
  // One streamed pass: name, device types, payload checksums and the file's sha256.
  const local = localArtifact(await readArtifactFile(file));
  try {
    return await uploadIdempotently(file, local, deps);
  } catch (e) {
    deps.progress.done(false);
    throw e;
  }
}

/** Sense → decide → act until the server holds this artifact (or a conflict or hard error ends it). */
export async function uploadIdempotently(file: string, local: LocalArtifact, deps: UploadDeps): Promise<UploadResult> {
  const policy = deps.retry ?? defaultRetryPolicy;
  const base = { name: local.name, sha256: local.sha256, size: local.size };
  let refused = false;
  for (let attempt = 0; ; attempt++) {
    const decision = decideUpload(local, await deps.registry.findByName(local.name));
    switch (decision.kind) {
      case 'present':
        return { ...base, status: 'already-uploaded', id: decision.id };
      case 'conflict':
        throw new VanError(
          'CONFLICT',
          `${local.name} is already on the server with different content (artifact ${decision.id}: ${decision.reason}); bump the version instead of replacing it`,
        );
      case 'upload':
        break;
    }
    if (refused) {
      throw new VanError(
        'CONFLICT',
        `the server refused ${local.name} as a duplicate (409), but lists no artifact of that name for device types ${local.deviceTypes.join(', ')}`,
      );
    }
    try {
      deps.progress.update(0, 'uploading');
      const id = await deps.registry.upload(file, {
        description: uploadDescription(local),
        onProgress: (sent, total) => deps.progress.update(sent / Math.max(1, total), 'uploading'),
      });
      deps.progress.done(true);
      return { ...base, status: 'uploaded', id };
    } catch (e) {
      const f = classify(e);
      if (f.conflict) {
        // Someone (or our own earlier attempt) got there first: look again and judge the content.
        refused = true;
        continue;
      }
      if (!f.retry || attempt >= policy.retries) throw e;
      await deps.sleep(retryDelayMs(policy, attempt + 1, undefined, deps.random()));
    }
  }
}
