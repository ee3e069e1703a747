// The vancore-compose payload: validation of its index against the files the client stored, the
// bundle settings (`x-vancore` in the compose file) and the marker every bundle directory carries.
// Everything here runs before anything on the van changes: bad input stops the install untouched.
import { parse as parseYaml } from 'yaml';
import * as z from 'zod/mini';
import { basename } from 'node:path';
import { VanError } from '../../core/errors.js';
import { ComponentName, SemVer } from '../../core/schemas/common.js';
import { COMPOSE_SETTINGS_KEY, ComposeBundleSettings } from '../../core/schemas/payload.js';
import { ArtifactMetaData } from '../../core/schemas/artifact-meta.js';
import { BundlePath, type ComposeDelta, ComposeIndex, PAYLOAD_INDEX_FILE } from '../../core/schemas/payload-index.js';
import { STATE_FILES } from '../../core/state-dir.js';
import { parseWith } from '../../core/validation.js';
import { checkComponent, checkMetaAgrees, checkPayloadFiles, type PayloadFile } from '../lib/payload.js';

export interface BundleFile {
  /** Stored (flat) payload file name. */
  name: string;
  /** Path inside the bundle directory. */
  path: string;
  mode: number;
  size: number;
  /** Absolute path when the file is not in the payload (images rebuilt from a layer delta). */
  abs?: string;
}

export interface ComposeBundle {
  component: string;
  version: string;
  /** The compose project: fixed per component, so v2 replaces v1 instead of running beside it. */
  project: string;
  composeFile: string;
  /** Files that make up the bundle directory (image tarballs are loaded from the payload instead). */
  files: BundleFile[];
  images: BundleFile[];
  /** A layer-delta artifact (issue #17): images to rebuild from the van's layers and the payload's blobs. */
  delta: ComposeDelta | null;
}

export function projectFor(component: string): string {
  return `vancore-${component}`;
}

/** Pure: the parsed index + the stored files → the bundle, or one INPUT_INVALID line. */
export function validateComposePayload(raw: unknown, meta: unknown, present: readonly PayloadFile[]): ComposeBundle {
  if (typeof raw === 'object' && raw !== null && !('compose_file' in raw)) {
    throw new VanError('INPUT_INVALID', `bundle has no compose file: ${PAYLOAD_INDEX_FILE} names no compose_file`);
  }
  const index = parseWith(ComposeIndex, raw, `invalid ${PAYLOAD_INDEX_FILE}`);
  const component = checkComponent('vancore-compose', index.component);
  checkMetaAgrees(meta, component, index.version);
  const paths = new Set<string>();
  for (const f of index.files) {
    if (paths.has(f.path)) throw new VanError('INPUT_INVALID', `bundle path '${f.path}' is listed twice`);
    paths.add(f.path);
  }
  // A file at "a" and another at "a/b" cannot both exist in a directory tree.
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (paths.has(dir)) throw new VanError('INPUT_INVALID', `bundle path '${dir}' is both a file and a directory`);
    }
  }
  if (!paths.has(index.compose_file)) {
    throw new VanError(
      'INPUT_INVALID',
      `bundle has no compose file: '${index.compose_file}' is not among its ${index.files.length} files`,
    );
  }
  const images = new Set(index.images);
  for (const img of images) {
    if (!paths.has(img)) throw new VanError('INPUT_INVALID', `image tarball '${img}' is not among the bundle files`);
    if (img === index.compose_file)
      throw new VanError('INPUT_INVALID', `'${img}' cannot be both compose file and image`);
  }
  const delta = index.delta ?? null;
  if (delta !== null) checkDelta(delta, index.images, meta);
  checkPayloadFiles([...index.files, ...(delta?.blobs ?? [])], present);
  const all = index.files.map((f) => ({ name: f.name, path: f.path, mode: Number.parseInt(f.mode, 8), size: f.size }));
  return {
    component,
    version: index.version,
    project: projectFor(component),
    composeFile: index.compose_file,
    files: all.filter((f) => !images.has(f.path)),
    images: all.filter((f) => images.has(f.path)),
    delta,
  };
}

/** Pure: a delta index is whole — configs for every image, blobs once each — and names the base the meta-data names. */
function checkDelta(delta: ComposeDelta, images: string[], meta: unknown): void {
  const bad = (msg: string) => new VanError('INPUT_INVALID', `delta: ${msg}`);
  if (images.length > 0) throw bad('a delta artifact carries no image tarballs');
  const digests = new Set<string>();
  for (const b of delta.blobs) {
    if (digests.has(b.digest)) throw bad(`blob ${b.digest} is listed twice`);
    digests.add(b.digest);
  }
  for (const img of delta.images) {
    if (!digests.has(img.id)) throw bad(`the config of ${img.path} (${img.id.slice(0, 19)}…) is not in the payload`);
  }
  const r = ArtifactMetaData.safeParse(meta);
  if (r.success && r.data.vancore.delta_of !== delta.base.version) {
    throw bad(
      `meta-data says delta of ${r.data.vancore.delta_of ?? '(none)'}, ${PAYLOAD_INDEX_FILE} of ${delta.base.version}`,
    );
  }
}

/** Pure: `x-vancore` from the compose file's text (absent = every default). */
export function parseBundleSettings(composeText: string, source: string): ComposeBundleSettings {
  let doc: unknown;
  try {
    doc = parseYaml(composeText, { uniqueKeys: false });
  } catch (e) {
    throw new VanError('INPUT_INVALID', `${source} is not YAML: ${(e as Error).message.split('\n')[0] ?? ''}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new VanError('INPUT_INVALID', `${source} is not a compose file (not a mapping)`);
  }
  const raw = (doc as Record<string, unknown>)[COMPOSE_SETTINGS_KEY] ?? {};
  return parseWith(ComposeBundleSettings, raw, `invalid ${COMPOSE_SETTINGS_KEY} in ${source}`);
}

/** Marker file in every bundle directory: which deployment put it there. */
export const BUNDLE_MARKER = basename(STATE_FILES.composeMarker.path);

export const BundleMarker = z.object({
  /** Unique per staging (artifact name + time): two stagings of one artifact are different bundles. */
  id: z.string().check(z.minLength(1), z.maxLength(300)),
  artifact_name: z.string(),
  component: ComponentName,
  version: SemVer,
  project: z.string(),
  compose_file: BundlePath,
});
export type BundleMarker = z.infer<typeof BundleMarker>;
