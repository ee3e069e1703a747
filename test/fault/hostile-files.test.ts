// Issue #16 item 8: the gate's state files on the van are not to be trusted as files. A FIFO as
// readings.json, a symlink to /dev/zero, a journal that is a symlink into /etc, a state dir under /proc:
// the bundled Download_Enter gate (a real process) decides "not now" (exit 1) in bounded time, follows
// no link, and writes nothing outside its state dir.
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GATE_HISTORY_FILE, GATE_JOURNAL_FILE } from '../../core/gate-journal.js';
import { metaDoc } from '../helpers/builders.js';
import { runScript, tempDir, writeTree } from '../integration/state-scripts/helpers.js';

const DL = 'Download_Enter_50_vancore-gate';
const HEADER = 'data/modules/v3/payloads/0000/tree/header';

async function van(stateDir?: string): Promise<{ root: string; state: string; env: Record<string, string> }> {
  const root = await tempDir('vc-hostile-');
  const state = stateDir ?? join(root, 'state');
  await writeTree(root, {
    'ota.yaml': '',
    'etc/mender/mender.conf': '{}',
    [`${HEADER}/artifact_name`]: 'vancore-platform-0.9.2',
    [`${HEADER}/meta-data`]: JSON.stringify(metaDoc()),
  });
  if (!stateDir) await mkdir(state, { recursive: true });
  return {
    root,
    state,
    env: {
      VANCORE_OTA_ROOT: root,
      VANCORE_OTA_CONFIG: join(root, 'ota.yaml'),
      VANCORE_OTA_STATE_DIR: state,
      VANCORE_MENDER_DATA_DIR: join(root, 'data'),
    },
  };
}

describe('the gate on hostile state files (issue #16 item 8)', () => {
  it('readings.json is a FIFO nobody writes: exit 1 at once, "readings not a regular file"', async () => {
    const v = await van();
    execFileSync('mkfifo', [join(v.state, 'readings.json')]);
    const r = await runScript(DL, v.env);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/readings.*not a regular file/);
  });

  it('readings.json is a symlink to /dev/zero: exit 1, the link is not followed', async () => {
    const v = await van();
    await symlink('/dev/zero', join(v.state, 'readings.json'));
    const r = await runScript(DL, v.env);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/readings.*(symbolic link|not a regular file)/);
  });

  it('readings.json is a huge regular file: exit 1 without reading it all', async () => {
    const v = await van();
    await writeFile(join(v.state, 'readings.json'), '');
    execFileSync('truncate', ['-s', '2G', join(v.state, 'readings.json')]);
    const r = await runScript(DL, v.env);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/readings.*too large/);
  });

  it('the journal and its history are symlinks into another directory: nothing is written there', async () => {
    const v = await van();
    const elsewhere = join(v.root, 'etc-like');
    await mkdir(elsewhere);
    await symlink(join(elsewhere, 'history'), join(v.state, GATE_HISTORY_FILE));
    await symlink(join(elsewhere, 'journal'), join(v.state, GATE_JOURNAL_FILE));
    await symlink(join(elsewhere, 'tmp'), join(v.state, `${GATE_JOURNAL_FILE}.x.tmp`));
    const r = await runScript(DL, v.env);
    expect(r.code, r.stderr).toBe(1);
    await expect(lstat(join(elsewhere, 'history'))).rejects.toThrow('ENOENT');
    await expect(lstat(join(elsewhere, 'journal'))).rejects.toThrow('ENOENT');
    // The links themselves are left as they were (not replaced through, not followed).
    expect((await lstat(join(v.state, GATE_HISTORY_FILE))).isSymbolicLink()).toBe(true);
  });

  it('the state dir is under /proc: exit 1 with one line, in bounded time', async () => {
    const v = await van('/proc/self');
    const r = await runScript(DL, v.env);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('its config is a FIFO nobody writes: exit 1 at once with one line, not a hang', async () => {
    const v = await van();
    await rm(join(v.root, 'ota.yaml'));
    execFileSync('mkfifo', [join(v.root, 'ota.yaml')]);
    const r = await runScript(DL, v.env);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^vancore-gate Download_Enter: cannot read config: .*ota\.yaml is not a regular file \(exit 1\)$/,
      ),
    ]);
  });

  it('the V8 code cache beside the state is a FIFO: ignored, the gate still decides', async () => {
    const v = await van();
    await mkdir(join(v.state, 'cache'), { recursive: true });
    for (const suffix of ['', '-0']) execFileSync('mkfifo', [join(v.state, 'cache', `${DL}${suffix}.jsc`)]);
    const r = await runScript(DL, v.env);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('readings_unknown');
  });

  it('a good readings.json still passes through the safe reader', async () => {
    const v = await van();
    const at = new Date().toISOString();
    await writeFile(
      join(v.state, 'readings.json'),
      JSON.stringify({
        motion: { stationary_since: new Date(Date.now() - 600_000).toISOString(), source: 'imu', at },
        signal: { quality: 0.8, at },
        power: { battery_soc_pct: 80, shore_power: false, at },
      }),
    );
    const r = await runScript(DL, v.env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(v.state, GATE_JOURNAL_FILE), 'utf8'))).toMatchObject({
      last: { verdict: 'proceed' },
    });
  });
});
