// The top level of every bundled state script: run the gate, print one line for the deployment log
// (stderr: the client collects it), exit with the decision's code. Bad config or meta-data is exit 1
// with one clear line; anything unexpected is also 1, never 21 (a retry must be a decision).
import { writeSync } from 'node:fs';
import { systemClock } from '../../core/clock.js';
import { isVanError, oneLine } from '../../core/errors.js';
import type { GatePhase } from '../../core/schemas/common.js';
import { DEFAULT_STATE_DIR, preConfig } from '../env.js';
import { recordDecision, toDecision } from '../journal.js';
import { lineLog } from '../log.js';
import { gateLine } from '../policy/explain.js';
import { reason } from '../policy/types.js';
import type { GateOptions, GateOutcome } from './common.js';

/** stderr without process.stderr: creating that stream loads node:stream (~5 ms of a cold start). */
function say(line: string): void {
  try {
    writeSync(2, line);
  } catch {
    // stderr closed: nothing to tell
  }
}

export type GateMain = (o: GateOptions) => Promise<GateOutcome>;

function scriptOptions(): GateOptions {
  return { env: process.env, clock: systemClock, log: lineLog('vancore-gate', 'warn'), record: true };
}

/** Best effort: journal a failure that happened before a decision could be made. */
function journalFailure(
  phase: GatePhase,
  code: 'config_invalid' | 'meta_data_invalid' | 'internal_error',
  message: string,
) {
  try {
    const pre = preConfig(process.env);
    const stateDir = pre.stateDirOverride ?? pre.paths.resolve(DEFAULT_STATE_DIR);
    const d = toDecision(
      phase,
      { verdict: 'fail', reasons: [reason(code, message)], checks: [], facts: {} },
      new Date(),
    );
    recordDecision(stateDir, d);
  } catch {
    // the journal is for support; the exit code is what matters to Mender
  }
}

/**
 * A gate that cannot decide says "not now" (exit 1) in bounded time instead of holding the client
 * (issue #16 item 8): 120 s, or $VANCORE_GATE_DEADLINE_SECONDS. The commit gate is exempt: its
 * validation window is its own, longer bound.
 */
function gateDeadlineMs(phase: GatePhase, env: NodeJS.ProcessEnv): number | undefined {
  const raw = Number(env.VANCORE_GATE_DEADLINE_SECONDS);
  if (Number.isFinite(raw) && raw > 0) return raw * 1000;
  return phase === 'ArtifactCommit_Enter' ? undefined : 120_000;
}

export async function runScript(phase: GatePhase, main: GateMain): Promise<never> {
  let code: number;
  const deadline = gateDeadlineMs(phase, process.env);
  if (deadline !== undefined) {
    setTimeout(() => {
      const message = `no decision within ${deadline / 1000} s: not now`;
      say(`vancore-gate ${phase}: ${message} (exit 1)\n`);
      journalFailure(phase, 'internal_error', message);
      process.exit(1);
    }, deadline);
  }
  try {
    const out = await main(scriptOptions());
    say(`${gateLine(out.decision)}\n`);
    code = out.exitCode;
  } catch (e) {
    const message = oneLine(e);
    const kind = isVanError(e)
      ? e.code === 'CONFIG_INVALID' || e.code === 'CONFIG_UNREADABLE'
        ? 'config_invalid'
        : e.code === 'META_DATA_INVALID'
          ? 'meta_data_invalid'
          : 'internal_error'
      : 'internal_error';
    say(
      `vancore-gate ${phase}: ${kind === 'internal_error' && !isVanError(e) ? 'internal error: ' : ''}${message} (exit 1)\n`,
    );
    journalFailure(phase, kind, message);
    code = 1;
  }
  process.exit(code);
}

/** Hooks whose exit code Mender ignores (…_Error): run, report a problem on stderr, exit 0. */
export async function runHook(name: string, main: (o: GateOptions) => Promise<void>): Promise<never> {
  try {
    await main(scriptOptions());
  } catch (e) {
    say(`vancore-gate ${name}: ${oneLine(e)}\n`);
  }
  process.exit(0);
}
