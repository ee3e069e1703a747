// `artifact build` options → a validated BuildOptions (pure: no file is touched here). Flag syntax
// errors are usage errors (exit 2); values that are wrong for VanCore are input errors (exit 1). Every
// message names the flag, in one line.
import gt from 'semver/functions/gt.js';
import { VanError } from '../core/errors.js';
import { SemVer, SemVerRange, type PayloadType } from '../core/schemas/common.js';
import { Components, KnownComponent, PayloadTypeOf } from '../core/schemas/components.js';
import {
  AddonSlug,
  AddonVersion,
  VpnStep,
  VpnStepsInArtifact,
  isSafeDevicePath,
} from '../core/schemas/payload-index.js';
import { describeIssues, type SafeParser } from '../core/validation.js';

/** Option values as the CLI engine hands them over (cli/command.ts OptionValues). */
export type ArgValues = Record<string, string | boolean | string[] | undefined>;

export const BuildTypes = ['compose', 'config', 'vpn', 'ha-addons'] as const;
export type BuildType = (typeof BuildTypes)[number];

export const PayloadTypeOfBuildType: Readonly<Record<BuildType, PayloadType>> = {
  compose: 'vancore-compose',
  config: 'vancore-config',
  vpn: 'vancore-vpn',
  'ha-addons': 'vancore-ha',
};

export interface ConfigFileSpec {
  src: string;
  dest: string;
}

export type PayloadOptions =
  | { type: 'compose'; bundle: string }
  | { type: 'config'; files: ConfigFileSpec[] }
  | { type: 'vpn'; step: VpnStep; loginServer: string; authkeyFile: string | null }
  | { type: 'ha-addons'; addons: HaAddonSpec[] };

export interface HaAddonSpec {
  slug: string;
  version: string;
  health_url: string | null;
}

export interface BuildOptions {
  payload: PayloadOptions;
  component: KnownComponent;
  version: string;
  deviceTypes: string[];
  constraintsFile: string | null;
  validation: { window_seconds: number; require_cloud: boolean };
  requires: Record<string, string>;
  /**
   * `--revert-of VERSION`: an explicit revert from that (newer) version back to `version`, written as
   * `vancore.revert_of` (docs/packaging.md). null for every ordinary build.
   */
  revertOf: string | null;
  /**
   * `--base PREV` (compose only): a previous release's artifact or manifest. The build then writes,
   * beside the full artifact, a layer-delta artifact from that release (docs/packaging.md). null = full only.
   */
  base: string | null;
  /** mender-artifact's payload compression (`--compression`, default DEFAULT_COMPRESSION). */
  compression: Compression;
  signKey: string | null;
  out: string;
  /** null = the bundled gate scripts next to the CLI. */
  scriptsDir: string | null;
  gateScripts: boolean;
}

export const DEFAULT_VALIDATION_WINDOW = 300;

/** The payload compressions mender-artifact 3.9 writes (`--compression`, its `--help`). */
export const Compressions = ['none', 'gzip', 'lzma'] as const;
export type Compression = (typeof Compressions)[number];
/**
 * lzma: chosen from `npm run bench compression` (docs/packaging.md "Compression"): half gzip's bytes over
 * the air for a service layer, at +0.6 s and +58 MB peak RSS in the van's client; both clients read it
 * (Go 3.4, measured; C++ 5.x: MENDER_ARTIFACT_LZMA_COMPRESSION defaults ON in mendersoftware/mender).
 */
export const DEFAULT_COMPRESSION: Compression = 'lzma';

/** Mender device types: no spaces (mender-artifact prints them space-separated), no shell surprises. */
const DEVICE_TYPE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

const usage = (msg: string) => new VanError('USAGE', msg);
const invalid = (msg: string) => new VanError('INPUT_INVALID', msg);

