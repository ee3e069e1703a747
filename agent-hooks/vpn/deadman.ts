// The deadman: after a step commits, its probes keep being checked (`vancore-vpn deadman`, run by a
// systemd timer every minute on a van: deploy notes in docs/vpn-migration.md). If they fail
// `failures_to_revert` rounds in a row before `until`, the previous step's configuration is restored
// (the same undo list a rollback runs) and vpn.json says `reverted`. The timer file is
// <state_dir>/vpn/deadman.json; no file = nothing armed. Sense → decide (pure) → act.
import { join } from 'node:path';
import * as z from 'zod/mini';
import { IsoDateTime } from '../../core/schemas/common.js';
import { VpnStep } from '../../core/schemas/payload-index.js';
import { asPromise, readStateJson, removeStateFile, STATE_FILES, writeStateJson } from '../../core/state-dir.js';
import { VpnPosition } from '../../core/vpn-steps.js';

export const Deadman = z.object({
  format: z.literal(1),
  artifact_name: z.string(),
  step: VpnStep,
  login_server: z.string(),
  /** Where a revert goes back to. */
  before: VpnPosition,
  armed_at: IsoDateTime,
  until: IsoDateTime,
  /** Failed rounds in a row. */
  failures: z.int().check(z.minimum(0)),
  /** `reverting` once a revert started: a kill during it resumes the revert. */
  phase: z.enum(['armed', 'reverting']),
  last_failure: z.optional(z.string()),
});
export type Deadman = z.infer<typeof Deadman>;

export function deadmanPath(stateDir: string): string {
  return join(stateDir, STATE_FILES.vpnDeadman.path);
}

export function readDeadman(stateDir: string): Promise<Deadman | null> {
  return asPromise(() => {
    const read = readStateJson(deadmanPath(stateDir), { schema: Deadman, maxBytes: STATE_FILES.vpnDeadman.maxBytes });
    // A corrupt timer must not revert a van on its own: treated as not armed.
    return read.status === 'ok' ? read.value : null;
  });
}

export function writeDeadman(stateDir: string, d: Deadman): Promise<void> {
  return asPromise(() => {
    writeStateJson(deadmanPath(stateDir), Deadman.parse(d), { mode: 0o600, pretty: true });
  });
}

export function disarmDeadman(stateDir: string): Promise<void> {
  return asPromise(() => {
    // Durable: a disarm lost in a power cut would leave the timer free to revert a healthy step.
    removeStateFile(deadmanPath(stateDir));
  });
}

export interface DeadmanFacts {
  now: Date;
  deadman: Deadman | null;
  /** A deployment of the module is in flight: it owns the VPN configuration right now. */
  busy: boolean;
  /** Probe failures of the armed step; undefined when the probes were not run. */
  failures?: string[];
}

export type DeadmanVerdict =
  | { kind: 'idle'; why: string }
  | { kind: 'probe' }
  | { kind: 'disarm' }
  | { kind: 'healthy' }
  | { kind: 'count'; failures: number; why: string }
  | { kind: 'revert'; why: string };

/** Pure. Called twice per round: without `failures` (should we probe?) and with them. */
export function decideDeadman(f: DeadmanFacts, failuresToRevert: number): DeadmanVerdict {
  const d = f.deadman;
  if (d === null) return { kind: 'idle', why: 'nothing armed' };
  if (f.busy) return { kind: 'idle', why: 'a vancore-vpn deployment is in progress' };
  if (d.phase === 'reverting') return { kind: 'revert', why: d.last_failure ?? 'revert resumed' };
  if (f.now.getTime() >= new Date(d.until).getTime()) return { kind: 'disarm' };
  if (f.failures === undefined) return { kind: 'probe' };
  if (f.failures.length === 0) return { kind: 'healthy' };
  const why = f.failures.join('; ');
  const n = d.failures + 1;
  return n >= failuresToRevert ? { kind: 'revert', why } : { kind: 'count', failures: n, why };
}
