// `vancore-ota artifact build|verify|upload`: the command specs, flag → options, and printing.
// The work itself lives in build.ts, verify.ts and upload.ts, loaded when a command runs, so
// `--help` and usage errors stay fast.
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineCommand, type OptionSpec, type OptionValues, opt } from '../core/command.js';
import { VanError } from '../core/errors.js';
import { Components } from '../core/schemas/components.js';
import { VpnStepsInArtifact } from '../core/schemas/payload-index.js';
import { BuildTypes, DEFAULT_COMPRESSION, DEFAULT_VALIDATION_WINDOW, parseBuildOptions } from './build-options.js';
import { createProgress, type ProgressStream } from './progress.js';
import { execaRunner } from './runner.js';

/** The gate scripts bundled next to the CLI by `npm run build` (dist/cli.js → dist/device/mender-scripts). */
export const DEFAULT_SCRIPTS_DIR = fileURLToPath(new URL('./device/mender-scripts/', import.meta.url));

export const buildOptionSpecs: Record<string, OptionSpec> = {
  type: {
    type: 'string',
    value: BuildTypes.join('|'),
    description: 'payload type: vancore-compose, -config, -vpn or -ha',
  },
  component: { type: 'string', value: 'NAME', description: `VanCore component (${Components.join(', ')})` },
  version: { type: 'string', value: 'SEMVER', description: 'the component version, e.g. 0.9.2' },
  'device-type': { type: 'string', value: 'T', multiple: true, description: 'compatible device type (at least one)' },
  bundle: {
    type: 'string',
    value: 'DIR',
    description: 'compose: the bundle directory (compose file, env, images/*.tar)',
  },
  base: {
    type: 'string',
    value: 'PREV',
    description: 'compose: also build a layer delta from PREV (.mender or .manifest.json)',
  },
  file: {
    type: 'string',
    value: 'SRC:DEST',
    multiple: true,
    description: 'config: a file and its absolute path on the van',
  },
  'vpn-step': { type: 'string', value: VpnStepsInArtifact.join('|'), description: 'vpn: the migration step' },
  'login-server': { type: 'string', value: 'URL', description: 'vpn: the Headscale server (https)' },
  'authkey-file': {
    type: 'string',
    value: 'FILE',
    description: 'vpn: pre-auth key file (add step only; never logged)',
  },
  addon: {
    type: 'string',
    value: 'SLUG=VERSION',
    multiple: true,
    description: 'ha-addons: an add-on and the version the store offers (in order)',
  },
  'health-url': {
    type: 'string',
    value: 'SLUG=URL',
    multiple: true,
    description: 'ha-addons: a URL that must answer 2xx once the add-on runs',
  },
  constraints: {
    type: 'string',
    value: 'FILE',
    description: 'YAML/JSON with the flat constraint keys (default: spec)',
  },
  'validation-window': {
    type: 'string',
    value: 'SECONDS',
    description: 'validation window after install',
    default: String(DEFAULT_VALIDATION_WINDOW),
  },
  'no-require-cloud': { type: 'boolean', description: 'do not require the Mender server during validation' },
  requires: { type: 'string', value: 'COMPONENT=RANGE', multiple: true, description: 'installed version needed' },
  'revert-of': {
    type: 'string',
    value: 'VERSION',
    description: 'an explicit, signed revert from VERSION back to --version (needs --sign-key)',
  },
  'sign-key': { type: 'string', value: 'FILE', description: 'private key (ECDSA P-256 or RSA ≥ 2048, PEM)' },
  compression: {
    type: 'string',
    value: 'none|gzip|lzma',
    description: 'payload compression (lzma: half the bytes of gzip over LTE; docs/packaging.md)',
    default: DEFAULT_COMPRESSION,
  },
  out: { type: 'string', value: 'DIR', description: 'output directory', default: '.' },
  'scripts-dir': {
    type: 'string',
    value: 'DIR',
    description: 'artifact state scripts to embed (default: bundled gates)',
  },
  'no-gate-scripts': { type: 'boolean', description: 'do not require the gate scripts (special cases only)' },
};

