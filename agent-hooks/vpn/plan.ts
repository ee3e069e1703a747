// The vancore-vpn journal and planners (pure). Journal: <state_dir>/vpn/journal.json. One artifact =
// one migration step; its effects, in order:
//   add     : begin → daemon:start:hs → join:hs → forget-key → validate → finish:installed
//   verify  : begin → validate → finish:installed                         (probes only)
//   cutover : begin → primary:hs → daemon:stop:saas → validate → finish:installed
//   retire  : begin → stash:saas → validate → finish:installed
//   commit  : commit:record → [retire: purge:saas] → finish:committed     (record arms the deadman)
//   rollback: rollback:begin → the undo of every effect that *started*, newest first → rollback:restore
//             → finish:rolled_back
// The deadman's revert after a commit is the same undo list (`undoSteps`), so a reverted van and a
// rolled-back one are in the same configuration. Which step may start from where the van is, and the
// state a step leaves, are core/vpn-steps.ts (the bridge and the simulator use the same rules).
import { commitOpening } from '../lib/converge.js';
import * as z from 'zod/mini';
import { IsoDateTime, SemVer } from '../../core/schemas/common.js';
import { VpnStep } from '../../core/schemas/payload-index.js';
import { VpnPosition } from '../../core/vpn-steps.js';

export const VpnOutcomes = ['installing', 'installed', 'committed', 'rolling_back', 'rolled_back'] as const;
export type VpnOutcome = (typeof VpnOutcomes)[number];
const TERMINAL: readonly VpnOutcome[] = ['committed', 'rolled_back'];

export const VpnJournal = z.object({
  format: z.literal(1),
  artifact_name: z.string(),
  version: SemVer,
  step: VpnStep,
  login_server: z.string(),
  /** vpn.json before this step (what a rollback or the deadman goes back to). */
  before: VpnPosition,
  versions_before: z.nullable(SemVer),
  outcome: z.enum(VpnOutcomes),
  started: z.array(z.string()),
  done: z.array(z.string()),
  error: z.optional(z.string()),
  updated_at: IsoDateTime,
});
export type VpnJournal = z.infer<typeof VpnJournal>;

export type Instance = 'saas' | 'hs';

/** Effects that change the van's VPN configuration; each is idempotent (re-run after a kill). */
export type VpnEffect =
  | { kind: 'daemon'; instance: Instance; to: 'start' | 'stop' }
  | { kind: 'join_hs' }
  | { kind: 'forget_key' }
  | { kind: 'hs_dns'; primary: boolean }
  | { kind: 'stash_saas' }
  | { kind: 'unstash_saas' }
  | { kind: 'purge_saas' }
  | { kind: 'logout_hs' }
  | { kind: 'wipe_hs' };

export type VpnAction =
  | { kind: 'begin' }
  | { kind: 'effect'; effect: VpnEffect; phase: 'install' | 'commit' | 'rollback' }
  | { kind: 'validate' }
  | { kind: 'record' }
  | { kind: 'start_rollback' }
  | { kind: 'restore' }
  | { kind: 'finish'; outcome: VpnOutcome }
  | { kind: 'stuck'; why: string };

export function effectLabel(e: VpnEffect): string {
  switch (e.kind) {
    case 'daemon':
      return `daemon:${e.to}:${e.instance}`;
    case 'join_hs':
      return 'join:hs';
    case 'forget_key':
      return 'forget-key';
    case 'hs_dns':
      return e.primary ? 'primary:hs' : 'secondary:hs';
    case 'stash_saas':
      return 'stash:saas';
    case 'unstash_saas':
      return 'unstash:saas';
    case 'purge_saas':
      return 'purge:saas';
    case 'logout_hs':
      return 'logout:hs';
    case 'wipe_hs':
      return 'wipe:hs';
  }
}

export function vpnActionLabel(a: VpnAction): string {
  switch (a.kind) {
    case 'effect':
      return a.phase === 'rollback' ? `rollback:${effectLabel(a.effect)}` : effectLabel(a.effect);
    case 'record':
      return 'commit:record';
    case 'start_rollback':
      return 'rollback:begin';
    case 'restore':
      return 'rollback:restore';
    case 'finish':
      return `finish:${a.outcome}`;
    default:
      return a.kind;
  }
}

