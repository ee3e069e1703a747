// Issue #16 item 8: a gate that cannot decide says "not now" (exit 1) in bounded time —
// $VANCORE_GATE_DEADLINE_SECONDS (state-scripts/gate/script.ts). The real bundled commit gate
// (dist/device/mender-scripts, `npm run build`) runs a health check whose command never ends (its own
// timeout is 600 s): with a 2 s deadline the gate exits 1 well before that, and the journal says why.
// Checked to fail without the deadline (the timer in runScript removed): the helper kills the gate at
// 60 s, so the exit code is null, not 1, and the journal has no deadline entry.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readGateJournal } from '../../core/gate-journal.js';
import { metaDoc } from '../helpers/builders.js';
import { runScript, tempDir, writeTree } from '../integration/state-scripts/helpers.js';

const COMMIT = 'ArtifactCommit_Enter_50_vancore-validate';
const HEADER = 'data/modules/v3/payloads/0000/tree/header';
const hung: number[] = [];

afterEach(() => {
  // The health check process the gate left behind (it records its own pid): ended by its id.
  for (const pid of hung.splice(0))
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
});

describe('the gate deadline (issue #16 item 8)', () => {
  it('a health check that never answers: exit 1 at the deadline, journaled', async () => {
    const root = await tempDir('vc-deadline-');
    const state = join(root, 'state');
    const pidFile = join(root, 'check.pid');
    const ota = [
      'validation:',
      '  check_interval_seconds: 1',
      '  health_checks:',
      `    - name: stuck`,
      `      timeout_seconds: 600`,
      `      command: [/bin/sh, -c, "echo $$ > ${pidFile}; exec sleep 600 </dev/null >/dev/null 2>&1"]`,
      '',
    ].join('\n');
    await writeTree(root, {
      'ota.yaml': ota,
      'etc/mender/mender.conf': '{}',
      [`${HEADER}/artifact_name`]: 'vancore-platform-0.9.2',
      [`${HEADER}/meta-data`]: JSON.stringify(metaDoc({ validation: { window_seconds: 30, require_cloud: false } })),
      'state/versions.json': '{ "platform": "0.9.1" }',
    });
    const r = await runScript(COMMIT, {
      VANCORE_OTA_ROOT: root,
      VANCORE_OTA_CONFIG: join(root, 'ota.yaml'),
      VANCORE_OTA_STATE_DIR: state,
      VANCORE_MENDER_DATA_DIR: join(root, 'data'),
      VANCORE_GATE_DEADLINE_SECONDS: '2',
    });
    hung.push(
      ...(await readFile(pidFile, 'utf8').then(
        (t) => [Number(t.trim())],
        () => [],
      )),
    );
    expect(hung, r.stderr).toHaveLength(1);
    expect(r.code, r.stderr).toBe(1);
    // Bound: far below the check's own 600 s timeout and the helper's 60 s kill.
    expect(r.ms).toBeLessThan(30_000);
    expect(r.stderr.trim()).toBe('vancore-gate ArtifactCommit_Enter: no decision within 2 s: not now (exit 1)');
    const last = readGateJournal(state).journal?.last;
    expect(last).toMatchObject({ phase: 'ArtifactCommit_Enter', exit_code: 1 });
    expect(last?.reasons[0]).toMatchObject({ code: 'internal_error', message: 'no decision within 2 s: not now' });
  });
});
