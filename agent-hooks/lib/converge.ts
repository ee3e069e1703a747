// Steps as data (CONVENTIONS §2): sense the current state, let a pure planner compute the steps still
// needed, run the first one, and sense again, until the planner has nothing left. Because every
// round starts from what is on disk (and in the journal), a process killed at any point resumes by
// simply running the loop again.
import { VanError } from '../../core/errors.js';
import { type StepMarks, markStep } from './journal.js';

export interface Convergence<F, S> {
  /** Gather the facts: journal, directories, … (no decisions here). */
  sense(): Promise<F>;
  /** Pure: the steps still needed, first one first. Empty = done. */
  plan(facts: F): readonly S[];
  /** A stable name for a step ("stage", "move:NEW>CURRENT"), used in the journal, logs and tests. */
  label(step: S): string;
  /** Record that a step starts or finished (the journal), before/after its effect. */
  mark(label: string, phase: 'start' | 'done'): Promise<void>;
  execute(step: S, facts: F): Promise<void>;
  /** Test-only fault injection (see lib/hold.ts). */
  hold?: (label: string, when: 'before' | 'after') => Promise<void>;
  onStep?: (label: string) => void;
}

/** Upper bound on rounds: a planner that keeps proposing work is a bug, not a reason to spin forever. */
const MAX_ROUNDS = 200;

/** Runs the loop; returns the labels of the steps it executed, in order. */
export async function converge<F, S>(c: Convergence<F, S>): Promise<string[]> {
  const executed: string[] = [];
  let last = '';
  let repeats = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const facts = await c.sense();
    const step = c.plan(facts)[0];
    if (step === undefined) return executed;
    const label = c.label(step);
    // The same step planned again right after it ran means its effect did not show in the facts.
    repeats = label === last ? repeats + 1 : 0;
    if (repeats >= 2) throw new Error(`internal: plan does not converge (step ${label} keeps coming back)`);
    last = label;
    c.onStep?.(label);
    await c.mark(label, 'start');
    await c.hold?.(label, 'before');
    await c.execute(step, facts);
    await c.hold?.(label, 'after');
    await c.mark(label, 'done');
    executed.push(label);
  }
  throw new Error(`internal: plan did not finish within ${MAX_ROUNDS} steps`);
}

/**
 * `converge` with the module journal: every step is marked started before its effect and done after
 * it, and a failure's reason is kept in the journal (the rollback's last-update record and support
 * read it). Shared by the compose, config and vpn modules; each brings its own journal file.
 */
export interface JournaledConvergence<F, S, J extends StepMarks & { error?: string | undefined }> extends Omit<
  Convergence<F, S>,
  'mark' | 'onStep'
> {
  readJournal: () => Promise<J | null>;
  /** Replace the journal as given (atomically). */
  writeJournal: (j: J) => Promise<void>;
  now: () => Date;
  log: { info: (line: string) => void };
  /** What is running, for the log lines ("install", "rollback"). */
  what: string;
}

export async function convergeJournaled<F, S, J extends StepMarks & { error?: string | undefined }>(
  c: JournaledConvergence<F, S, J>,
): Promise<string[]> {
  const { readJournal, writeJournal, now, log, what, ...loop } = c;
  try {
    return await converge<F, S>({
      ...loop,
      mark: async (label, phase) => {
        const j = await readJournal();
        // `begin` has no journal of its own yet when it starts; `stuck` is not a step of the deployment.
        if (!j || label === 'stuck' || (label === 'begin' && phase === 'start')) return;
        await writeJournal(markStep(j, label, phase, now()));
      },
      onStep: (label) => log.info(`${what}: ${label}`),
    });
  } catch (e) {
    const j = await readJournal().catch(() => null);
    // A CONFLICT (`stuck`) is about another deployment's journal: it must not be rewritten.
    if (j && !(e instanceof VanError && e.code === 'CONFLICT')) {
      await writeJournal({ ...j, error: (e as Error).message.slice(0, 1000), updated_at: now().toISOString() });
    }
    throw e;
  }
}

/** The journal fields the commit rule reads (every module's journal has them). */
export interface CommitJournal {
  artifact_name: string;
  outcome: string;
  done: readonly string[];
}

/**
 * The commit rule every update module shares: only the artifact this module installed, only once
 * (`committed` plans nothing), never from another outcome (stuck), and the version record first unless
 * a killed commit already wrote it. `final` steps are the whole plan; otherwise the module adds its own
 * clean-up and `finish`.
 */
export function commitOpening(
  j: CommitJournal | null,
  artifact: string,
): { final: true; steps: [] | [{ kind: 'stuck'; why: string }] } | { final: false; steps: [] | [{ kind: 'record' }] } {
  if (j === null || j.artifact_name !== artifact) {
    return {
      final: true,
      steps: [{ kind: 'stuck', why: `nothing to commit: ${artifact} was not installed by this module` }],
    };
  }
  if (j.outcome === 'committed') return { final: true, steps: [] };
  if (j.outcome !== 'installed')
    return { final: true, steps: [{ kind: 'stuck', why: `cannot commit ${artifact}: it is ${j.outcome}` }] };
  return { final: false, steps: j.done.includes('commit:record') ? [] : [{ kind: 'record' }] };
}
