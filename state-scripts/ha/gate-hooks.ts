// What each gate does with Home Assistant, in one place so the gates themselves change by a line or
// two: publish the decision on the van's screen, the notice before an install, the result after.
// Nothing here throws into a gate: HA is for the people in the van, never on the update's critical path.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { GateDecision } from '../../core/schemas/gate.js';
import { inFlightHeaderDir } from '../artifact-facts.js';
import type { GateOutcome } from '../gate/common.js';
import type { DeviceSetup } from '../env.js';
import type { Log } from '../log.js';
import type { Verdict } from '../policy/types.js';
import { clockTime, IMPACT, VanScreen } from './van-screen.js';

const NOTE_ID = 'vancore_update';

/** Publish a gate's decision (the bundled gates only: `gate check` does not touch HA). */
export async function showDecision(setup: DeviceSetup, out: GateOutcome, log: Log, validationSeconds?: number) {
  try {
    const screen = VanScreen.for(setup.config, setup.stateDir, log);
    if (!screen) return;
    const size = out.decision.phase === 'ArtifactInstall_Enter' ? payloadBytes(setup.menderDataDir) : null;
    await screen.publish(out.decision, {
      size_bytes: size,
      ...(validationSeconds === undefined ? {} : { validation_seconds: validationSeconds }),
    });
    const d = out.decision;
    const what = releaseLine(d);
    if (d.phase === 'ArtifactCommit_Enter' && d.verdict === 'proceed') {
      await screen.notify(
        NOTE_ID,
        'Update installed',
        `${what} is installed and checked. Everything is available again.`,
      );
    } else if (d.phase === 'ArtifactCommit_Enter' && d.verdict === 'fail') {
      await screen.notify(
        NOTE_ID,
        'Update failed its checks',
        `${what} did not pass its checks: the previous version is being restored.`,
      );
    }
  } catch (e) {
    log.warn({ error: (e as Error).message }, 'could not show the update on Home Assistant');
  }
}

/** ArtifactInstall_Error: the install failed and Mender rolls back. */
export async function showInstallFailed(setup: DeviceSetup, log: Log, d: Pick<GateDecision, 'artifact'> | undefined) {
  try {
    const screen = VanScreen.for(setup.config, setup.stateDir, log);
    if (!screen) return;
    const what = d ? releaseLine(d) : 'The update';
    await screen.notify(NOTE_ID, 'Update failed', `${what} could not be installed: the previous version is restored.`);
  } catch (e) {
    log.warn({ error: (e as Error).message }, 'could not show the update on Home Assistant');
  }
}

/**
 * The downloaded payload's size: at ArtifactInstall_Enter the client 3.4 has stored the payload files
 * of a module update in the tree beside the header (RECIPE §8.12). null when there is nothing to count.
 */
export function payloadBytes(menderDataDir: string): number | null {
  const files = join(dirname(inFlightHeaderDir(menderDataDir)), 'files');
  try {
    let n = 0;
    for (const f of readdirSync(files)) n += statSync(join(files, f)).size;
    return n;
  } catch {
    return null;
  }
}

function releaseLine(d: Pick<GateDecision, 'artifact'>): string {
  const a = d.artifact;
  return a ? `The update ${a.name ?? ''} (${a.component} ${a.version})`.replace('  ', ' ') : 'The update';
}

export interface NoticePlan {
  /** For decideInstall: absent = no notice owed (no HA publishing, or notice off). */
  notice?: { given_at: string | null; lead_seconds: number };
  /**
   * After a first decision: if the notice is all that holds the install and it was not given yet,
   * tell the people in the van now. Returns the notice to decide with again: given now, or none at
   * all when HA could not be told (HA never holds an update).
   */
  give(verdict: Verdict, now: Date): Promise<{ given_at: string | null; lead_seconds: number } | undefined>;
}

export function noticeFor(
  setup: DeviceSetup,
  log: Log,
  artifact: { name: string | null; component: string; version: string } | null,
  record: boolean,
): NoticePlan {
  const screen = VanScreen.for(setup.config, setup.stateDir, log);
  if (!screen || !artifact?.name || screen.noticeSeconds <= 0) return { give: () => Promise.resolve(undefined) };
  const name = artifact.name;
  const notice = { given_at: screen.noticeGivenAt(name), lead_seconds: screen.noticeSeconds };
  return {
    notice,
    async give(verdict, now) {
      const only = verdict.reasons.length === 1 && verdict.reasons[0]?.code === 'notice_pending';
      if (!record || notice.given_at !== null || verdict.verdict !== 'retry' || !only) return notice;
      const impact = IMPACT[artifact.component];
      const at = clockTime(new Date(now.getTime() + notice.lead_seconds * 1000), setup.config.timezone);
      const told = await screen
        .notify(
          NOTE_ID,
          `Update at ${at}`,
          `${name} (${artifact.component} ${artifact.version}) installs at ${at}, in ${Math.round(notice.lead_seconds / 60)} minutes. ` +
            `${impact ? `Unavailable for about ${impact.minutes} minutes: ${impact.unavailable.join(', ')}. ` : ''}` +
            'Use the postpone control to move it.',
        )
        .catch(() => false);
      if (!told) return undefined;
      screen.recordNotice(name, now);
      return { ...notice, given_at: now.toISOString() };
    },
  };
}