function str(values: ArgValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

function strs(values: ArgValues, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

function required(values: ArgValues, name: string, hint: string): string {
  const v = str(values, name);
  if (v === undefined || v === '') throw usage(`missing --${name} ${hint}`);
  return v;
}

/** First issue of a schema check as `--flag: message`, or the value. */
function check<T>(schema: SafeParser<T>, value: unknown, flag: string, given: unknown = value): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const msg = describeIssues(r.error.issues)[0]?.replace(/^\(root\): /, '') ?? 'is invalid';
  throw invalid(`--${flag} ${JSON.stringify(given)}: ${msg}`);
}

/** `SRC:DEST` → parts. DEST is absolute, so the split is at the last `:/` (SRC may contain colons). */
export function parseFileSpec(spec: string): ConfigFileSpec {
  const at = spec.lastIndexOf(':/');
  if (at <= 0) throw usage(`--file ${JSON.stringify(spec)}: must be SRC:DEST with an absolute DEST`);
  const src = spec.slice(0, at);
  const dest = spec.slice(at + 1);
  if (!isSafeDevicePath(dest)) {
    throw invalid(
      `--file ${JSON.stringify(spec)}: destination must be an absolute path without "..", "." or empty segments, NUL or control characters`,
    );
  }
  return { src, dest };
}

/** `COMPONENT=RANGE` pairs → a record; each component once. */
export function parseRequires(specs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw usage(`--requires ${JSON.stringify(spec)}: must be COMPONENT=RANGE, e.g. platform=>=0.9.0`);
    const component = check(KnownComponent, spec.slice(0, eq).trim(), 'requires', spec);
    const range = check(SemVerRange, spec.slice(eq + 1).trim(), 'requires', spec);
    if (component in out) throw invalid(`--requires: ${component} is given twice`);
    out[component] = range;
  }
  return out;
}

function parseWindow(values: ArgValues): number {
  const raw = str(values, 'validation-window');
  if (raw === undefined) return DEFAULT_VALIDATION_WINDOW;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 86_400) {
    throw usage(`--validation-window must be a whole number of seconds from 0 to 86400, got '${raw}'`);
  }
  return n;
}

function parseCompression(values: ArgValues): Compression {
  const raw = str(values, 'compression');
  if (raw === undefined) return DEFAULT_COMPRESSION;
  if (!(Compressions as readonly string[]).includes(raw))
    throw usage(
      `--compression ${JSON.stringify(raw)}: must be one of ${Compressions.join(', ')} (what mender-artifact 3.9 writes)`,
    );
  return raw as Compression;
}

function parseLoginServer(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`--login-server ${JSON.stringify(raw)}: must be a URL such as https://headscale.example.com`);
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw invalid(`--login-server ${JSON.stringify(raw)}: must use https (plain http only for localhost)`);
  }
  return raw;
}

/** `--revert-of VERSION`: a semantic version newer than `--version` (a revert goes back), or null. */
export function parseRevertOf(values: ArgValues, version: string): string | null {
  const raw = str(values, 'revert-of');
  if (raw === undefined) return null;
  const from = check(SemVer, raw, 'revert-of');
  if (!gt(from, version)) {
    throw invalid(
      `--revert-of ${from} must be newer than --version ${version}: a revert goes back to an older version`,
    );
  }
  return from;
}

/** Flags that belong to one payload type only. */
const TYPE_FLAGS: Record<BuildType, string[]> = {
  compose: ['bundle', 'base'],
  config: ['file'],
  vpn: ['vpn-step', 'login-server', 'authkey-file'],
  'ha-addons': ['addon', 'health-url'],
};

