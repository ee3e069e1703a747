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
import { type BuildOptions, PayloadTypeOfBuildType } from './build-options.js';
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
  | { type: 'compose'; files: (SourceFile & { path: string })[]; composeFile: string; images: string[] }
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
  | { name: string; kind: 'secret'; source: string };

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
  /** The manifest minus what only the built file can tell (sha256, size). */
  manifest: Omit<BuildManifest, 'sha256' | 'size'>;
}

export const AUTHKEY_FILE = 'authkey';

/** `vancore-<component>-<version>`, or `vancore-<component>-<version>-revert-<from>` for a revert. */
export function artifactName(component: string, version: string, revertOf: string | null = null): string {
  return revertOf === null ? `vancore-${component}-${version}` : `vancore-${component}-${version}-revert-${revertOf}`;
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
): { index: PayloadIndex; staged: StagedFile[]; bytes: number } {
  const p = facts.payload;
  switch (p.type) {
    case 'compose': {
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

export function planBuild(facts: BuildFacts): BuildPlan {
  const o = facts.options;
  const name = artifactName(o.component, o.version, o.revertOf);
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
  });
  const { index, staged, bytes } = planPayload(facts, {
    format: PAYLOAD_INDEX_FORMAT,
    component: o.component,
    version: o.version,
  });
  const indexText = `${JSON.stringify(index, null, 2)}\n`;
  const provides = { artifact_name: name, [`${SOFTWARE_FILESYSTEM}.${o.component}.version`]: o.version };
  const clearsProvides = [`${SOFTWARE_FILESYSTEM}.${o.component}.*`];
  const depends = { device_type: o.deviceTypes };
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
    '--meta-data',
    paths.metaDataFile,
    ...plan.staged.flatMap((f) => ['--file', `${paths.stageDir}/${f.name}`]),
    ...plan.scripts.flatMap((s) => ['--script', s.abs]),
    ...(paths.keyFile ? ['--key', paths.keyFile] : []),
    '--output-path',
    paths.output,
  ];
}
