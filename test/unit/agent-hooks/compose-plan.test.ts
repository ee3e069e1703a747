// The compose planner against a model of the van: bundle directories, the journal, which bundle the
// containers run, the image tag and versions.json. A fake executor applies each step to the model;
// a "kill" stops the run right before or right after any step's effect, and the next call (what the
// client does after a restart) must always land on v1 fully or v2 fully — never a mix.
import { describe, expect, it } from 'vitest';
import type { BundleMarker } from '../../../agent-hooks/compose/bundle.js';
import { Slots, type ComposeJournal, type Slot } from '../../../agent-hooks/compose/journal.js';
import {
  planCommit,
  planInstall,
  planRollback,
  stepLabel,
  type ComposeFacts,
  type ComposeStep,
} from '../../../agent-hooks/compose/plan.js';
import { converge } from '../../../agent-hooks/lib/converge.js';
import { markStep } from '../../../agent-hooks/lib/journal.js';

const T = new Date('2026-11-22T10:00:00Z');

function marker(version: string, id = `vancore-platform-${version}@x`): BundleMarker {
  return {
    id,
    artifact_name: `vancore-platform-${version}`,
    component: 'platform',
    version,
    project: 'vancore-platform',
    compose_file: 'docker-compose.yml',
  };
}

interface World {
  slots: Record<Slot, BundleMarker | null>;
  partial: boolean;
  journal: ComposeJournal | null;
  /** The bundle id the containers run. */
  running: string | null;
  /** Which image the shared tag points at: the one v1 shipped or the one v2 loaded. */
  tag: 'v1-image' | 'v2-image';
  versions: Record<string, string>;
}

class Killed extends Error {}

function emptySlots(): Record<Slot, BundleMarker | null> {
  return Object.fromEntries(Slots.map((s) => [s, null])) as Record<Slot, BundleMarker | null>;
}

/** v1 committed, v0 kept as PREVIOUS. */
function baseline(): World {
  const slots = emptySlots();
  slots.CURRENT = marker('1.0.0');
  slots.PREVIOUS = marker('0.9.0');
  return {
    slots,
    partial: false,
    journal: null,
    running: slots.CURRENT.id,
    tag: 'v1-image',
    versions: { platform: '1.0.0' },
  };
}

function facts(w: World, artifact: string): ComposeFacts {
  return { artifact, journal: w.journal, slots: { ...w.slots }, partial: w.partial };
}

const V2 = marker('2.0.0', 'vancore-platform-2.0.0@T');

function apply(w: World, step: ComposeStep, opts: { healthy: boolean }): void {
  const j = w.journal;
  switch (step.kind) {
    case 'begin':
      w.journal = {
        format: 1,
        artifact_name: V2.artifact_name,
        component: 'platform',
        version: '2.0.0',
        project: 'vancore-platform',
        new_id: V2.id,
        before: {
          current: w.slots.CURRENT && {
            id: w.slots.CURRENT.id,
            artifact_name: w.slots.CURRENT.artifact_name,
            version: w.slots.CURRENT.version,
          },
          previous: w.slots.PREVIOUS && {
            id: w.slots.PREVIOUS.id,
            artifact_name: w.slots.PREVIOUS.artifact_name,
            version: w.slots.PREVIOUS.version,
          },
        },
        versions_before: w.versions.platform ?? null,
        images_before: w.slots.CURRENT ? [{ ref: 'app', id: 'v1-image' }] : [],
        outcome: 'installing',
        started: [],
        done: [],
        updated_at: T.toISOString(),
      };
      return;
    case 'stage':
      w.slots.NEW = V2;
      w.partial = false;
      return;
    case 'backup':
    case 'migrate':
      return;
    case 'load_images':
      w.tag = 'v2-image';
      return;
    case 'move':
      if (w.slots[step.to] !== null) throw new Error(`model: ${step.to} occupied`);
      w.slots[step.to] = w.slots[step.from];
      w.slots[step.from] = null;
      return;
    case 'remove':
      if (step.slot === 'NEW.partial') w.partial = false;
      else w.slots[step.slot] = null;
      return;
    case 'recreate':
      w.running = w.slots.CURRENT?.id ?? null;
      return;
    case 'health':
      if (!opts.healthy) throw new Error('not healthy');
      return;
    case 'verify':
      return;
    case 'finish':
      w.journal = { ...j!, outcome: step.outcome };
      return;
    case 'record':
      w.versions.platform = j!.version;
      return;
    case 'start_rollback':
      w.journal = { ...j!, outcome: 'rolling_back' };
      return;
    case 'restore_images':
      w.tag = 'v1-image';
      return;
    case 'restore_data':
      return;
    case 'reconcile':
      w.running = step.how === 'up' ? (w.slots.CURRENT?.id ?? null) : null;
      return;
    case 'unrecord':
      if (j!.versions_before === null) delete w.versions.platform;
      else w.versions.platform = j!.versions_before;
      return;
    case 'stuck':
      throw new Error(step.why);
  }
}