function stderrStream(io: { stderr: NodeJS.WritableStream }): ProgressStream {
  const s = io.stderr as NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  return { write: (t) => s.write(t), isTTY: s.isTTY === true, ...(s.columns ? { columns: s.columns } : {}) };
}

const buildCommand = defineCommand({
  name: 'build',
  summary: 'Build (and sign) a VanCore artifact with mender-artifact',
  description:
    'Build DIR/vancore-<component>-<version>.mender and its .manifest.json with the real mender-artifact.\n' +
    'Compose with --base PREV: also vancore-<component>-<version>-delta-from-<prev version>.mender, holding\n' +
    'only the image layers PREV lacks and installing only on vans that run PREV.\n' +
    'Provides vancore.<component>.version; VanCore meta-data (requires, constraints, validation) under "vancore";\n' +
    'the gate scripts embedded as artifact state scripts. Nothing is left in --out when the build fails.',
  options: buildOptionSpecs,
  examples: [
    'vancore-ota artifact build --type compose --component platform --version 0.9.2 --device-type vanpc \\\n' +
      '    --bundle release/platform --requires platform=">=0.9.0" --sign-key ci-signing.pem --out dist/artifacts',
    'vancore-ota artifact build --type config --component config --version 1.4.0 --device-type vanpc \\\n' +
      '    --file config/ota.yaml:/etc/vancore/ota.yaml --constraints release/constraints.yaml --out dist/artifacts',
    'vancore-ota artifact build --type ha-addons --component ha_addons --version 2.0.0 --device-type vanpc \\\n' +
      '    --addon core_mosquitto=6.4.1 --addon a0d7b954_nodered=18.0.1 --health-url a0d7b954_nodered=http://127.0.0.1:1880/',
  ],
  async run({ values, io, signal }) {
    const options = parseBuildOptions(values);
    const { buildArtifact } = await import('./build.js');
    const name = `vancore-${options.component}-${options.version}`;
    const progress = createProgress(stderrStream(io), name);
    const r = await buildArtifact(options, {
      runner: execaRunner,
      now: () => new Date(),
      defaultScriptsDir: DEFAULT_SCRIPTS_DIR,
      progress,
      ...(options.base !== null ? { deltaProgress: createProgress(stderrStream(io), `${name} delta`) } : {}),
      signal,
    });
    for (const b of r.delta ? [r, r.delta] : [r]) {
      const m = b.manifest;
      io.stdout.write(
        `built ${b.artifactPath} (${m.size} bytes)\n` +
          `  sha256    ${m.sha256}\n` +
          `  manifest  ${b.manifestPath}\n` +
          `  signed    ${m.signed_by ? `${m.signed_by.algorithm} key ${m.signed_by.fingerprint}` : 'no (unsigned)'}\n` +
          `  scripts   ${m.scripts.join(', ') || '(none)'}\n` +
          (m.delta
            ? `  delta     from ${m.delta.base_version} (${m.delta.base_artifact}): ${m.delta.new_layers} new layers ` +
              `(${m.delta.new_layer_bytes} bytes) carried, ${m.delta.reused_layers} (${m.delta.reused_layer_bytes} bytes) ` +
              `taken from the van; installs only on vans running ${m.delta.base_version}\n`
            : ''),
      );
    }
  },
});

const verifyCommand = defineCommand({
  name: 'verify',
  summary: 'Verify an artifact: signature, meta-data, manifest',
  description:
    'Check an artifact with mender-artifact validate and read (never trusting the exit code alone), its VanCore\n' +
    'meta-data and provides, and its manifest (given, or <name>.manifest.json beside the file).',
  positionals: [{ name: 'file', description: 'the .mender file' }],
  options: {
    key: { type: 'string', value: 'PUB', description: 'public key (PEM) the artifact must be signed with' },
    manifest: { type: 'string', value: 'FILE', description: 'manifest to check against (default: beside the file)' },
  },
  examples: ['vancore-ota artifact verify dist/artifacts/vancore-platform-0.9.2.mender --key ci-signing.pub'],
  async run({ values, positionals, io }) {
    const keyFile = opt.string(values, 'key');
    if (!keyFile) throw new VanError('USAGE', 'missing --key PUB (the public key the artifact must be signed with)');
    const { verifyArtifact, formatVerifyReport } = await import('./verify.js');
    const report = await verifyArtifact(
      { file: positionals[0] as string, keyFile, manifestFile: opt.string(values, 'manifest') ?? null },
      execaRunner,
    );
    io.stdout.write(formatVerifyReport(report));
  },
});