/** `--addon SLUG=VERSION` (in order, each slug once) and `--health-url SLUG=URL` for some of them. */
export function parseAddons(addonSpecs: string[], urlSpecs: string[]): HaAddonSpec[] {
  const out: HaAddonSpec[] = [];
  for (const spec of addonSpecs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw usage(`--addon ${JSON.stringify(spec)}: must be SLUG=VERSION, e.g. core_mosquitto=6.4.1`);
    const slug = check(AddonSlug, spec.slice(0, eq).trim(), 'addon', spec);
    const version = check(AddonVersion, spec.slice(eq + 1).trim(), 'addon', spec);
    if (out.some((a) => a.slug === slug)) throw invalid(`--addon: ${slug} is given twice`);
    out.push({ slug, version, health_url: null });
  }
  for (const spec of urlSpecs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw usage(`--health-url ${JSON.stringify(spec)}: must be SLUG=URL`);
    const slug = spec.slice(0, eq).trim();
    const a = out.find((x) => x.slug === slug);
    if (!a) throw invalid(`--health-url ${JSON.stringify(spec)}: ${slug} is not among the --addon slugs`);
    let url: URL;
    try {
      url = new URL(spec.slice(eq + 1).trim());
    } catch {
      throw invalid(`--health-url ${JSON.stringify(spec)}: not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw invalid(`--health-url ${JSON.stringify(spec)}: must be an http(s) URL`);
    }
    a.health_url = spec.slice(eq + 1).trim();
  }
  return out;
}

function parsePayload(type: BuildType, values: ArgValues): PayloadOptions {
  for (const [other, flags] of Object.entries(TYPE_FLAGS)) {
    if (other === type) continue;
    for (const flag of flags) {
      if (values[flag] !== undefined) throw usage(`--${flag} is only for --type ${other}, not --type ${type}`);
    }
  }
  switch (type) {
    case 'compose':
      return { type, bundle: required(values, 'bundle', 'DIR (the compose bundle directory)') };
    case 'config': {
      const files = strs(values, 'file').map(parseFileSpec);
      if (files.length === 0) throw usage('missing --file SRC:DEST (at least one)');
      const seen = new Set<string>();
      for (const f of files) {
        if (seen.has(f.dest)) throw invalid(`--file: destination ${f.dest} is given twice`);
        seen.add(f.dest);
      }
      return { type, files };
    }
    case 'vpn': {
      const step = check(VpnStep, required(values, 'vpn-step', `(${VpnStepsInArtifact.join('|')})`), 'vpn-step');
      const loginServer = parseLoginServer(required(values, 'login-server', 'URL (the Headscale server)'));
      const authkeyFile = str(values, 'authkey-file') ?? null;
      // The pre-auth key joins a van to the new network: it travels only where a step needs it.
      if (step === 'add' && authkeyFile === null)
        throw usage('missing --authkey-file FILE (the add step joins Headscale)');
      if (step !== 'add' && authkeyFile !== null) throw usage(`--authkey-file is only for --vpn-step add, not ${step}`);
      return { type, step, loginServer, authkeyFile };
    }
    case 'ha-addons': {
      const addons = parseAddons(strs(values, 'addon'), strs(values, 'health-url'));
      if (addons.length === 0) throw usage('missing --addon SLUG=VERSION (at least one)');
      return { type, addons };
    }
  }
}

export function parseBuildOptions(values: ArgValues): BuildOptions {
  const typeRaw = required(values, 'type', `(${BuildTypes.join('|')})`);
  if (!(BuildTypes as readonly string[]).includes(typeRaw)) {
    throw usage(`--type must be one of ${BuildTypes.join(', ')}, got '${typeRaw}'`);
  }
  const type = typeRaw as BuildType;
  const component = check(KnownComponent, required(values, 'component', `(${Components.join('|')})`), 'component');
  const version = check(SemVer, required(values, 'version', 'SEMVER'), 'version');
  const deviceTypes = strs(values, 'device-type');
  if (deviceTypes.length === 0) throw usage('missing --device-type (at least one)');
  for (const t of deviceTypes) {
    if (!DEVICE_TYPE.test(t)) {
      throw invalid(`--device-type ${JSON.stringify(t)}: must be letters, digits, . _ + - (max 64, no spaces)`);
    }
  }
  const payloadType = PayloadTypeOfBuildType[type];
  if (PayloadTypeOf[component] !== payloadType) {
    const want = Object.entries(PayloadTypeOfBuildType).find(([, p]) => p === PayloadTypeOf[component])?.[0];
    throw invalid(`--component ${component} is packaged with --type ${want ?? '?'}, not --type ${type}`);
  }
  const payload = parsePayload(type, values);
  const revertOf = parseRevertOf(values, version);
  const base = str(values, 'base') ?? null;
  if (base === '') throw usage('--base needs a FILE (the previous release: its .mender or .manifest.json)');
  if (base !== null && revertOf !== null) {
    throw usage('--base cannot be combined with --revert-of: a revert ships the full artifact only');
  }
  const signKey = str(values, 'sign-key') ?? null;
  // A van honours a downgrade only through a signed revert: an unsigned one would be refused by every
  // van that requires signatures, and accepted blindly by one that does not.
  if (revertOf !== null && signKey === null) {
    throw usage('--revert-of needs --sign-key FILE: a revert artifact must be signed');
  }
  return {
    payload,
    component,
    version,
    deviceTypes: [...new Set(deviceTypes)],
    constraintsFile: str(values, 'constraints') ?? null,
    validation: { window_seconds: parseWindow(values), require_cloud: values['no-require-cloud'] !== true },
    requires: parseRequires(strs(values, 'requires')),
    revertOf,
    base,
    compression: parseCompression(values),
    signKey,
    out: str(values, 'out') ?? '.',
    scriptsDir: str(values, 'scripts-dir') ?? null,
    gateScripts: values['no-gate-scripts'] !== true,
  };
}
