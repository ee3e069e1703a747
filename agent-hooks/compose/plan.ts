// The compose module's planner: pure functions from the facts (journal + which bundle sits in which
// directory) to the steps still needed. The module runs the first step, senses again and re-plans
// (lib/converge.ts), so a process killed anywhere resumes from what is actually on disk.
//
//   install : begin → stage → backup → load_images → migrate → move PREVIOUS>OLDER → move CURRENT>PREVIOUS
//             → move NEW>CURRENT → recreate → health → finish:installed
//   commit  : commit:record → remove OLDER/FAILED → finish:committed
//   rollback: rollback:begin → remove NEW → move CURRENT>FAILED → move PREVIOUS>CURRENT → move OLDER>PREVIOUS
//             → restore_images → restore_data → reconcile (up -d, or down on a first install) → verify
//             → unrecord → remove FAILED → finish:rolled_back
// Rollback steps depend on what the forward steps *started* (a started step may have had its effect).
import { commitOpening } from '../lib/converge.js';
import type { BundleMarker } from './bundle.js';
import { TERMINAL, type ComposeJournal, type Outcome, type Slot } from './journal.js';

export type SlotContent = BundleMarker | 'unknown' | null;

export interface ComposeFacts {
  /** The artifact the client is working on (header/artifact_name). */
  artifact: string;
  journal: ComposeJournal | null;
  slots: Record<Slot, SlotContent>;
  /** A NEW.partial staging directory exists (a stage step was cut short). */
  partial: boolean;
}

export type ComposeStep =
  | { kind: 'begin' }
  | { kind: 'stage' }
  | { kind: 'backup' }
  | { kind: 'load_images' }
  | { kind: 'migrate' }
  | { kind: 'move'; from: Slot; to: Slot }
  | { kind: 'remove'; slot: Slot | 'NEW.partial' }
  | { kind: 'recreate' }
  | { kind: 'health' }
  | { kind: 'finish'; outcome: Outcome }
  | { kind: 'record' }
  | { kind: 'start_rollback' }
  | { kind: 'restore_images' }
  | { kind: 'restore_data' }
  | { kind: 'reconcile'; how: 'up' | 'down' }
  | { kind: 'verify' }
  | { kind: 'unrecord' }
  | { kind: 'stuck'; why: string };

export function stepLabel(s: ComposeStep): string {
  switch (s.kind) {
    case 'move':
      return `move:${s.from}>${s.to}`;
    case 'remove':
      return `remove:${s.slot}`;
    case 'finish':
      return `finish:${s.outcome}`;
    case 'record':
      return 'commit:record';
    case 'start_rollback':
      return 'rollback:begin';
    case 'restore_images':
    case 'restore_data':
    case 'verify':
    case 'unrecord':
      return `rollback:${s.kind}`;
    case 'reconcile':
      return 'rollback:reconcile';
    case 'stuck':
      return 'stuck';
    default:
      return s.kind;
  }
}

const idOf = (c: SlotContent): string | undefined => (c === null || c === 'unknown' ? undefined : c.id);

function describeSlots(slots: Record<Slot, SlotContent>): string {
  return (Object.entries(slots) as [Slot, SlotContent][])
    .filter(([, c]) => c !== null)
    .map(([s, c]) => `${s}=${c === 'unknown' ? '?' : (c as BundleMarker).artifact_name}`)
    .join(' ');
}

/** A journal the install must first roll back: a deployment that never reached committed/rolled back. */
export function isStale(j: ComposeJournal | null): j is ComposeJournal {
  return j !== null && !TERMINAL.includes(j.outcome);
}

/** Install: the forward steps still needed for `facts.artifact` (a stale journal is rolled back first). */
export function planInstall(f: ComposeFacts): ComposeStep[] {
  const j = f.journal;
  if (j === null || TERMINAL.includes(j.outcome)) return [{ kind: 'begin' }];
  if (j.artifact_name !== f.artifact || j.outcome === 'rolling_back') {
    return [{ kind: 'stuck', why: `deployment ${j.artifact_name} is ${j.outcome}; it must be rolled back first` }];
  }
  if (j.outcome === 'installed') return [];
  // A step that started but is not done is simply run again: each forward step is idempotent.
  const done = (l: string) => j.done.includes(l);
  const s = { ...f.slots };
  const isNew = (slot: Slot) => idOf(s[slot]) === j.new_id;
  const steps: ComposeStep[] = [];
  const switched = isNew('CURRENT');
  if (!switched && !isNew('NEW')) steps.push({ kind: 'stage' });
  for (const kind of ['backup', 'load_images', 'migrate'] as const) if (!done(kind)) steps.push({ kind });
  if (!switched) {
    // Simulate the renames so the whole remaining list is shown (the first one is what runs next).
    if (j.before.previous && idOf(s.PREVIOUS) === j.before.previous.id) {
      if (s.OLDER !== null) return [{ kind: 'stuck', why: `OLDER is occupied (${describeSlots(f.slots)})` }];
      steps.push({ kind: 'move', from: 'PREVIOUS', to: 'OLDER' });
      s.OLDER = s.PREVIOUS;
      s.PREVIOUS = null;
    }
    if (j.before.current && idOf(s.CURRENT) === j.before.current.id) {
      if (s.PREVIOUS !== null) return [{ kind: 'stuck', why: `PREVIOUS is occupied (${describeSlots(f.slots)})` }];
      steps.push({ kind: 'move', from: 'CURRENT', to: 'PREVIOUS' });
      s.PREVIOUS = s.CURRENT;
      s.CURRENT = null;
    }
    const staged = isNew('NEW') || steps.some((st) => st.kind === 'stage');
    if (s.CURRENT !== null || !staged) {
      return [{ kind: 'stuck', why: `unexpected bundle directories (${describeSlots(f.slots)})` }];
    }
    steps.push({ kind: 'move', from: 'NEW', to: 'CURRENT' });
  }
  if (!done('recreate')) steps.push({ kind: 'recreate' });
  if (!done('health')) steps.push({ kind: 'health' });
  steps.push({ kind: 'finish', outcome: 'installed' });
  return steps;
}

