// Shared by the packaging tests (unit and system): temp dirs, keys in every PEM form, a compose
// bundle, stand-in gate scripts, the artifact CLI run in-process, and mender-artifact itself.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { onTestFinished } from 'vitest';
import { runCommand } from '../../../cli/command.js';
import { defineCommand } from '../../../core/command.js';
import { artifactCommand } from '../../../mender-artifacts/cli.js';
import { GATE_SCRIPTS } from '../../../mender-artifacts/build-facts.js';

/** A temp dir removed when the current test ends. */
export async function tempDir(prefix = 'vc-pkg-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Every entry of a directory, hidden ones included ([] if it does not exist). */
export async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

export type KeyForm = 'ec-sec1' | 'ec-pkcs8' | 'ec-params' | 'rsa-pkcs1' | 'rsa-pkcs8';

export interface KeyFiles {
  priv: string;
  pub: string;
}

/** A key pair in the given PEM form, written as `<name>.key` / `<name>.pub` (SPKI). */
export async function keyPair(dir: string, form: KeyForm, name: string = form): Promise<KeyFiles> {
  let priv: string;
  let pub: string;
  if (form.startsWith('ec')) {
    const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    pub = k.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const sec1 = k.privateKey.export({ type: 'sec1', format: 'pem' }).toString();
    priv =
      form === 'ec-pkcs8'
        ? k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
        : form === 'ec-params'
          ? // What `openssl ecparam -genkey` writes without -noout: mender-artifact rejects it as is.
            `-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n${sec1}`
          : sec1;
  } else {
    const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
    pub = k.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    priv = k.privateKey.export({ type: form === 'rsa-pkcs1' ? 'pkcs1' : 'pkcs8', format: 'pem' }).toString();
  }
  const files = { priv: join(dir, `${name}.key`), pub: join(dir, `${name}.pub`) };
  await writeFile(files.priv, priv, { mode: 0o600 });
  await writeFile(files.pub, pub);
  return files;
}

/**
 * Stand-ins for the bundled gate scripts (the gates issue builds the real ones): each leaves a marker
 * in the system-test sandbox's format (`<epoch> SCRIPT <name> <rc>` in $VC_SB_MARKERS) and proceeds.
 */
export async function gateScriptsDir(dir: string): Promise<string> {
  const scripts = join(dir, 'scripts');
  await mkdir(scripts, { recursive: true });
  for (const name of GATE_SCRIPTS) {
    await writeFile(
      join(scripts, name),
      `#!/bin/sh\n[ -n "$VC_SB_MARKERS" ] && echo "$(date +%s.%N) SCRIPT ${name} 0" >> "$VC_SB_MARKERS"\nexit 0\n`,
    );
    await chmod(join(scripts, name), 0o755);
  }
  return scripts;
}

/** A small compose bundle: compose file, .env, a config file in a subfolder, one image tarball. */
export async function composeBundle(dir: string, imageBytes = 64 * 1024): Promise<string> {
  const bundle = join(dir, 'bundle');
  await mkdir(join(bundle, 'images'), { recursive: true });
  await mkdir(join(bundle, 'config'), { recursive: true });
  await writeFile(join(bundle, 'docker-compose.yml'), 'services:\n  app:\n    image: vancore/app:1.4.0\n');
  await writeFile(join(bundle, '.env'), 'VANCORE_MODE=van\n');
  await writeFile(join(bundle, 'config', 'app.yaml'), 'level: info\n', { mode: 0o640 });
  await chmod(join(bundle, 'config', 'app.yaml'), 0o640);
  await writeFile(join(bundle, 'images', 'app.tar'), Buffer.alloc(imageBytes, 7));
  return bundle;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function sink(): { stream: NodeJS.WritableStream; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => text };
}

/** `vancore-ota artifact …` in-process, through the same command engine as dist/cli.js. */
export async function artifactCli(argv: string[], signal = new AbortController().signal): Promise<CliRun> {
  const out = sink();
  const err = sink();
  const root = defineCommand({ name: 'vancore-ota', summary: 'test root', subcommands: [artifactCommand] });
  const code = await runCommand(
    root,
    ['artifact', ...argv],
    { stdout: out.stream, stderr: err.stream, env: process.env, isTTY: false },
    signal,
  );
  return { code, stdout: out.text(), stderr: err.text() };
}

/** The real mender-artifact; returns stdout+stderr and the exit code (it never throws on rc ≠ 0). */
export function menderArtifact(args: string[]): { rc: number; out: string } {
  try {
    const out = execFileSync('mender-artifact', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { rc: 0, out };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { rc: err.status, out: `${err.stdout}${err.stderr}` };
  }
}

/** The parts of `mender-artifact read` output the tests assert on. */
export interface ReadBack {
  name: string;
  signature: string;
  devices: string[];
  scripts: string[];
  type: string;
  provides: Record<string, string>;
  depends: string;
  clearsProvides: string;
  metaData: unknown;
  files: string[];
}

export function parseRead(text: string): ReadBack {
  const line = (re: RegExp) => re.exec(text)?.[1]?.trim() ?? '';
  const section = (start: RegExp, end: RegExp) => {
    const from = text.search(start);
    if (from < 0) return '';
    const rest = text.slice(from).replace(start, '');
    const to = rest.search(end);
    return to < 0 ? rest : rest.slice(0, to);
  };
  const provides: Record<string, string> = {};
  for (const l of section(/^\s*Provides:\s*$/m, /^\s*Depends:/m).split('\n')) {
    const m = /^\s*([^:\s]+): (.*)$/.exec(l);
    if (m) provides[m[1] as string] = (m[2] as string).trim();
  }
  const meta = section(/^\s*Metadata:\s*$/m, /^\s*Files:\s*$/m).trim();
  return {
    name: line(/^\s*Name: (.*)$/m),
    signature: line(/^\s*Signature: (.*)$/m),
    devices: line(/^\s*Compatible devices: '\[(.*)\]'$/m)
      .split(' ')
      .filter(Boolean),
    scripts: section(/^\s*State scripts:\s*$/m, /^\s*Updates:\s*$/m)
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean),
    type: line(/^\s*Type:\s+(.*)$/m),
    provides,
    depends: line(/^\s*Depends: (.*)$/m),
    clearsProvides: line(/^\s*Clears Provides: (.*)$/m),
    metaData: meta ? JSON.parse(meta) : null,
    files: [...text.matchAll(/^\s*name:\s+(\S+)$/gm)].map((m) => m[1] as string),
  };
}
