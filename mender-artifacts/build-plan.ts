// Decide: the facts gathered for a build → the plan (what to stage, the meta-data, the manifest) and
// the exact mender-artifact command line. Pure and synchronous, so both are table-tested.
import { basename } from 'node:path';
import { type ArtifactMetaData, type Constraints, VancoreMeta } from '../core/schemas/artifact-meta.js';
import type { PayloadType } from '../core/schemas/common.js';
import {
  PAYLOAD_INDEX_FILE,
  PAYLOAD_INDEX_FORMAT,
  type PayloadIndex,
  type VpnStep,
} from '../core/schemas/payload-index.js';
import type { BaseFacts } from './base-facts.js';
import { type BuildOptions, type Compression, PayloadTypeOfBuildType } from './build-options.js';
import { type DeltaPlan, planDelta, type TargetTarball } from './delta-plan.js';
import type { KeyAlgorithm } from './keys.js';
import { type BuildManifest, MANIFEST_FORMAT } from './manifest.js';

/** The filesystem provides live on (ARCHITECTURE.md "Provides"): `vancore.<component>.version`. */
export const SOFTWARE_FILESYSTEM = 'vancore';

export interface SourceFile {
  /** Absolute path on the build machine. */
  abs: string;
  size: number;
  /** Permission bits (st_mode & 0o7777). */
  mode: number;
}

export type PayloadFacts =
  | {
      type: 'compose';
      files: (SourceFile & { path: string })[];
      composeFile: string;
      images: string[];
      /**
       * The image tarballs read (headers and JSON only): the images, their layers and where they lie.
       * null when one is not a `docker save` tarball (allowed for a full build: the manifest then lists no images).
       */
      saved: TargetTarball[] | null;
    }
  | { type: 'config'; files: (SourceFile & { dest: string })[] }
  | { type: 'vpn'; step: VpnStep; loginServer: string; authkey: SourceFile | null }
  | { type: 'ha-addons'; addons: { slug: string; version: string; health_url: string | null }[] };

export interface ScriptFile {
  name: string;
  abs: string;
}

export interface BuildFacts {
  options: BuildOptions;
  constraints: Constraints;
  payload: PayloadFacts;
  scripts: ScriptFile[];
  signing: { algorithm: KeyAlgorithm; bits: number; fingerprint: string } | null;
  /** `--base`: the previous release a delta is built from (compose only), else null. */
  base: BaseFacts | null;
  menderArtifactVersion: string;
  now: Date;
}

/** How one payload file gets into the staging directory mender-artifact reads from. */
export type StagedFile =
  /** A symlink to the source: mender-artifact reads it in place (nothing is copied; big bundles stream). */
  | { name: string; kind: 'link'; target: string }
  /** Small generated text (the payload index). */
  | { name: string; kind: 'text'; text: string }
  /** A secret copied with mode 0600, trimmed; its content is never part of the plan. */
  | { name: string; kind: 'secret'; source: string }
  /** A byte range of a bundle file (an image layer or config in a tarball), checked against its digest. */
  | { name: string; kind: 'range'; source: string; offset: number; size: number; digest: string };

export interface BuildPlan {
  name: string;
  payloadType: PayloadType;
  artifactFile: string;
  manifestFile: string;
  metaData: ArtifactMetaData;
  index: PayloadIndex;
  staged: StagedFile[];
  scripts: ScriptFile[];
  deviceTypes: string[];
  provides: Record<string, string>;
  clearsProvides: string[];
  depends: Record<string, string[]>;
  payloadBytes: number;
  compression: Compression;
  /** The manifest minus what only the built file can tell (sha256, size). */
  manifest: Omit<BuildManifest, 'sha256' | 'size'>;
}

export const AUTHKEY_FILE = 'authkey';

/**
 * `vancore-<component>-<version>`; `…-revert-<from>` for a revert; `…-delta-from-<base>` for a layer
 * delta. The delta needs a name of its own: Mender's deployments service picks the artifact for a
 * device by name and device type alone (the smallest if several match), never by depends, so a delta
 * named like its full artifact would be sent to every van (docs/packaging.md).
 */
export function artifactName(
  component: string,
  version: string,
  revertOf: string | null = null,
  deltaOf: string | null = null,
): string {
  const name = `vancore-${component}-${version}`;
  if (revertOf !== null) return `${name}-revert-${revertOf}`;
  if (deltaOf !== null) return `${name}-delta-from-${deltaOf}`;
  return name;
}

