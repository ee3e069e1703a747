// The gate decision record: every verdict, its reasons and the facts it used. Written to
// <state_dir>/gate.json (latest per phase) and published as `vancore.gate.*` inventory.
import * as z from 'zod/mini';
import { StateScriptExit } from '../errors.js';
import { ReasonCodes } from '../reason-codes.js';
import { ClientFlavour, NOT_NOW_STATE } from './client.js';
import { ComponentName, GatePhase, IsoDateTime, SemVer } from './common.js';

export const GateVerdicts = ['proceed', 'retry', 'defer', 'fail'] as const;
export const GateVerdict = z.enum(GateVerdicts);
export type GateVerdict = z.infer<typeof GateVerdict>;

/** What support sees: open (going ahead), deferred (waiting for conditions), blocked (refused). */
export const GateStates = ['open', 'deferred', 'blocked'] as const;
export const GateState = z.enum(GateStates);
export type GateState = z.infer<typeof GateState>;

export const GateReason = z.object({
  /** Stable machine code from the catalogue (core/reason-codes.ts), e.g. `moving`, `signal_low`. */
  code: z.enum(ReasonCodes),
  message: z.string().check(z.maxLength(200)),
});
export type GateReason = z.infer<typeof GateReason>;

export const GateDecision = z.object({
  phase: GatePhase,
  verdict: GateVerdict,
  state: GateState,
  exit_code: z.union([z.literal(0), z.literal(1), z.literal(21)]),
  reasons: z.array(GateReason),
  /** The facts the policy saw, as plain values (readings ages, thresholds, installed versions…). */
  facts: z.record(z.string(), z.unknown()),
  at: IsoDateTime,
  /** Since when this phase has been in this state (carried over while the state does not change). */
  since: IsoDateTime,
  artifact: z.optional(z.object({ name: z.optional(z.string()), component: ComponentName, version: SemVer })),
  /** The Mender client the van runs (CLIENT_FILE, written by device install), and where it says "not now". */
  client: z.optional(
    z.object({
      flavour: ClientFlavour,
      version: z.string(),
      not_now_state: z.enum([NOT_NOW_STATE['mender-3'], NOT_NOW_STATE['mender-update-5']]),
    }),
  ),
});
export type GateDecision = z.infer<typeof GateDecision>;

/** The one place verdicts meet exit codes and support-facing states. */
export const verdictOutcome: Record<GateVerdict, { exit_code: 0 | 1 | 21; state: GateState }> = {
  proceed: { exit_code: StateScriptExit.proceed, state: 'open' },
  retry: { exit_code: StateScriptExit.retryLater, state: 'deferred' },
  // At Download_Enter under the daemon, exit 1 means "not now": no failure, re-fetched at the next poll.
  defer: { exit_code: StateScriptExit.fail, state: 'deferred' },
  fail: { exit_code: StateScriptExit.fail, state: 'blocked' },
};
