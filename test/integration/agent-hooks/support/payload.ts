// Update-module trees as the real client lays them out (RECIPE §4, §8.12): header/artifact_name,
// header/meta-data, and the payload files in files/ with mode 0600. The index is built the way
// packaging builds it (stored names from mender-artifacts' storedName) and checked with the core schema.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { storedName } from '../../../../mender-artifacts/build-plan.js';
import { ComposeIndex, ConfigIndex, PAYLOAD_INDEX_FILE } from '../../../../core/schemas/payload-index.js';

export interface TreeSpec {
  artifactName: string;
  metaData?: unknown;
  /** Payload files by stored name: text, bytes, or { path } of a file to copy. */
  files: Record<string, string | Buffer | { path: string }>;
}

/** Creates <parent>/tree-<random>/ and returns its path. */
export async function makeTree(parent: string, spec: TreeSpec): Promise<string> {
  const tree = join(parent, `tree-${randomBytes(4).toString('hex')}`);
  await mkdir(join(tree, 'header'), { recursive: true });
  await mkdir(join(tree, 'files'), { recursive: true });
  await writeFile(join(tree, 'header/artifact_name'), `${spec.artifactName}\n`);
  if (spec.metaData !== undefined) await writeFile(join(tree, 'header/meta-data'), JSON.stringify(spec.metaData));
  for (const [name, content] of Object.entries(spec.files)) {
    const dest = join(tree, 'files', name);
    if (typeof content === 'object' && !Buffer.isBuffer(content)) await copyFile(content.path, dest);
    else await writeFile(dest, content);
    await chmod(dest, 0o600);
  }
  return tree;
}

export type BundleContent = string | Buffer | { path: string };

async function sizeOf(c: BundleContent): Promise<number> {
  if (typeof c === 'string') return Buffer.byteLength(c);
  if (Buffer.isBuffer(c)) return c.length;
  return (await stat(c.path)).size;
}

/** A compose bundle tree: bundle paths → content; `images` are paths among them (docker save tarballs). */
export async function composeTree(
  parent: string,
  o: {
    artifactName?: string;
    component?: string;
    version: string;
    bundle: Record<string, BundleContent>;
    composeFile?: string;
    images?: string[];
    index?: (i: Record<string, unknown>) => unknown;
    metaData?: unknown;
  },
): Promise<string> {
  const component = o.component ?? 'platform';
  const entries = Object.entries(o.bundle).map(([path, content], i) => ({ path, content, name: storedName(i, path) }));
  const raw: Record<string, unknown> = {
    format: 1,
    type: 'vancore-compose',
    component,
    version: o.version,
    compose_file: o.composeFile ?? 'docker-compose.yml',
    files: await Promise.all(
      entries.map(async (e) => ({ name: e.name, path: e.path, mode: '0644', size: await sizeOf(e.content) })),
    ),
    images: o.images ?? [],
  };
  const index = o.index ? o.index(raw) : ComposeIndex.parse(raw);
  return makeTree(parent, {
    artifactName: o.artifactName ?? `vancore-${component}-${o.version}`,
    metaData: o.metaData ?? { vancore: { component, version: o.version } },
    files: {
      [PAYLOAD_INDEX_FILE]: JSON.stringify(index),
      ...Object.fromEntries(entries.map((e) => [e.name, e.content])),
    },
  });
}

/** A config tree: dest → content (+ optional index fields per file and top-level extras). */
export async function configTree(
  parent: string,
  o: {
    version: string;
    files: Record<string, { content: string | Buffer; mode?: string; owner?: string; group?: string }>;
    restart?: string[];
    index?: (i: Record<string, unknown>) => unknown;
    artifactName?: string;
  },
): Promise<string> {
  const entries = Object.entries(o.files).map(([dest, f], i) => ({ dest, f, name: storedName(i, dest) }));
  const raw: Record<string, unknown> = {
    format: 1,
    type: 'vancore-config',
    component: 'config',
    version: o.version,
    files: entries.map((e) => ({
      name: e.name,
      dest: e.dest,
      mode: e.f.mode ?? '0644',
      size: Buffer.byteLength(e.f.content),
      ...(e.f.owner ? { owner: e.f.owner } : {}),
      ...(e.f.group ? { group: e.f.group } : {}),
    })),
    ...(o.restart ? { restart: o.restart } : {}),
  };
  if (!o.index && !o.restart && !entries.some((e) => e.f.owner || e.f.group)) ConfigIndex.parse(raw);
  const index = o.index ? o.index(raw) : raw;
  return makeTree(parent, {
    artifactName: o.artifactName ?? `vancore-config-${o.version}`,
    metaData: { vancore: { component: 'config', version: o.version } },
    files: {
      [PAYLOAD_INDEX_FILE]: JSON.stringify(index),
      ...Object.fromEntries(entries.map((e) => [e.name, e.f.content])),
    },
  });
}

export interface ModuleRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `<module> <state> <tree>` with cwd = tree, as the client does. */
export function runModule(
  module: string,
  state: string,
  tree: string,
  env: NodeJS.ProcessEnv,
  opts: { timeoutMs?: number } = {},
): Promise<ModuleRun> {
  return new Promise((resolve) => {
    const child = spawn(module, [state, tree], {
      cwd: tree,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', (e) => {
      stderr += `[test] cannot start ${module}: ${e.message}\n`;
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Runs a module call held at `hold` (VANCORE_OTA_TEST_HOLD), waits until it is parked there, and
 * kills it with SIGKILL: a power cut at exactly that point. Returns the run's output.
 */
export async function runAndKillAt(
  module: string,
  state: string,
  tree: string,
  env: NodeJS.ProcessEnv,
  hold: string,
  holdFile: string,
): Promise<ModuleRun> {
  const run = runModule(module, state, tree, {
    ...env,
    VANCORE_OTA_TEST_HOLD: hold,
    VANCORE_OTA_TEST_HOLD_FILE: holdFile,
  });
  const started = Date.now();
  for (;;) {
    const pid = await readFile(holdFile, 'utf8').then(
      (t) => Number(t.trim()),
      () => 0,
    );
    if (pid > 0) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    if (Date.now() - started > 90_000) throw new Error(`the module never reached ${hold}`);
    const early = await Promise.race([run, new Promise<null>((r) => setTimeout(() => r(null), 50))]);
    if (early) throw new Error(`the module ended before reaching ${hold}: ${early.stderr}`);
  }
  return run;
}