/** Runs a planner over the world; with `killAt` = [label, 'before'|'after'] it stops there (a power cut). */
async function call(
  w: World,
  planner: (f: ComposeFacts) => ComposeStep[],
  artifact: string,
  opts: { healthy?: boolean; killAt?: [string, 'before' | 'after'] } = {},
): Promise<string[]> {
  return converge<ComposeFacts, ComposeStep>({
    sense: () => Promise.resolve(facts(w, artifact)),
    plan: planner,
    label: stepLabel,
    mark: (label, phase) => {
      if (w.journal && label !== 'stuck' && !(label === 'begin' && phase === 'start')) {
        w.journal = markStep(w.journal, label, phase, T);
      }
      return Promise.resolve();
    },
    execute: (step) => {
      apply(w, step, { healthy: opts.healthy ?? true });
      return Promise.resolve();
    },
    hold: (label, when) => {
      if (opts.killAt && opts.killAt[0] === label && opts.killAt[1] === when) throw new Killed(label);
      return Promise.resolve();
    },
  });
}

function onV1(w: World, b: World): void {
  expect(w.slots.CURRENT?.id).toBe(b.slots.CURRENT?.id);
  expect(w.slots.PREVIOUS?.id).toBe(b.slots.PREVIOUS?.id);
  expect(w.slots.NEW).toBeNull();
  expect(w.slots.OLDER).toBeNull();
  expect(w.slots.FAILED).toBeNull();
  expect(w.partial).toBe(false);
  expect(w.running).toBe(b.running);
  expect(w.tag).toBe('v1-image');
  expect(w.versions).toEqual(b.versions);
  expect(w.journal?.outcome ?? 'rolled_back').toBe('rolled_back');
}

function onV2(w: World): void {
  expect(w.slots.CURRENT?.id).toBe(V2.id);
  expect(w.slots.PREVIOUS?.artifact_name).toBe('vancore-platform-1.0.0');
  expect(w.slots.OLDER).toBeNull();
  expect(w.running).toBe(V2.id);
  expect(w.tag).toBe('v2-image');
  expect(w.versions.platform).toBe('2.0.0');
  expect(w.journal?.outcome).toBe('committed');
}

const INSTALL_STEPS = [
  'begin',
  'stage',
  'backup',
  'load_images',
  'migrate',
  'move:PREVIOUS>OLDER',
  'move:CURRENT>PREVIOUS',
  'move:NEW>CURRENT',
  'recreate',
  'health',
  'finish:installed',
];