/** Commit: record the version, drop what only a rollback of this deployment needed. */
export function planCommit(f: ComposeFacts): ComposeStep[] {
  const opening = commitOpening(f.journal, f.artifact);
  if (opening.final) return opening.steps;
  const steps: ComposeStep[] = [...opening.steps];
  if (f.slots.OLDER !== null) steps.push({ kind: 'remove', slot: 'OLDER' });
  if (f.slots.FAILED !== null) steps.push({ kind: 'remove', slot: 'FAILED' });
  steps.push({ kind: 'finish', outcome: 'committed' });
  return steps;
}

/**
 * Rollback: put back the bundles, images, data and version the deployment found, and the containers
 * of the restored bundle. Applies to any deployment that did not finish (a kill leaves one behind),
 * and to a committed one only when the client asks for that very artifact (it was killed during
 * ArtifactCommit and never learnt the commit happened). Without such a journal: nothing to do.
 */
export function planRollback(f: ComposeFacts): ComposeStep[] {
  const j = f.journal;
  if (j === null || j.outcome === 'rolled_back') return [];
  if (j.outcome === 'committed' && j.artifact_name !== f.artifact) return [];
  const started = (l: string) => j.started.includes(l);
  const done = (l: string) => j.done.includes(l);
  const s = { ...f.slots };
  const isNew = (slot: Slot) => idOf(s[slot]) === j.new_id;
  const steps: ComposeStep[] = [];
  if (j.outcome !== 'rolling_back') steps.push({ kind: 'start_rollback' });
  if (f.partial) steps.push({ kind: 'remove', slot: 'NEW.partial' });
  if (isNew('NEW')) {
    steps.push({ kind: 'remove', slot: 'NEW' });
    s.NEW = null;
  }
  if (isNew('CURRENT')) {
    if (s.FAILED !== null) steps.push({ kind: 'remove', slot: 'FAILED' });
    steps.push({ kind: 'move', from: 'CURRENT', to: 'FAILED' });
    s.FAILED = s.CURRENT;
    s.CURRENT = null;
  }
  const { current, previous } = j.before;
  if (current && s.CURRENT === null && idOf(s.PREVIOUS) === current.id) {
    steps.push({ kind: 'move', from: 'PREVIOUS', to: 'CURRENT' });
    s.CURRENT = s.PREVIOUS;
    s.PREVIOUS = null;
  }
  if (previous && s.PREVIOUS === null && idOf(s.OLDER) === previous.id) {
    steps.push({ kind: 'move', from: 'OLDER', to: 'PREVIOUS' });
    s.PREVIOUS = s.OLDER;
    s.OLDER = null;
  }
  // A commit that got as far as pruning OLDER cannot give PREVIOUS back; the van still ends on `current`.
  const previousOk = idOf(s.PREVIOUS) === previous?.id || (s.PREVIOUS === null && started('remove:OLDER'));
  if (idOf(s.CURRENT) !== current?.id || !previousOk) {
    return [
      {
        kind: 'stuck',
        why: `cannot restore ${current?.artifact_name ?? 'no bundle'}: unexpected bundle directories (${describeSlots(f.slots)})`,
      },
    ];
  }
  if (started('load_images') && !done('rollback:restore_images')) steps.push({ kind: 'restore_images' });
  if (started('migrate') && current && !done('rollback:restore_data')) steps.push({ kind: 'restore_data' });
  if (started('recreate') && !done('rollback:reconcile')) {
    steps.push({ kind: 'reconcile', how: current ? 'up' : 'down' });
  }
  if (started('recreate') && current && !done('rollback:verify')) steps.push({ kind: 'verify' });
  if (started('commit:record') && !done('rollback:unrecord')) steps.push({ kind: 'unrecord' });
  if (s.FAILED !== null) steps.push({ kind: 'remove', slot: 'FAILED' });
  steps.push({ kind: 'finish', outcome: 'rolled_back' });
  return steps;
}