/** Upload credentials: exactly one way in. */
export function uploadAuth(values: OptionValues): {
  token?: string;
  token_file?: string;
  user?: string;
  password_file?: string;
} {
  const token = opt.string(values, 'token');
  const tokenFile = opt.string(values, 'token-file');
  const user = opt.string(values, 'user');
  const passwordFile = opt.string(values, 'password-file');
  const ways = [token, tokenFile, user].filter((v) => v !== undefined).length;
  if (ways !== 1) throw new VanError('USAGE', 'give one of --token T, --token-file F or --user U --password-file F');
  if (user !== undefined && passwordFile === undefined) throw new VanError('USAGE', '--user needs --password-file F');
  if (user === undefined && passwordFile !== undefined)
    throw new VanError('USAGE', '--password-file goes with --user U');
  if (token !== undefined) return { token };
  if (tokenFile !== undefined) return { token_file: tokenFile };
  return { user, password_file: passwordFile };
}

export function serverUrl(values: OptionValues): string {
  const raw = opt.string(values, 'server');
  if (!raw) throw new VanError('USAGE', 'missing --server URL (the Mender server, e.g. https://mender.example.com)');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new VanError('USAGE', `--server must be a URL, got '${raw}'`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new VanError('USAGE', `--server must be http(s), got '${raw}'`);
  return raw.replace(/\/+$/, '');
}

const uploadCommand = defineCommand({
  name: 'upload',
  summary: 'Upload an artifact to the Mender server',
  description:
    'Streamed multipart upload to POST /api/management/v1/deployments/artifacts, with retries. Idempotent:\n' +
    'the same name and content already there is success; the same name with other content is a conflict.',
  positionals: [{ name: 'file', description: 'the .mender file' }],
  options: {
    server: { type: 'string', value: 'URL', description: 'Mender server base URL' },
    token: { type: 'string', value: 'T', description: 'personal access token (prefer --token-file: argv is visible)' },
    'token-file': { type: 'string', value: 'F', description: 'file holding a personal access token' },
    user: { type: 'string', value: 'U', description: 'Mender user (e-mail) to log in as' },
    'password-file': { type: 'string', value: 'F', description: "file holding the user's password" },
  },
  examples: [
    'vancore-ota artifact upload dist/artifacts/vancore-platform-0.9.2.mender --server https://mender.example.com \\\n' +
      '    --token-file "$MENDER_TOKEN_FILE"',
  ],
  async run({ values, positionals, io }) {
    const baseUrl = serverUrl(values);
    const auth = uploadAuth(values);
    const file = positionals[0] as string;
    const [{ uploadArtifact, menderRegistry }, { resolveMenderAuth }, { MenderManagementClient }, { readFile }] =
      await Promise.all([
        import('./upload.js'),
        import('../core/mender/credentials.js'),
        import('../core/mender/management.js'),
        import('node:fs/promises'),
      ]);
    const client = MenderManagementClient.create({
      baseUrl,
      auth: await resolveMenderAuth(auth, { env: io.env, readFile: (p) => readFile(p, 'utf8') }),
    });
    const r = await uploadArtifact(file, {
      registry: menderRegistry(client),
      progress: createProgress(stderrStream(io), `upload ${basename(file)}`),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      random: Math.random,
    });
    io.stdout.write(
      r.status === 'uploaded'
        ? `uploaded ${r.name} to ${baseUrl} (artifact ${r.id ?? '?'}, sha256 ${r.sha256})\n`
        : `already uploaded: ${r.name} with the same content is on ${baseUrl} (artifact ${r.id ?? '?'})\n`,
    );
  },
});

export const artifactCommand = defineCommand({
  name: 'artifact',
  summary: 'Build, sign, verify and upload VanCore artifacts',
  subcommands: [buildCommand, verifyCommand, uploadCommand],
});
