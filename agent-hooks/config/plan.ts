// The config module's journal and planner. Journal: <state_dir>/config/journal.json, backups of the
// replaced files in <state_dir>/config/backups/. Pure planners, as for compose:
//   install : begin → backup → write → restart → finish:installed
//   commit  : commit:record → finish:committed
//   rollback: rollback:begin → rollback:restore → rollback:restart → rollback:unrecord → finish:rolled_back
// `backup` finishes before `write` starts, so a rollback always has the complete set of originals.
import { commitOpening } from '../lib/converge.js';
import * as z from 'zod/mini';
import { ComponentName, IsoDateTime, SemVer } from '../../core/schemas/common.js';

export const ConfigOutcomes = ['installing', 'installed', 'committed', 'rolling_back', 'rolled_back'] as const;
export type ConfigOutcome = (typeof ConfigOutcomes)[number];
const TERMINAL: readonly ConfigOutcome[] = ['committed', 'rolled_back'];

export const ConfigFileRecord = z.object({
  /** Device path (absolute, as in the index). */
  dest: z.string(),
  /** Whether a file was there before; if so its exact bytes are in backups/<backup>. */
  existed: z.boolean(),
  backup: z.optional(z.string()),
  mode: z.optional(z.int()),
  uid: z.optional(z.int()),
  gid: z.optional(z.int()),
  sha256: z.optional(z.string()),
});
export type ConfigFileRecord = z.infer<typeof ConfigFileRecord>;

export const ConfigJournal = z.object({
  format: z.literal(1),
  artifact_name: z.string(),
  component: ComponentName,
  version: SemVer,
  versions_before: z.nullable(SemVer),
  /** Filled by the backup step: one record per file the deployment writes. */
  files: z.array(ConfigFileRecord),
  /** Directories the write step creates (device paths, parents first), removed again on rollback. */
  created_dirs: z.array(z.string()),
  restart: z.array(z.string()),
  outcome: z.enum(ConfigOutcomes),
  started: z.array(z.string()),
  done: z.array(z.string()),
  error: z.optional(z.string()),
  updated_at: IsoDateTime,
});
export type ConfigJournal = z.infer<typeof ConfigJournal>;

export interface ConfigFacts {
  artifact: string;
  journal: ConfigJournal | null;
}

export type ConfigStep =
  | { kind: 'begin' }
  | { kind: 'backup' }
  | { kind: 'write' }
  | { kind: 'restart'; phase: 'install' | 'rollback' }
  | { kind: 'record' }
  | { kind: 'start_rollback' }
  | { kind: 'restore' }
  | { kind: 'unrecord' }
  | { kind: 'finish'; outcome: ConfigOutcome }
  | { kind: 'stuck'; why: string };

export function configStepLabel(s: ConfigStep): string {
  switch (s.kind) {
    case 'restart':
      return s.phase === 'install' ? 'restart' : 'rollback:restart';
    case 'record':
      return 'commit:record';
    case 'start_rollback':
      return 'rollback:begin';
    case 'restore':
    case 'unrecord':
      return `rollback:${s.kind}`;
    case 'finish':
      return `finish:${s.outcome}`;
    default:
      return s.kind;
  }
}

export function isStaleConfig(j: ConfigJournal | null): j is ConfigJournal {
  return j !== null && !TERMINAL.includes(j.outcome);
}

export function planConfigInstall(f: ConfigFacts): ConfigStep[] {
  const j = f.journal;
  if (j === null || TERMINAL.includes(j.outcome)) return [{ kind: 'begin' }];
  if (j.artifact_name !== f.artifact || j.outcome === 'rolling_back') {
    return [{ kind: 'stuck', why: `deployment ${j.artifact_name} is ${j.outcome}; it must be rolled back first` }];
  }
  if (j.outcome === 'installed') return [];
  const done = (l: string) => j.done.includes(l);
  const steps: ConfigStep[] = [];
  if (!done('backup')) steps.push({ kind: 'backup' });
  if (!done('write')) steps.push({ kind: 'write' });
  if (!done('restart') && j.restart.length > 0) steps.push({ kind: 'restart', phase: 'install' });
  steps.push({ kind: 'finish', outcome: 'installed' });
  return steps;
}

export function planConfigCommit(f: ConfigFacts): ConfigStep[] {
  const opening = commitOpening(f.journal, f.artifact);
  if (opening.final) return opening.steps;
  const steps: ConfigStep[] = [...opening.steps];
  steps.push({ kind: 'finish', outcome: 'committed' });
  return steps;
}

/** Same rule as compose: unfinished deployments, or a committed one the client asks to roll back. */
export function planConfigRollback(f: ConfigFacts): ConfigStep[] {
  const j = f.journal;
  if (j === null || j.outcome === 'rolled_back') return [];
  if (j.outcome === 'committed' && j.artifact_name !== f.artifact) return [];
  const started = (l: string) => j.started.includes(l);
  const done = (l: string) => j.done.includes(l);
  const steps: ConfigStep[] = [];
  if (j.outcome !== 'rolling_back') steps.push({ kind: 'start_rollback' });
  // Only `write` touches target files; before it started there is nothing to put back.
  if (started('write') && !done('rollback:restore')) steps.push({ kind: 'restore' });
  if (started('write') && j.restart.length > 0 && !done('rollback:restart')) {
    steps.push({ kind: 'restart', phase: 'rollback' });
  }
  if (started('commit:record') && !done('rollback:unrecord')) steps.push({ kind: 'unrecord' });
  steps.push({ kind: 'finish', outcome: 'rolled_back' });
  return steps;
}
