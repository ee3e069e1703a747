// vancore-compose: the update module for a VanCore compose bundle (protocol v3). The planner
// (plan.ts) decides; this file senses (journal + bundle directories), runs the steps and answers
// the protocol calls. Layout under <state_dir>/compose/<component>/:
//   CURRENT/  the bundle the containers run from      PREVIOUS/  the one before (kept for rollback)
//   NEW/      staged, not yet switched in             OLDER/     the one before PREVIOUS (until commit)
//   FAILED/   a rolled-back bundle (until rollback ends)  journal.json  backups/
// Directories are switched with rename(2), one at a time, each journaled.
import { copyFile, mkdir, open, readFile, rename, rm, stat, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import { VanError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ComposeBundleSettings } from '../../core/schemas/payload.js';
import { readStateJson, STATE_FILES, writeStateJson } from '../../core/state-dir.js';
import { syncStateDir } from '../../core/state-files.js';
import { readVersions, setInstalledVersion, recordUpdate } from '../../core/versions.js';
import { convergeJournaled } from '../lib/converge.js';
import type { DeviceContext } from '../lib/device.js';
import type { Hold } from '../lib/hold.js';
import { listPayloadFiles, readIndexJson } from '../lib/payload.js';
import { describeResult, type CommandRunner } from '../lib/runner.js';
import type { ModuleHandlers, ModuleTree } from '../module/protocol.js';
import { rebuildDeltaImages } from './delta.js';
import {
  BUNDLE_MARKER,
  type BundleFile,
  BundleMarker,
  parseBundleSettings,
  validateComposePayload,
  type ComposeBundle,
} from './bundle.js';
import type { ComposeTarget, Engine, ServiceInfo } from './engine.js';
import { waitHealthy } from './health-wait.js';
import { readJournal, Slots, writeJournal, type ComposeJournal, type Slot } from './journal.js';
import {
  isStale,
  planCommit,
  planInstall,
  planRollback,
  stepLabel,
  type ComposeFacts,
  type ComposeStep,
  type SlotContent,
} from './plan.js';

export interface ComposeDeps {
  ctx: DeviceContext;
  engine: Engine;
  runner: CommandRunner;
  clock: Clock;
  log: Logger;
  /** Environment for hook scripts (the module's own). */
  env: NodeJS.ProcessEnv;
  hold?: Hold;
}

const LOAD_TIMEOUT_MS = 30 * 60_000;
const UP_TIMEOUT_MS = 10 * 60_000;

export function componentDir(stateDir: string, component: string): string {
  return join(stateDir, 'compose', component);
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

export async function readMarker(bundleDir: string): Promise<SlotContent> {
  if (!(await exists(bundleDir))) return null;
  const read = readStateJson(join(bundleDir, BUNDLE_MARKER), {
    schema: BundleMarker,
    maxBytes: STATE_FILES.composeMarker.maxBytes,
  });
  return read.status === 'ok' ? read.value : 'unknown';
}

export async function senseCompose(base: string, artifact: string): Promise<ComposeFacts> {
  const slots = {} as Record<Slot, SlotContent>;
  for (const s of Slots) slots[s] = await readMarker(join(base, s));
  return { artifact, journal: await readJournal(base), slots, partial: await exists(join(base, 'NEW.partial')) };
}

/** Settings of a bundle directory, read from its compose file. */
export async function bundleSettings(dir: string, marker: BundleMarker): Promise<ComposeBundleSettings> {
  const path = join(dir, marker.compose_file);
  return parseBundleSettings(await readFile(path, 'utf8'), path);
}

function targetOf(dir: string, m: { project: string; compose_file: string }): ComposeTarget {
  return { project: m.project, dir, file: m.compose_file };
}

async function copyWithMode(src: string, dest: string, mode: number): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  await copyFile(src, dest);
  const fh = await open(dest, 'r+');
  try {
    // Payload files arrive as 0600 (RECIPE §8.12): the mode in the index is what the bundle needs.
    await fh.chmod(mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Copy the bundle files (not the image tarballs) from the payload into `dir`. */
async function materialise(tree: ModuleTree, bundle: ComposeBundle, dir: string): Promise<void> {
  for (const f of bundle.files) await copyWithMode(join(tree.filesDir, f.name), join(dir, f.path), f.mode);
}

// ---------------------------------------------------------------------------------------------
// Preflight: facts first, then a pure verdict. Nothing on the van changes here (the bundle is
// resolved in the module's own tree), so a failing preflight leaves not even a journal behind.

export interface PreflightFacts {
  engine: { ok: true; version: string } | { ok: false; error: string };
  compose: { ok: true; command: string } | { ok: false; error: string };
  services: { ok: true; list: ServiceInfo[] } | { ok: false; error: string };
  settings: { ok: true; value: ComposeBundleSettings } | { ok: false; error: string };
  bundlePaths: string[];
  freeBytes: number | null;
  neededBytes: number;
  /** Per image reference used by the bundle: already in the engine, or provided by a tarball. */
  images: { ref: string; present: boolean; inTarball: boolean }[];
}

/** Pure: the problems that stop an install (empty = go). */
export function decidePreflight(f: PreflightFacts): string[] {
  const problems: string[] = [];
  if (!f.engine.ok) problems.push(f.engine.error);
  if (!f.compose.ok) problems.push(f.compose.error);
  if (!f.settings.ok) problems.push(f.settings.error);
  if (!f.services.ok) problems.push(f.services.error);
  if (f.freeBytes !== null && f.freeBytes < f.neededBytes) {
    const mb = (n: number) => `${Math.ceil(n / 1024 / 1024)} MiB`;
    problems.push(`not enough disk space: ${mb(f.freeBytes)} free, ${mb(f.neededBytes)} needed`);
  }
  if (f.services.ok) {
    for (const s of f.services.list) {
      if (!s.image) problems.push(`service ${s.name} has no image (a van cannot build images)`);
    }
    if (f.settings.ok && f.settings.value.migrate) {
      const m = f.settings.value.migrate.service;
      if (!f.services.list.some((s) => s.name === m))
        problems.push(`migration service ${m} is not in the compose file`);
    }
  }
  for (const i of f.images) {
    if (!i.present && !i.inTarball) problems.push(`image ${i.ref} is neither on the van nor in the bundle`);
  }
  if (f.settings.ok) {
    const v = f.settings.value;
    const scripts = [v.hooks.backup, v.hooks.restore, ...v.health.scripts].filter((s) => s !== undefined);
    for (const s of scripts) {
      if (!f.bundlePaths.includes(s.path)) problems.push(`script ${s.path} named in x-vancore is not in the bundle`);
    }
  }
  return problems;
}

async function freeBytesAt(path: string): Promise<number | null> {
  // The state dir may not exist yet on a first install: measure its nearest existing ancestor.
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = await statfs(p);
      return s.bavail * s.bsize;
    } catch {
      if (dirname(p) === p) return null;
    }
  }
}

async function gatherPreflight(deps: ComposeDeps, tree: ModuleTree, bundle: ComposeBundle): Promise<PreflightFacts> {
  const scratch = join(tree.tmpDir, 'preflight');
  await rm(scratch, { recursive: true, force: true });
  await materialise(tree, bundle, scratch);
  const target: ComposeTarget = { project: bundle.project, dir: scratch, file: bundle.composeFile };
  const attempt = async <T>(fn: () => Promise<T>) => {
    try {
      return { ok: true as const, value: await fn() };
    } catch (e) {
      return { ok: false as const, error: (e as Error).message };
    }
  };
  const engine = await attempt(() => deps.engine.serverVersion());
  const compose = await attempt(() => deps.engine.composeCommand());
  const settings = await attempt(async () =>
    parseBundleSettings(await readFile(join(scratch, bundle.composeFile), 'utf8'), bundle.composeFile),
  );
  const services = engine.ok && compose.ok ? await attempt(() => deps.engine.config(target)) : undefined;
  const images: PreflightFacts['images'] = [];
  if (services?.ok) {
    const fromTarballs = new Set<string>();
    for (const img of bundle.images) {
      for (const ref of await deps.engine.tarballRefs(imageFile(tree, img))) fromTarballs.add(ref);
    }
    const refs = [...new Set(services.value.map((s) => s.image).filter((r): r is string => r !== undefined))];
    for (const ref of refs) {
      const inTarball = fromTarballs.has(ref) || fromTarballs.has(`${ref}:latest`);
      images.push({ ref, inTarball, present: inTarball || (await deps.engine.imageId(ref)) !== null });
    }
  }
  const base = componentDir(deps.ctx.stateDir, bundle.component);
  const settingsValue = settings.ok ? settings.value : undefined;
  const bytes = (list: { size: number }[]) => list.reduce((n, f) => n + f.size, 0);
  return {
    engine: engine.ok ? { ok: true, version: engine.value } : { ok: false, error: engine.error },
    compose: compose.ok ? { ok: true, command: compose.value.join(' ') } : { ok: false, error: compose.error },
    services: services?.ok
      ? { ok: true, list: services.value }
      : { ok: false, error: services?.error ?? 'compose file not checked: no engine' },
    settings: settingsValue
      ? { ok: true, value: settingsValue }
      : { ok: false, error: settings.ok ? '' : settings.error },
    bundlePaths: bundle.files.map((f) => f.path),
    freeBytes: await freeBytesAt(base),
    // Bundle files + room for the loaded images (about their tarball size) + the bundle's reserve.
    neededBytes: bytes(bundle.files) + bytes(bundle.images) + (settingsValue?.min_free_mb ?? 256) * 1024 * 1024,
    images,
  };
}

// ---------------------------------------------------------------------------------------------

interface RunContext {
  deps: ComposeDeps;
  base: string;
  /** Present for forward steps (install); rollback and commit work from the state dir alone. */
  install?: { tree: ModuleTree; bundle: ComposeBundle };
}

async function patchJournal(base: string, clock: Clock, fn: (j: ComposeJournal) => ComposeJournal): Promise<void> {
  const j = await readJournal(base);
  if (!j) throw new VanError('INTERNAL', 'journal vanished');
  await writeJournal(base, { ...fn(j), updated_at: clock.now().toISOString() });
}

function slotMarker(facts: ComposeFacts, slot: Slot): BundleMarker {
  const m = facts.slots[slot];
  if (m === null || m === 'unknown') throw new VanError('INTERNAL', `${slot} holds no readable bundle`);
  return m;
}

async function runHook(rc: RunContext, dir: string, marker: BundleMarker, which: 'backup' | 'restore'): Promise<void> {
  const { deps } = rc;
  const settings = await bundleSettings(dir, marker);
  const hook = settings.hooks[which];
  if (!hook) {
    deps.log.info(`${which}: ${marker.artifact_name} has no ${which} hook`);
    return;
  }
  const j = await readJournal(rc.base);
  const backupDir = join(rc.base, 'backups', (j?.artifact_name ?? 'unknown').replace(/[^A-Za-z0-9._-]/g, '_'));
  await mkdir(backupDir, { recursive: true });
  const r = await deps.runner.run('/bin/sh', [join(dir, hook.path)], {
    cwd: dir,
    env: {
      ...deps.env,
      VANCORE_BACKUP_DIR: backupDir,
      COMPOSE_PROJECT_NAME: marker.project,
      VANCORE_COMPONENT: marker.component,
      VANCORE_BUNDLE_VERSION: marker.version,
    },
    timeoutMs: hook.timeout_seconds * 1000,
  });
  if (r.code !== 0) throw new VanError('TOOL_FAILED', describeResult(`${which} hook ${hook.path}`, r));
}

async function execute(rc: RunContext, step: ComposeStep, facts: ComposeFacts): Promise<void> {
  const { deps, base } = rc;
  const { engine, clock, log } = deps;
  const j = facts.journal;
  const needInstall = () => {
    if (!rc.install) throw new VanError('INTERNAL', `step ${stepLabel(step)} needs the payload`);
    return rc.install;
  };
  const needJournal = () => {
    if (!j) throw new VanError('INTERNAL', `step ${stepLabel(step)} needs a journal`);
    return j;
  };
  switch (step.kind) {
    case 'begin': {
      const { tree, bundle } = needInstall();
      // A finished journal means no deployment owns these: leftovers of an interrupted cleanup.
      for (const stray of ['NEW', 'NEW.partial', 'OLDER', 'FAILED', 'backups']) {
        await rm(join(base, stray), { recursive: true, force: true });
      }
      const ref = (c: SlotContent, slot: Slot) => {
        if (c === 'unknown') throw new VanError('INTERNAL', `${join(base, slot)} has no readable ${BUNDLE_MARKER}`);
        return c === null ? null : { id: c.id, artifact_name: c.artifact_name, version: c.version };
      };
      const versions = await readVersions(deps.ctx.stateDir);
      const now = clock.now();
      await mkdir(base, { recursive: true });
      await writeJournal(base, {
        format: 1,
        artifact_name: tree.artifactName,
        component: bundle.component,
        version: bundle.version,
        project: bundle.project,
        new_id: `${tree.artifactName}@${now.toISOString()}`,
        before: { current: ref(facts.slots.CURRENT, 'CURRENT'), previous: ref(facts.slots.PREVIOUS, 'PREVIOUS') },
        versions_before: versions.value[bundle.component] ?? null,
        images_before: [],
        outcome: 'installing',
        started: [],
        done: [],
        updated_at: now.toISOString(),
      });
      await recordUpdate(
        deps.ctx.stateDir,
        'in_progress',
        { component: bundle.component, version: bundle.version, artifact_name: tree.artifactName },
        now,
      );
      return;
    }
    case 'stage': {
      const { tree, bundle } = needInstall();
      const jr = needJournal();
      const partial = join(base, 'NEW.partial');
      await rm(partial, { recursive: true, force: true });
      await materialise(tree, bundle, partial);
      const marker: BundleMarker = {
        id: jr.new_id,
        artifact_name: jr.artifact_name,
        component: bundle.component,
        version: bundle.version,
        project: bundle.project,
        compose_file: bundle.composeFile,
      };
      writeStateJson(join(partial, BUNDLE_MARKER), marker, { pretty: true });
      await rm(join(base, 'NEW'), { recursive: true, force: true });
      await rename(partial, join(base, 'NEW'));
      syncStateDir(base);
      return;
    }
    case 'backup': {
      const jr = needJournal();
      if (!jr.before.current) return;
      const current = slotMarker(facts, 'CURRENT');
      const dir = join(base, 'CURRENT');
      // Remember which image each running container's reference points at: loading v2's images may
      // move a tag (app:latest) and a rollback must point it back.
      const images = new Map<string, string>();
      for (const c of await engine.containers(current.project)) {
        if (!c.oneoff && c.image && c.imageId) images.set(c.image, c.imageId);
      }
      await patchJournal(base, clock, (x) => ({
        ...x,
        images_before: [...images].map(([ref, id]) => ({ ref, id })),
      }));
      await runHook(rc, dir, current, 'backup');
      return;
    }
    case 'load_images': {
      const { tree, bundle } = needInstall();
      for (const img of bundle.images) {
        log.info(`load_images: ${img.path} (${Math.ceil(img.size / 1024 / 1024)} MiB)`);
        await engine.load(imageFile(tree, img), LOAD_TIMEOUT_MS);
      }
      return;
    }
    case 'migrate': {
      const marker = slotMarker(facts, 'NEW');
      const dir = join(base, 'NEW');
      const settings = await bundleSettings(dir, marker);
      if (!settings.migrate) return;
      const r = await engine.runOnce(
        targetOf(dir, marker),
        settings.migrate.service,
        settings.migrate.timeout_seconds * 1000,
      );
      if (r.code !== 0) {
        throw new VanError('TOOL_FAILED', describeResult(`migration service ${settings.migrate.service}`, r));
      }
      return;
    }
    case 'move':
      await rename(join(base, step.from), join(base, step.to));
      syncStateDir(base);
      return;
    case 'remove':
      await rm(join(base, step.slot), { recursive: true, force: true });
      syncStateDir(base);
      return;
    case 'recreate': {
      const marker = slotMarker(facts, 'CURRENT');
      await engine.up(targetOf(join(base, 'CURRENT'), marker), UP_TIMEOUT_MS);
      return;
    }
    case 'health':
    case 'verify': {
      const marker = slotMarker(facts, 'CURRENT');
      const dir = join(base, 'CURRENT');
      log.info(await waitHealthy(deps, targetOf(dir, marker), await bundleSettings(dir, marker)));
      return;
    }
    case 'finish': {
      const jr = needJournal();
      await patchJournal(base, clock, (x) => ({ ...x, outcome: step.outcome }));
      if (step.outcome === 'rolled_back') {
        await recordUpdate(deps.ctx.stateDir, 'rolled_back', jr, clock.now());
      }
      return;
    }
    case 'record': {
      const jr = needJournal();
      await setInstalledVersion(deps.ctx.stateDir, jr.component, jr.version);
      await recordUpdate(deps.ctx.stateDir, 'success', jr, clock.now());
      return;
    }
    case 'start_rollback':
      await patchJournal(base, clock, (x) => ({ ...x, outcome: 'rolling_back' }));
      return;
    case 'restore_images': {
      const jr = needJournal();
      for (const { ref, id } of jr.images_before) {
        if ((await engine.imageId(ref)) === id) continue;
        if ((await engine.imageId(id)) === null) {
          throw new VanError(
            'TOOL_FAILED',
            `image ${ref} cannot be restored: ${id.slice(0, 19)} is gone from the engine`,
          );
        }
        await engine.tag(id, ref);
      }
      return;
    }
    case 'restore_data':
      await runHook(rc, join(base, 'CURRENT'), slotMarker(facts, 'CURRENT'), 'restore');
      return;
    case 'reconcile': {
      if (step.how === 'up') {
        await engine.up(targetOf(join(base, 'CURRENT'), slotMarker(facts, 'CURRENT')), UP_TIMEOUT_MS);
      } else {
        await engine.down(targetOf(join(base, 'FAILED'), slotMarker(facts, 'FAILED')), UP_TIMEOUT_MS);
      }
      return;
    }
    case 'unrecord': {
      const jr = needJournal();
      await setInstalledVersion(deps.ctx.stateDir, jr.component, jr.versions_before);
      return;
    }
    case 'stuck':
      throw new VanError('CONFLICT', step.why);
  }
}

function run(
  rc: RunContext,
  artifact: string,
  planner: (f: ComposeFacts) => ComposeStep[],
  what: string,
): Promise<string[]> {
  const { deps, base } = rc;
  return convergeJournaled<ComposeFacts, ComposeStep, ComposeJournal>({
    sense: () => senseCompose(base, artifact),
    plan: planner,
    label: stepLabel,
    execute: (step, facts) => execute(rc, step, facts),
    ...(deps.hold ? { hold: deps.hold } : {}),
    readJournal: () => readJournal(base),
    writeJournal: (j) => writeJournal(base, j),
    now: () => deps.clock.now(),
    log: deps.log,
    what,
  });
}

/** Where an image tarball is: in the payload, or (a layer delta) rebuilt in the module's work dir. */
function imageFile(tree: ModuleTree, img: BundleFile): string {
  return img.abs ?? join(tree.filesDir, img.name);
}

/**
 * A layer-delta artifact: rebuild its images into the module's tmp dir (every digest checked) and
 * install on from that tarball as from a full one. A missing or damaged layer fails here, with its
 * reason code, before a journal exists: the van is untouched.
 */
async function rebuildDelta(deps: ComposeDeps, tree: ModuleTree, bundle: ComposeBundle): Promise<ComposeBundle> {
  if (bundle.delta === null) return bundle;
  const r = await rebuildDeltaImages(deps.engine, bundle.delta, tree.filesDir, join(tree.tmpDir, 'delta'), (l) =>
    deps.log.info(l),
  );
  return {
    ...bundle,
    images: [{ name: 'delta-images.tar', path: 'images/delta-images.tar', mode: 0o600, size: r.size, abs: r.tarball }],
  };
}

async function readBundle(tree: ModuleTree): Promise<ComposeBundle> {
  const raw = await readIndexJson(tree.filesDir, 'vancore-compose');
  return validateComposePayload(raw, tree.metaData, await listPayloadFiles(tree.filesDir));
}

export function composeHandlers(deps: ComposeDeps): ModuleHandlers {
  const baseOf = (component: string) => componentDir(deps.ctx.stateDir, component);
  return {
    async install(tree) {
      let bundle = await readBundle(tree);
      const base = baseOf(bundle.component);
      const stale = await readJournal(base);
      if (isStale(stale)) {
        deps.log.warn(`deployment ${stale.artifact_name} was interrupted (${stale.outcome}): rolling it back first`);
        await run({ deps, base }, stale.artifact_name, planRollback, 'recover');
      }
      bundle = await rebuildDelta(deps, tree, bundle);
      const problems = decidePreflight(await gatherPreflight(deps, tree, bundle));
      await rm(join(tree.tmpDir, 'preflight'), { recursive: true, force: true });
      if (problems.length > 0) {
        const more = problems.length > 1 ? ` (+${problems.length - 1} more: ${problems.slice(1).join('; ')})` : '';
        throw new VanError('INPUT_INVALID', `preflight: ${problems[0]}${more}`);
      }
      await run({ deps, base, install: { tree, bundle } }, tree.artifactName, planInstall, 'install');
    },
    async commit(tree) {
      const bundle = await readBundle(tree);
      await run({ deps, base: baseOf(bundle.component) }, tree.artifactName, planCommit, 'commit');
    },
    async rollback(tree) {
      let bundle: ComposeBundle;
      try {
        bundle = await readBundle(tree);
      } catch (e) {
        // An artifact this module could not read was never installed: nothing to roll back.
        deps.log.info(`rollback: nothing to do (${(e as Error).message})`);
        return;
      }
      const executed = await run({ deps, base: baseOf(bundle.component) }, tree.artifactName, planRollback, 'rollback');
      if (executed.length === 0) deps.log.info(`rollback: nothing to do (${tree.artifactName} was not installed)`);
    },
    async failure(tree) {
      let bundle: ComposeBundle;
      try {
        bundle = await readBundle(tree);
      } catch {
        return;
      }
      const j = await readJournal(baseOf(bundle.component));
      if (j?.artifact_name === tree.artifactName && j.outcome === 'rolled_back') return;
      await recordUpdate(
        deps.ctx.stateDir,
        'failure',
        { component: bundle.component, version: bundle.version, artifact_name: tree.artifactName, error: j?.error },
        deps.clock.now(),
      );
    },
    async cleanup(tree) {
      await rm(tree.tmpDir, { recursive: true, force: true });
    },
  };
}
