// The container engine as the compose module and the health runner see it: a narrow interface over
// the docker CLI and `docker compose` (falling back to the standalone `docker-compose`), built on a
// CommandRunner so tests can script it and the real thing is plain child processes.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { VanError } from '../../core/errors.js';
import {
  describeResult,
  streamCommand,
  type CommandResult,
  type CommandRunner,
  type StreamedCommand,
} from '../lib/runner.js';

export interface ComposeTarget {
  project: string;
  /** The bundle directory (the compose project directory). */
  dir: string;
  /** Compose file path inside `dir`. */
  file: string;
}

export interface ServiceInfo {
  name: string;
  image?: string;
  /** Services with profiles are not started by `up` (e.g. the migration service). */
  profiles: string[];
  hasHealthcheck: boolean;
}

export interface ContainerState {
  name: string;
  service: string | undefined;
  /** A `compose run` container, not part of the project's services. */
  oneoff: boolean;
  /** Docker's state: created, running, paused, restarting, removing, exited or dead. */
  status: string;
  exitCode: number;
  /** null when the image/service defines no healthcheck. */
  health: 'starting' | 'healthy' | 'unhealthy' | null;
  /** The image reference the container was created from (Config.Image). */
  image: string;
  /** The image id it runs (what a rollback must point that reference at again). */
  imageId: string;
}

export interface Engine {
  /** Server version; throws TOOL_FAILED when the engine is unreachable. */
  serverVersion(): Promise<string>;
  /** The compose command in use (`docker compose` or `docker-compose`); throws TOOL_MISSING. */
  composeCommand(): Promise<string[]>;
  /** Validate and resolve the compose file (`config`); throws INPUT_INVALID with compose's reason. */
  config(t: ComposeTarget): Promise<ServiceInfo[]>;
  imageId(ref: string): Promise<string | null>;
  tag(id: string, ref: string): Promise<void>;
  load(tarball: string, timeoutMs: number): Promise<void>;
  /** Image references a `docker save` tarball holds (from its manifest.json); [] when unknown. */
  tarballRefs(tarball: string): Promise<string[]>;
  /** Every image in the engine with its layers' diff ids (RootFS.Layers), in order. */
  imageLayers(): Promise<{ id: string; layers: string[] }[]>;
  /** `docker save <ids>` as a stream (the layer delta takes the layers a van has from it). */
  save(ids: string[], timeoutMs: number): StreamedCommand;
  up(t: ComposeTarget, timeoutMs: number): Promise<void>;
  down(t: ComposeTarget, timeoutMs: number): Promise<void>;
  /** `run --rm --no-deps -T <service>`: a one-shot service; the result, whatever it is. */
  runOnce(t: ComposeTarget, service: string, timeoutMs: number): Promise<CommandResult>;
  containers(project: string): Promise<ContainerState[]>;
}

const QUICK_MS = 30_000;

