// Reading what the client put in the module tree: the payload index and the payload files (flat, in
// <tree>/files). Shared by the compose and config modules; all checks here are pure or read-only.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArtifactMetaData } from '../../core/schemas/artifact-meta.js';
import type { PayloadType } from '../../core/schemas/common.js';
import { type KnownComponent } from '../../core/schemas/components.js';
import { componentsOf } from '../../core/schemas/payload.js';
import { PAYLOAD_INDEX_FILE } from '../../core/schemas/payload-index.js';
import { VanError } from '../../core/errors.js';

export interface PayloadFile {
  name: string;
  size: number;
}

/** The files the client stored for this payload, with their sizes. */
export async function listPayloadFiles(filesDir: string): Promise<PayloadFile[]> {
  let names: string[];
  try {
    names = await readdir(filesDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: PayloadFile[] = [];
  for (const name of names.sort()) {
    // lstat: a link or directory the index cannot have listed is still seen (and refused) as unlisted.
    const st = await lstat(join(filesDir, name));
    out.push({ name, size: st.isFile() ? st.size : -1 });
  }
  return out;
}

/** The raw index JSON, or a one-line INPUT_INVALID error. */
export async function readIndexJson(filesDir: string, type: PayloadType): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(join(filesDir, PAYLOAD_INDEX_FILE), 'utf8');
  } catch {
    throw new VanError(
      'INPUT_INVALID',
      `payload has no ${PAYLOAD_INDEX_FILE}: not a ${type} artifact built by 'vancore-ota artifact build'`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new VanError('INPUT_INVALID', `${PAYLOAD_INDEX_FILE} is not valid JSON`);
  }
}

/** Pure: the component must be one this payload type installs (core/schemas/components.ts). */
export function checkComponent(type: PayloadType, component: string): KnownComponent {
  const allowed = componentsOf(type);
  if (!(allowed as string[]).includes(component)) {
    throw new VanError(
      'INPUT_INVALID',
      `unknown component '${component}': ${type} installs ${allowed.join(', ') || 'nothing'}`,
    );
  }
  return component as KnownComponent;
}

/**
 * Pure: when the artifact's meta-data carries `vancore`, it must name the same component and
 * version as the index (the gates decide on the meta-data; the module must install that).
 */
export function checkMetaAgrees(meta: unknown, component: string, version: string): void {
  if (meta === undefined || typeof meta !== 'object' || meta === null || !('vancore' in meta)) return;
  const r = ArtifactMetaData.safeParse(meta);
  if (!r.success) throw new VanError('INPUT_INVALID', 'artifact meta-data "vancore" is invalid');
  const v = r.data.vancore;
  if (v.component !== component || v.version !== version) {
    throw new VanError(
      'INPUT_INVALID',
      `meta-data says ${v.component} ${v.version} but ${PAYLOAD_INDEX_FILE} says ${component} ${version}`,
    );
  }
}

/**
 * Pure: the payload holds nothing the signed index does not list (issue #16 item 10). Before
 * mender-update 5.0.4 a payload file missing from the signed manifest was not refused (MEN-9109), so a
 * file the index does not name means a tampered artifact, on any client.
 */
export function checkNoUnlistedFiles(listed: readonly string[], present: readonly { name: string }[]): void {
  const known = new Set([...listed, PAYLOAD_INDEX_FILE]);
  const extra = present.find((f) => !known.has(f.name));
  if (extra) {
    throw new VanError(
      'INPUT_INVALID',
      `payload file '${extra.name}' is not in the signed ${PAYLOAD_INDEX_FILE}: refusing a tampered artifact`,
    );
  }
}

/** Pure: every indexed file is in the payload with the indexed size; names are not repeated; nothing else is. */
export function checkPayloadFiles(
  entries: readonly { name: string; size: number }[],
  present: readonly PayloadFile[],
): void {
  const sizes = new Map(present.map((f) => [f.name, f.size]));
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name)) throw new VanError('INPUT_INVALID', `payload file '${e.name}' is listed twice`);
    seen.add(e.name);
    const size = sizes.get(e.name);
    if (size === undefined) throw new VanError('INPUT_INVALID', `payload file '${e.name}' is missing`);
    if (size < 0) throw new VanError('INPUT_INVALID', `payload file '${e.name}' is not a regular file`);
    if (size !== e.size) {
      throw new VanError('INPUT_INVALID', `payload file '${e.name}' has ${size} bytes, the index says ${e.size}`);
    }
  }
  checkNoUnlistedFiles(
    entries.map((e) => e.name),
    present,
  );
}