/** A flat, collision-free payload file name: a 4-digit ordinal plus the sanitised base name. */
export function storedName(ordinal: number, path: string): string {
  const base =
    basename(path)
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .slice(-80) || 'file';
  return `${String(ordinal).padStart(4, '0')}-${base}`;
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

function planPayload(
  facts: BuildFacts,
  head: { format: typeof PAYLOAD_INDEX_FORMAT; component: string; version: string },
  delta: DeltaPlan | null,
): { index: PayloadIndex; staged: StagedFile[]; bytes: number } {
  const p = facts.payload;
  switch (p.type) {
    case 'compose': {
      if (delta !== null) {
        // The bundle without its image tarballs, plus the configs and the new layers.
        const images = new Set(p.images);
        const files = p.files.filter((f) => !images.has(f.path));
        const entries = files.map((f, i) => ({ f, name: storedName(i, f.path) }));
        return {
          index: {
            ...head,
            type: 'vancore-compose',
            compose_file: p.composeFile,
            files: entries.map(({ f, name }) => ({ name, path: f.path, mode: octal(f.mode), size: f.size })),
            images: [],
            delta: delta.delta,
          },
          staged: [
            ...entries.map(({ f, name }): StagedFile => ({ name, kind: 'link', target: f.abs })),
            ...delta.blobs.map((b): StagedFile => ({
              name: b.name,
              kind: 'range',
              ...b.source,
              source: b.source.abs,
              digest: b.digest,
            })),
          ],
          bytes: files.reduce((n, f) => n + f.size, 0) + delta.blobs.reduce((n, b) => n + b.size, 0),
        };
      }
      const entries = p.files.map((f, i) => ({ f, name: storedName(i, f.path) }));
      return {
        index: {
          ...head,
          type: 'vancore-compose',
          compose_file: p.composeFile,
          files: entries.map(({ f, name }) => ({ name, path: f.path, mode: octal(f.mode), size: f.size })),
          images: p.images,
        },
        staged: entries.map(({ f, name }) => ({ name, kind: 'link', target: f.abs })),
        bytes: p.files.reduce((n, f) => n + f.size, 0),
      };
    }
    case 'config': {
      const entries = p.files.map((f, i) => ({ f, name: storedName(i, f.dest) }));
      return {
        index: {
          ...head,
          type: 'vancore-config',
          files: entries.map(({ f, name }) => ({ name, dest: f.dest, mode: octal(f.mode), size: f.size })),
        },
        staged: entries.map(({ f, name }) => ({ name, kind: 'link', target: f.abs })),
        bytes: p.files.reduce((n, f) => n + f.size, 0),
      };
    }
    case 'vpn':
      return {
        index: {
          ...head,
          type: 'vancore-vpn',
          step: p.step,
          login_server: p.loginServer,
          authkey: p.authkey ? AUTHKEY_FILE : null,
        },
        staged: p.authkey ? [{ name: AUTHKEY_FILE, kind: 'secret', source: p.authkey.abs }] : [],
        bytes: p.authkey?.size ?? 0,
      };
    case 'ha-addons':
      // No payload files: the Supervisor pulls the add-on images; the index names the versions.
      return { index: { ...head, type: 'vancore-ha', addons: p.addons }, staged: [], bytes: 0 };
  }
}

/**
 * The plan of the full artifact, or (`variant` 'delta', needs `facts.base`) of the layer-delta artifact
 * from the base release: own name, same provides, and `depends` on the base's version provides.
 */
export function planBuild(facts: BuildFacts, variant: 'full' | 'delta' = 'full'): BuildPlan {
  const o = facts.options;
  const p = facts.payload;
  let delta: DeltaPlan | null = null;
  if (variant === 'delta') {
    if (facts.base === null || p.type !== 'compose' || p.saved === null) {
      throw new Error('a delta plan needs a compose payload with readable image tarballs and a base');
    }
    delta = planDelta(p.saved, facts.base);
  }
  const deltaOf = delta === null ? null : (facts.base?.version ?? null);
  const name = artifactName(o.component, o.version, o.revertOf, deltaOf);
  const payloadType = PayloadTypeOfBuildType[facts.payload.type];
  // Through the contract schema: defaults filled in, and what we write is what a van will parse.
  const vancore = VancoreMeta.parse({
    component: o.component,
    version: o.version,
    requires: o.requires,
    constraints: facts.constraints,
    validation: o.validation,
    ...(facts.payload.type === 'vpn' ? { vpn: { step: facts.payload.step } } : {}),
    ...(o.revertOf !== null ? { revert_of: o.revertOf } : {}),
    ...(deltaOf !== null ? { delta_of: deltaOf } : {}),
  });
  const { index, staged, bytes } = planPayload(
    facts,
    { format: PAYLOAD_INDEX_FORMAT, component: o.component, version: o.version },
    delta,
  );
  const indexText = `${JSON.stringify(index, null, 2)}\n`;
  const clearsProvides = [`${SOFTWARE_FILESYSTEM}.${o.component}.*`];
  const providesKey = `${SOFTWARE_FILESYSTEM}.${o.component}.version`;
  const provides = { artifact_name: name, [providesKey]: o.version };
  // A delta installs only where the base release runs: the client checks depends against its provides.
  const depends: Record<string, string[]> =
    deltaOf === null ? { device_type: o.deviceTypes } : { device_type: o.deviceTypes, [providesKey]: [deltaOf] };
  const images =
    p.type === 'compose' && p.saved !== null
      ? p.saved.flatMap((t) =>
          t.images.map((i) => ({ path: t.path, id: i.id, refs: i.refs, layers: i.layers.map((l) => l.digest) })),
        )
      : undefined;
  const scripts = [...facts.scripts].sort((a, b) => a.name.localeCompare(b.name));
  return {
    name,
    payloadType,
    artifactFile: `${name}.mender`,
    manifestFile: `${name}.manifest.json`,
    metaData: { vancore },
    index,
    staged: [{ name: PAYLOAD_INDEX_FILE, kind: 'text', text: indexText }, ...staged],
    scripts,
    deviceTypes: o.deviceTypes,
    provides,
    clearsProvides,
    depends,
    payloadBytes: bytes + Buffer.byteLength(indexText),
    compression: o.compression,
    manifest: {
      manifest_format: MANIFEST_FORMAT,
      name,
      file: `${name}.mender`,
      type: payloadType,
      component: o.component,
      version: o.version,
      provides,
      clears_provides: clearsProvides,
      depends,
      device_types: o.deviceTypes,
      requires: vancore.requires,
      constraints: vancore.constraints,
      validation: vancore.validation,
      ...(vancore.vpn ? { vpn_step: vancore.vpn.step } : {}),
      ...(vancore.revert_of !== undefined ? { revert_of: vancore.revert_of } : {}),
      ...(images !== undefined ? { images } : {}),
      ...(delta !== null && facts.base !== null
        ? {
            delta: {
              base_version: facts.base.version,
              base_artifact: facts.base.artifactName,
              full_artifact: artifactName(o.component, o.version),
              ...delta.stats,
            },
          }
        : {}),
      scripts: scripts.map((s) => s.name),
      payload: { files: staged.length + 1, bytes: bytes + Buffer.byteLength(indexText) },
      signed_by: facts.signing
        ? { algorithm: facts.signing.algorithm, bits: facts.signing.bits, fingerprint: facts.signing.fingerprint }
        : null,
      built_at: facts.now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      mender_artifact_version: facts.menderArtifactVersion,
    },
  };
}

export interface WritePaths {
  /** Directory holding the staged payload files. */
  stageDir: string;
  metaDataFile: string;
  keyFile: string | null;
  output: string;
}

/** The mender-artifact 3.9 command line (argv after the program) that writes the planned artifact. */
export function menderArtifactWriteArgs(plan: BuildPlan, paths: WritePaths): string[] {
  const component = plan.manifest.component;
  return [
    'write',
    'module-image',
    '--type',
    plan.payloadType,
    '--artifact-name',
    plan.name,
    ...plan.deviceTypes.flatMap((t) => ['--device-type', t]),
    '--software-filesystem',
    SOFTWARE_FILESYSTEM,
    '--software-name',
    component,
    '--software-version',
    plan.manifest.version,
    ...Object.entries(plan.depends)
      .filter(([k]) => k !== 'device_type')
      .flatMap(([k, vs]) => vs.flatMap((v) => ['--depends', `${k}:${v}`])),
    '--meta-data',
    paths.metaDataFile,
    ...plan.staged.flatMap((f) => ['--file', `${paths.stageDir}/${f.name}`]),
    ...plan.scripts.flatMap((s) => ['--script', s.abs]),
    ...(paths.keyFile ? ['--key', paths.keyFile] : []),
    '--compression',
    plan.compression,
    '--output-path',
    paths.output,
  ];
}