describe('compose planner', () => {
  it('plans the whole install, then commit, in order', async () => {
    const w = baseline();
    expect(await call(w, planInstall, V2.artifact_name)).toEqual(INSTALL_STEPS);
    expect(await call(w, planCommit, V2.artifact_name)).toEqual(['commit:record', 'remove:OLDER', 'finish:committed']);
    onV2(w);
    // Idempotent: a repeated commit (standalone re-runs it after a kill) has nothing left to do.
    expect(await call(w, planCommit, V2.artifact_name)).toEqual([]);
  });

  it('shows the remaining steps as data (for --dry-run and the journal)', () => {
    const w = baseline();
    expect(planInstall(facts(w, V2.artifact_name)).map(stepLabel)).toEqual(['begin']);
  });

  it('rolls a failed health wait back to v1 exactly', async () => {
    const w = baseline();
    const b = baseline();
    await expect(call(w, planInstall, V2.artifact_name, { healthy: false })).rejects.toThrow('not healthy');
    expect(await call(w, planRollback, V2.artifact_name)).toEqual([
      'rollback:begin',
      'move:CURRENT>FAILED',
      'move:PREVIOUS>CURRENT',
      'move:OLDER>PREVIOUS',
      'rollback:restore_images',
      'rollback:restore_data',
      'rollback:reconcile',
      'rollback:verify',
      'remove:FAILED',
      'finish:rolled_back',
    ]);
    onV1(w, b);
  });

  it('ArtifactRollback without a prior install is a no-op', async () => {
    const w = baseline();
    expect(await call(w, planRollback, V2.artifact_name)).toEqual([]);
    onV1(w, baseline());
    // … and so is a rollback naming another artifact than a committed journal's.
    await call(w, planInstall, V2.artifact_name);
    await call(w, planCommit, V2.artifact_name);
    expect(await call(w, planRollback, 'vancore-platform-3.0.0')).toEqual([]);
    onV2(w);
  });

  it('a first install (no CURRENT) rolls back to no containers at all', async () => {
    const w: World = { ...baseline(), slots: emptySlots(), running: null, versions: {} };
    await expect(call(w, planInstall, V2.artifact_name, { healthy: false })).rejects.toThrow();
    const steps = await call(w, planRollback, V2.artifact_name);
    expect(steps).toContain('rollback:reconcile');
    expect(steps).not.toContain('rollback:verify');
    expect(w.running).toBeNull();
    expect(w.slots.CURRENT).toBeNull();
    expect(w.versions).toEqual({});
  });

  it('refuses to commit what it did not install', () => {
    expect(planCommit(facts(baseline(), V2.artifact_name))[0]).toMatchObject({ kind: 'stuck' });
  });

  const kills = INSTALL_STEPS.flatMap((l) => [
    [l, 'before'],
    [l, 'after'],
  ]) as [string, 'before' | 'after'][];

  it.each(kills)('kill -9 at %s (%s) during ArtifactInstall, then ArtifactRollback → v1', async (label, when) => {
    const w = baseline();
    await expect(call(w, planInstall, V2.artifact_name, { killAt: [label, when] })).rejects.toBeInstanceOf(Killed);
    await call(w, planRollback, V2.artifact_name);
    onV1(w, baseline());
  });

  it.each(kills)('kill -9 at %s (%s), standalone: the next install recovers, then finishes v2', async (label, when) => {
    const w = baseline();
    await expect(call(w, planInstall, V2.artifact_name, { killAt: [label, when] })).rejects.toBeInstanceOf(Killed);
    // What the module's install does first with a stale journal.
    await call(w, planRollback, w.journal?.artifact_name ?? V2.artifact_name);
    onV1(w, baseline());
    await call(w, planInstall, V2.artifact_name);
    await call(w, planCommit, V2.artifact_name);
    onV2(w);
  });

  const commitKills = ['commit:record', 'remove:OLDER', 'finish:committed'].flatMap((l) => [
    [l, 'before'],
    [l, 'after'],
  ]) as [string, 'before' | 'after'][];

  it.each(commitKills)(
    'kill -9 at %s (%s) during ArtifactCommit: rollback → v1, or commit again → v2',
    async (label, when) => {
      const w = baseline();
      await call(w, planInstall, V2.artifact_name);
      await expect(call(w, planCommit, V2.artifact_name, { killAt: [label, when] })).rejects.toBeInstanceOf(Killed);
      const again = structuredClone(w);
      // The daemon resumes a cut commit as a rollback (RECIPE-style experiment in docs/agent-hooks.md).
      await call(w, planRollback, V2.artifact_name);
      expect(w.slots.CURRENT?.artifact_name).toBe('vancore-platform-1.0.0');
      expect(w.running).toBe(baseline().running);
      expect(w.tag).toBe('v1-image');
      expect(w.versions).toEqual({ platform: '1.0.0' });
      // Standalone re-runs `commit` instead.
      await call(again, planCommit, V2.artifact_name);
      onV2(again);
    },
  );

  const rollbackKills = [
    'rollback:begin',
    'move:CURRENT>FAILED',
    'move:PREVIOUS>CURRENT',
    'move:OLDER>PREVIOUS',
    'rollback:restore_images',
    'rollback:reconcile',
    'rollback:verify',
    'remove:FAILED',
    'finish:rolled_back',
  ].flatMap((l) => [
    [l, 'before'],
    [l, 'after'],
  ]) as [string, 'before' | 'after'][];

  it.each(rollbackKills)(
    'kill -9 at %s (%s) during ArtifactRollback, then ArtifactRollback again → v1',
    async (label, when) => {
      const w = baseline();
      await expect(call(w, planInstall, V2.artifact_name, { healthy: false })).rejects.toThrow();
      await expect(call(w, planRollback, V2.artifact_name, { killAt: [label, when] })).rejects.toBeInstanceOf(Killed);
      await call(w, planRollback, V2.artifact_name);
      onV1(w, baseline());
    },
  );
});
