// Test-only fault injection for the kill -9 tests: with VANCORE_OTA_TEST_HOLD=<step label> (or
// `after:<label>`), the module writes its pid to VANCORE_OTA_TEST_HOLD_FILE when it reaches that
// point and then waits until it is killed. Without the variable this is a no-op. The journal mark
// for the step is already on disk at "before" and the step's effect is done at "after", so a kill
// there is exactly a power cut at that point of the phase.
import { writeStateFileAtomic } from '../../core/state-files.js';

export type Hold = (label: string, when: 'before' | 'after') => Promise<void>;

export function holdFromEnv(env: NodeJS.ProcessEnv): Hold | undefined {
  const spec = env.VANCORE_OTA_TEST_HOLD;
  const file = env.VANCORE_OTA_TEST_HOLD_FILE;
  if (!spec || !file) return undefined;
  const when = spec.startsWith('after:') ? 'after' : 'before';
  const target = spec.replace(/^(after|before):/, '');
  return async (label, at) => {
    if (label !== target || at !== when) return;
    // Atomic: the test polls for this file and must never read it half written.
    writeStateFileAtomic(file, `${process.pid}\n`);
    // Wait to be killed; the interval keeps the event loop alive.
    await new Promise<never>(() => setInterval(() => undefined, 60_000));
  };
}
