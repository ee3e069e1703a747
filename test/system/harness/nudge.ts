// Waiting on a managed 3.4 daemon whose polls are minutes apart: ask it to check now (SIGUSR1) until the
// awaited thing happens.
import type { Daemon } from '../../../mender-sim/real-client/mender.js';
import type { Bed } from './bed.js';

/**
 * Wait for `done`, sending SIGUSR1 ("check now") at the start and again every 3 s until then: a
 * signal that reaches the daemon in the middle of a state can be dropped, and the polls are minutes
 * apart, so the test asks again rather than wait for a poll.
 */
export async function nudgeUntil<T>(
  bed: Bed,
  daemon: Daemon,
  done: () => T | undefined | false | Promise<T | undefined | false>,
  describe: string,
  timeoutMs = 40_000,
): Promise<T> {
  let asked = 0;
  return bed.waitFor(
    async () => {
      const v = await done();
      if (v) return v;
      if (Date.now() - asked >= 3000) {
        asked = Date.now();
        daemon.triggerUpdateCheck();
      }
      return undefined;
    },
    { describe, daemon, timeoutMs },
  );
}