async function onPath(cmd: string, path: string | undefined): Promise<boolean> {
  for (const dir of (path ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter(Boolean)) {
    try {
      await access(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

export function dockerEngine(runner: CommandRunner, env: NodeJS.ProcessEnv): Engine {
  let composeCmd: Promise<string[]> | undefined;

  const docker = (args: string[], timeoutMs = QUICK_MS) => runner.run('docker', args, { timeoutMs });
  const must = async (what: string, p: Promise<CommandResult>): Promise<CommandResult> => {
    const r = await p;
    if (r.code !== 0) throw new VanError('TOOL_FAILED', describeResult(what, r));
    return r;
  };

  const detectCompose = async (): Promise<string[]> => {
    const plugin = await runner.run('docker', ['compose', 'version'], { timeoutMs: QUICK_MS });
    if (plugin.code === 0) return ['docker', 'compose'];
    // Only looked up, not run: the Python docker-compose 1.x costs ~1 s per start on a van hub.
    if (await onPath('docker-compose', env.PATH)) return ['docker-compose'];
    throw new VanError('TOOL_MISSING', 'neither `docker compose` nor `docker-compose` is installed on this van');
  };
  const compose = async (t: ComposeTarget, args: string[], timeoutMs: number): Promise<CommandResult> => {
    composeCmd ??= detectCompose();
    const [cmd, ...pre] = await composeCmd;
    return runner.run(
      cmd as string,
      [...pre, '-p', t.project, '-f', join(t.dir, t.file), '--project-directory', t.dir, ...args],
      { cwd: t.dir, timeoutMs },
    );
  };

  return {
    async serverVersion() {
      const r = await docker(['version', '--format', '{{.Server.Version}}']);
      if (r.code !== 0) throw new VanError('TOOL_FAILED', describeResult('container engine unreachable', r));
      return r.stdout.trim();
    },
    composeCommand() {
      composeCmd ??= detectCompose();
      return composeCmd;
    },
    async config(t) {
      const r = await compose(t, ['config'], QUICK_MS);
      if (r.code !== 0) throw new VanError('INPUT_INVALID', describeResult(`compose file ${t.file} is invalid`, r));
      return parseServices(r.stdout);
    },
    async imageId(ref) {
      const r = await docker(['image', 'inspect', '--format', '{{.Id}}', ref]);
      return r.code === 0 ? r.stdout.trim() || null : null;
    },
    async tag(id, ref) {
      await must(`docker tag ${ref}`, docker(['tag', id, ref]));
    },
    async load(tarball, timeoutMs) {
      await must(`docker load ${tarball}`, docker(['load', '-q', '-i', tarball], timeoutMs));
    },
    async tarballRefs(tarball) {
      const r = await runner.run('tar', ['-xOf', tarball, 'manifest.json'], { timeoutMs: QUICK_MS });
      if (r.code !== 0) return [];
      return parseSaveManifest(r.stdout);
    },
    async imageLayers() {
      const ids = await must('docker image ls', docker(['image', 'ls', '-a', '-q', '--no-trunc']));
      const list = [...new Set(ids.stdout.split('\n').filter(Boolean))];
      if (list.length === 0) return [];
      const r = await must(
        'docker image inspect',
        docker(['image', 'inspect', '--format', '{{.Id}} {{range .RootFS.Layers}}{{.}} {{end}}', ...list]),
      );
      return r.stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((w) => w.length > 0 && w[0] !== '')
        .map(([id, ...layers]) => ({ id: id as string, layers }));
    },
    save(ids, timeoutMs) {
      return streamCommand('docker', ['save', ...ids], { env, timeoutMs });
    },
    async up(t, timeoutMs) {
      await must('compose up', compose(t, ['up', '-d', '--remove-orphans', '--no-build'], timeoutMs));
    },
    async down(t, timeoutMs) {
      await must('compose down', compose(t, ['down', '--remove-orphans', '-t', '10'], timeoutMs));
    },
    runOnce: (t, service, timeoutMs) => compose(t, ['run', '--rm', '--no-deps', '-T', service], timeoutMs),
    async containers(project) {
      const ids = await must(
        'docker ps',
        docker(['ps', '-a', '-q', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`]),
      );
      const list = ids.stdout.split('\n').filter(Boolean);
      if (list.length === 0) return [];
      const r = await docker(['inspect', ...list]);
      // A container removed between ps and inspect makes inspect fail for it; ask again next round.
      if (r.code !== 0 && r.stdout.trim() === '') return [];
      return parseInspect(r.stdout);
    },
  };
}

/**
 * Pure: a compose document → its services. Used on `compose config` output (resolved) and, for the
 * health wait, on the bundle's own compose file: service names and profiles need no interpolation,
 * and sparing a `compose config` run saves a second on every poll with the Python docker-compose.
 */
export function parseServices(composeYaml: string): ServiceInfo[] {
  let doc: { services?: Record<string, Record<string, unknown> | null> } | null;
  try {
    doc = parseYaml(composeYaml) as typeof doc;
  } catch {
    return [];
  }
  const services = doc?.services ?? {};
  return Object.entries(services).map(([name, raw]) => {
    const s = raw ?? {};
    const hc = s.healthcheck as { test?: unknown; disable?: boolean } | undefined;
    const test = hc?.test;
    const disabled = hc?.disable === true || (Array.isArray(test) && test[0] === 'NONE');
    return {
      name,
      ...(typeof s.image === 'string' ? { image: s.image } : {}),
      profiles: Array.isArray(s.profiles) ? s.profiles.map(String) : [],
      hasHealthcheck: hc !== undefined && !disabled,
    };
  });
}

/** Pure: `docker save`'s manifest.json → the image references it carries. */
export function parseSaveManifest(text: string): string[] {
  try {
    const doc = JSON.parse(text) as unknown;
    if (!Array.isArray(doc)) return [];
    return doc.flatMap((m) => {
      const tags = (m as { RepoTags?: unknown }).RepoTags;
      return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
    });
  } catch {
    return [];
  }
}

/** Pure: `docker inspect` JSON → container states (unknown shapes are skipped, never thrown). */
export function parseInspect(text: string): ContainerState[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(doc)) return [];
  const out: ContainerState[] = [];
  for (const c of doc as Record<string, unknown>[]) {
    const state = (c.State ?? {}) as Record<string, unknown>;
    const config = (c.Config ?? {}) as Record<string, unknown>;
    const labels = (config.Labels ?? {}) as Record<string, string>;
    const health = (state.Health as { Status?: string } | undefined)?.Status;
    const text = (v: unknown, fallback = '') => (typeof v === 'string' ? v : fallback);
    out.push({
      name: text(c.Name).replace(/^\//, ''),
      service: labels['com.docker.compose.service'],
      oneoff: String(labels['com.docker.compose.oneoff'] ?? '').toLowerCase() === 'true',
      status: text(state.Status, 'unknown'),
      exitCode: typeof state.ExitCode === 'number' ? state.ExitCode : -1,
      health: health === 'starting' || health === 'healthy' || health === 'unhealthy' ? health : null,
      image: text(config.Image),
      imageId: text(c.Image),
    });
  }
  return out;
}