/** The install effects of a step, in order. */
export function installEffects(step: VpnStep): VpnEffect[] {
  switch (step) {
    case 'add':
      return [{ kind: 'daemon', instance: 'hs', to: 'start' }, { kind: 'join_hs' }, { kind: 'forget_key' }];
    case 'verify':
      return [];
    case 'cutover':
      return [
        { kind: 'hs_dns', primary: true },
        { kind: 'daemon', instance: 'saas', to: 'stop' },
      ];
    case 'retire':
      return [{ kind: 'stash_saas' }];
  }
}

/**
 * Pure: what undoes a step, newest effect first, given which effect labels have started (a started
 * effect may have happened). `purge:saas` cannot be undone: once it started, SaaS state is gone.
 */
export function undoEffects(step: VpnStep, started: (label: string) => boolean): VpnEffect[] {
  switch (step) {
    case 'add':
      return started('daemon:start:hs')
        ? [{ kind: 'logout_hs' }, { kind: 'daemon', instance: 'hs', to: 'stop' }, { kind: 'wipe_hs' }]
        : [];
    case 'verify':
      return [];
    case 'cutover': {
      const out: VpnEffect[] = [];
      if (started('daemon:stop:saas')) out.push({ kind: 'daemon', instance: 'saas', to: 'start' });
      if (started('primary:hs')) out.push({ kind: 'hs_dns', primary: false });
      return out;
    }
    case 'retire':
      return started('stash:saas') && !started('purge:saas') ? [{ kind: 'unstash_saas' }] : [];
  }
}

export interface VpnFacts {
  artifact: string;
  journal: VpnJournal | null;
}

export function isStaleVpn(j: VpnJournal | null): j is VpnJournal {
  return j !== null && !TERMINAL.includes(j.outcome);
}

export function planVpnInstall(f: VpnFacts): VpnAction[] {
  const j = f.journal;
  if (j === null || TERMINAL.includes(j.outcome)) return [{ kind: 'begin' }];
  if (j.artifact_name !== f.artifact || j.outcome === 'rolling_back') {
    return [{ kind: 'stuck', why: `deployment ${j.artifact_name} is ${j.outcome}; it must be rolled back first` }];
  }
  if (j.outcome === 'installed') return [];
  const steps: VpnAction[] = installEffects(j.step)
    .filter((e) => !j.done.includes(effectLabel(e)))
    .map((effect) => ({ kind: 'effect', effect, phase: 'install' }));
  if (!j.done.includes('validate')) steps.push({ kind: 'validate' });
  steps.push({ kind: 'finish', outcome: 'installed' });
  return steps;
}

export function planVpnCommit(f: VpnFacts): VpnAction[] {
  const opening = commitOpening(f.journal, f.artifact);
  if (opening.final) return opening.steps;
  const steps: VpnAction[] = [...opening.steps];
  const j = f.journal;
  if (j?.step === 'retire' && !j.done.includes('purge:saas')) {
    steps.push({ kind: 'effect', effect: { kind: 'purge_saas' }, phase: 'commit' });
  }
  steps.push({ kind: 'finish', outcome: 'committed' });
  return steps;
}

/** Unfinished deployments, or a committed one the client asks to roll back (a commit cut short). */
export function planVpnRollback(f: VpnFacts): VpnAction[] {
  const j = f.journal;
  if (j === null || j.outcome === 'rolled_back') return [];
  if (j.outcome === 'committed' && j.artifact_name !== f.artifact) return [];
  const started = (l: string) => j.started.includes(l);
  const steps: VpnAction[] = [];
  if (j.outcome !== 'rolling_back') steps.push({ kind: 'start_rollback' });
  for (const effect of undoEffects(j.step, started)) {
    if (!j.done.includes(`rollback:${effectLabel(effect)}`)) steps.push({ kind: 'effect', effect, phase: 'rollback' });
  }
  if (!j.done.includes('rollback:restore')) steps.push({ kind: 'restore' });
  steps.push({ kind: 'finish', outcome: 'rolled_back' });
  return steps;
}
