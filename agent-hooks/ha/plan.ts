// The vancore-ha module's journal and planners (pure). Journal: <state_dir>/ha/journal.json.
//   install : begin → per add-on, in the artifact's order: backup:<slug> → update:<slug> → verify:<slug>
//             → finish:installed
//   commit  : commit:record → finish:committed
//   rollback: rollback:begin → per add-on whose update started, last first: rollback:restore:<slug>
//             → rollback:unrecord (if the commit recorded) → finish:rolled_back
// A backup is written (and its slug journaled) before the add-on's update starts, so every add-on a
// rollback must restore has its backup. An update that started is restored even if the add-on still
// reports the old version: a killed module may have left the Supervisor mid-update.
import { commitOpening } from '../lib/converge.js';
import * as z from 'zod/mini';
import { ComponentName, IsoDateTime, SemVer } from '../../core/schemas/common.js';

export const HaOutcomes = ['installing', 'installed', 'committed', 'rolling_back', 'rolled_back'] as const;
export type HaOutcome = (typeof HaOutcomes)[number];
const TERMINAL: readonly HaOutcome[] = ['committed', 'rolled_back'];

export const HaAddonRecord = z.object({
  slug: z.string(),
  target: z.string(),
  health_url: z.nullable(z.string()),
  /** The version and state before the deployment (read in preflight). */
  from: z.string(),
  was_started: z.boolean(),
  /** The Supervisor backup holding the add-on as it was (set by backup:<slug>). */
  backup: z.nullable(z.string()),
});
export type HaAddonRecord = z.infer<typeof HaAddonRecord>;

export const HaJournal = z.object({
  format: z.literal(1),
  artifact_name: z.string(),
  component: ComponentName,
  version: SemVer,
  versions_before: z.nullable(SemVer),
  addons: z.array(HaAddonRecord),
  outcome: z.enum(HaOutcomes),
  started: z.array(z.string()),
  done: z.array(z.string()),
  error: z.optional(z.string()),
  updated_at: IsoDateTime,
});
export type HaJournal = z.infer<typeof HaJournal>;

export interface HaFacts {
  artifact: string;
  journal: HaJournal | null;
}

export type HaStep =
  | { kind: 'begin' }
  | { kind: 'backup'; slug: string }
  | { kind: 'update'; slug: string }
  | { kind: 'verify'; slug: string }
  | { kind: 'record' }
  | { kind: 'start_rollback' }
  | { kind: 'restore'; slug: string }
  | { kind: 'unrecord' }
  | { kind: 'finish'; outcome: HaOutcome }
  | { kind: 'stuck'; why: string };

export function haStepLabel(s: HaStep): string {
  switch (s.kind) {
    case 'backup':
    case 'update':
    case 'verify':
      return `${s.kind}:${s.slug}`;
    case 'restore':
      return `rollback:restore:${s.slug}`;
    case 'record':
      return 'commit:record';
    case 'start_rollback':
      return 'rollback:begin';
    case 'unrecord':
      return 'rollback:unrecord';
    case 'finish':
      return `finish:${s.outcome}`;
    default:
      return s.kind;
  }
}

export function isStaleHa(j: HaJournal | null): j is HaJournal {
  return j !== null && !TERMINAL.includes(j.outcome);
}

export function planHaInstall(f: HaFacts): HaStep[] {
  const j = f.journal;
  if (j === null || TERMINAL.includes(j.outcome)) return [{ kind: 'begin' }];
  if (j.artifact_name !== f.artifact || j.outcome === 'rolling_back') {
    return [{ kind: 'stuck', why: `deployment ${j.artifact_name} is ${j.outcome}; it must be rolled back first` }];
  }
  if (j.outcome === 'installed') return [];
  const done = (l: string) => j.done.includes(l);
  const steps: HaStep[] = [];
  for (const a of j.addons) {
    if (!done(`backup:${a.slug}`)) steps.push({ kind: 'backup', slug: a.slug });
    if (!done(`update:${a.slug}`)) steps.push({ kind: 'update', slug: a.slug });
    if (!done(`verify:${a.slug}`)) steps.push({ kind: 'verify', slug: a.slug });
  }
  steps.push({ kind: 'finish', outcome: 'installed' });
  return steps;
}

export function planHaCommit(f: HaFacts): HaStep[] {
  const opening = commitOpening(f.journal, f.artifact);
  if (opening.final) return opening.steps;
  const steps: HaStep[] = [...opening.steps];
  steps.push({ kind: 'finish', outcome: 'committed' });
  return steps;
}

/** Unfinished deployments, or a committed one the client asks to roll back (its commit was cut). */
export function planHaRollback(f: HaFacts): HaStep[] {
  const j = f.journal;
  if (j === null || j.outcome === 'rolled_back') return [];
  if (j.outcome === 'committed' && j.artifact_name !== f.artifact) return [];
  const started = (l: string) => j.started.includes(l);
  const done = (l: string) => j.done.includes(l);
  const steps: HaStep[] = [];
  if (j.outcome !== 'rolling_back') steps.push({ kind: 'start_rollback' });
  for (const a of [...j.addons].reverse()) {
    if (started(`update:${a.slug}`) && !done(`rollback:restore:${a.slug}`))
      steps.push({ kind: 'restore', slug: a.slug });
  }
  if (started('commit:record') && !done('rollback:unrecord')) steps.push({ kind: 'unrecord' });
  steps.push({ kind: 'finish', outcome: 'rolled_back' });
  return steps;
}
