import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DEVICE_CONFIG_PATH, DEFAULT_STATE_DIR } from '../../../core/config/device-config.js';
import {
  GATE_HISTORY_FILE,
  GATE_HISTORY_PREVIOUS_FILE,
  gateInventoryValues,
  readGateJournal,
} from '../../../core/gate-journal.js';
import { InventoryKeySchemas } from '../../../core/schemas/inventory.js';
import * as env from '../../../state-scripts/env.js';
import { recordDecision, sinceFor, toDecision } from '../../../state-scripts/journal.js';
import { nextInstallWait, WAIT_GAP_RESET_S } from '../../../state-scripts/install-wait.js';
import type { ReasonCode, Verdict } from '../../../state-scripts/policy/types.js';
import { NOW } from './builders.js';

const v = (verdict: Verdict['verdict'], code: ReasonCode = 'moving'): Verdict => ({
  verdict,
  reasons: [{ code, message: `because ${code}` }],
  checks: [],
  facts: { x: 1 },
});
const at = (s: number) => new Date(NOW.getTime() + s * 1000);

describe('decision journal', () => {
  it('maps verdicts through core verdictOutcome', () => {
    expect(toDecision('Download_Enter', v('defer'), NOW)).toMatchObject({ exit_code: 1, state: 'deferred' });
    expect(toDecision('ArtifactInstall_Enter', v('retry'), NOW)).toMatchObject({ exit_code: 21, state: 'deferred' });
    expect(toDecision('ArtifactCommit_Enter', v('fail'), NOW)).toMatchObject({ exit_code: 1, state: 'blocked' });
    expect(toDecision('Download_Enter', v('proceed'), NOW)).toMatchObject({ exit_code: 0, state: 'open' });
  });

  it.each([
    ['no earlier decision', undefined, 'deferred', 'a', 'new'],
    ['same state, same artifact: carried over', 'deferred', 'deferred', 'a', 'old'],
    ['state changed', 'open', 'deferred', 'a', 'new'],
    ['other artifact', 'deferred', 'deferred', 'b', 'new'],
  ] as const)('since: %s', (_name, prevState, nextState, artifact, which) => {
    const prev = prevState
      ? {
          ...toDecision('ArtifactInstall_Enter', v('retry'), at(0), {
            name: 'a',
            component: 'platform',
            version: '1.0.0',
          }),
          state: prevState,
          since: at(-100).toISOString(),
        }
      : undefined;
    const next = {
      ...toDecision('ArtifactInstall_Enter', v('retry'), at(60), {
        name: artifact,
        component: 'platform',
        version: '1.0.0',
      }),
      state: nextState,
    };
    expect(sinceFor(prev, next)).toBe(which === 'old' ? at(-100).toISOString() : at(60).toISOString());
  });

  it('keeps the latest per phase, carries since, and the reader gives the inventory values', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vc-journal-'));
    recordDecision(dir, toDecision('Download_Enter', v('defer'), at(0)));
    recordDecision(dir, toDecision('Download_Enter', v('defer'), at(3 * 3600)));
    recordDecision(dir, toDecision('ArtifactInstall_Enter', v('proceed', 'conditions_met'), at(3 * 3600 + 60)));
    const { journal } = readGateJournal(dir);
    expect(journal?.phases.Download_Enter?.since).toBe(at(0).toISOString());
    expect(journal?.phases.Download_Enter?.at).toBe(at(3 * 3600).toISOString());
    expect(journal?.last.phase).toBe('ArtifactInstall_Enter');
    expect(journal?.history_lines).toBe(3);
    const inv = gateInventoryValues(journal);
    expect(inv).toEqual({
      state: 'open',
      phase: 'ArtifactInstall_Enter',
      reason: 'conditions_met: because conditions_met',
      codes: 'conditions_met',
      since: at(3 * 3600 + 60).toISOString(),
    });
    // what the inventory script will publish fits the inventory contract
    expect(InventoryKeySchemas['vancore.gate.reason'].safeParse(inv.reason).success).toBe(true);
    expect(InventoryKeySchemas['vancore.gate.since'].safeParse(inv.since).success).toBe(true);
    expect(InventoryKeySchemas['vancore.gate.codes'].safeParse(inv.codes).success).toBe(true);
  });

  it('the published view (vancore.gate.*) changes with phase, state, codes or artifact, not with a message', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vc-journal-'));
    const say = (verdict: Verdict['verdict'], codes: ReasonCode[], message: string, t: number) =>
      recordDecision(
        dir,
        toDecision(
          'Sync_Leave',
          { verdict, reasons: codes.map((code) => ({ code, message })), checks: [], facts: {} },
          at(t),
        ),
      );
    const published = () => gateInventoryValues(readGateJournal(dir).journal);
    say('defer', ['settling'], 'stationary for 10 s, needs 5 min', 0);
    const first = published();
    expect(first).toEqual({
      state: 'deferred',
      phase: 'Sync_Leave',
      reason: 'settling: stationary for 10 s, needs 5 min',
      codes: 'settling',
      since: at(0).toISOString(),
    });
    say('defer', ['settling'], 'stationary for 40 s, needs 5 min', 30);
    expect(published()).toEqual(first);
    say('defer', ['settling', 'signal_low'], 'signal quality 0.4 is below 0.6', 60);
    expect(published().reason).toMatch(/^settling, signal_low: /);
    expect(published().codes).toBe('settling,signal_low');
    expect(published().since).toBe(at(0).toISOString());
    say('proceed', ['conditions_met'], 'stationary for 6 min', 400);
    const open = published();
    expect(open).toMatchObject({ state: 'open', since: at(400).toISOString() });
    say('proceed', ['conditions_met'], 'stationary for 36 min', 2200);
    expect(published()).toEqual(open);
    recordDecision(dir, toDecision('ArtifactInstall_Enter', v('proceed', 'conditions_met'), at(2201)));
    expect(published()).toMatchObject({ phase: 'ArtifactInstall_Enter' });
  });

  it('Sync_Leave (every sync on 5.x) adds a history line only when its answer changes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vc-journal-'));
    const sync = (verdict: Verdict['verdict'], code: ReasonCode, t: number) =>
      recordDecision(dir, toDecision('Sync_Leave', v(verdict, code), at(t)));
    sync('defer', 'moving', 0);
    sync('defer', 'moving', 1800);
    sync('defer', 'moving', 3600);
    sync('defer', 'signal_low', 5400);
    sync('proceed', 'conditions_met', 7200);
    sync('proceed', 'conditions_met', 9000);
    const lines = (await readFile(join(dir, GATE_HISTORY_FILE), 'utf8')).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { reasons: { code: string }[] }).reasons[0]?.code)).toEqual([
      'moving',
      'signal_low',
      'conditions_met',
    ]);
    const j = readGateJournal(dir).journal;
    expect(j?.history_lines).toBe(3);
    // gate.json still has the latest run, with the streak's since.
    expect(j?.phases.Sync_Leave).toMatchObject({ at: at(9000).toISOString(), since: at(7200).toISOString() });
    // Other phases log every decision, as before.
    recordDecision(dir, toDecision('Download_Enter', v('defer'), at(9100)));
    recordDecision(dir, toDecision('Download_Enter', v('defer'), at(9200)));
    expect(readGateJournal(dir).journal?.history_lines).toBe(5);
  });

  it('rotates the history at 500 lines, keeping one previous file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vc-journal-'));
    await writeFile(join(dir, GATE_HISTORY_FILE), 'old\n');
    const d = toDecision('Download_Enter', v('defer'), NOW);
    recordDecision(dir, d);
    const j = readGateJournal(dir).journal;
    await writeFile(join(dir, 'gate.json'), JSON.stringify({ ...j, history_lines: 500 }));
    recordDecision(dir, d);
    expect((await readFile(join(dir, GATE_HISTORY_PREVIOUS_FILE), 'utf8')).split('\n')[0]).toBe('old');
    expect((await readFile(join(dir, GATE_HISTORY_FILE), 'utf8')).trim().split('\n')).toHaveLength(1);
    expect(readGateJournal(dir).journal?.history_lines).toBe(1);
  });

  it('a missing or corrupt journal reads as none (readers keep working)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vc-journal-'));
    expect(readGateJournal(dir)).toEqual({ journal: null });
    await writeFile(join(dir, 'gate.json'), '{"last": 1');
    expect(readGateJournal(dir)).toEqual({ journal: null, problem: `${join(dir, 'gate.json')} is not JSON` });
    expect(gateInventoryValues(null)).toEqual({
      state: undefined,
      phase: 'none',
      reason: '',
      codes: '',
      since: undefined,
    });
    // and the next decision starts it afresh
    recordDecision(dir, toDecision('Download_Enter', v('proceed'), NOW));
    expect(readGateJournal(dir).journal?.history_lines).toBe(1);
  });
});

describe('install wait record', () => {
  const first = nextInstallWait(null, 'a', at(0));
  it.each([
    ['first attempt', null, 'a', at(0), at(0)],
    ['retry 60 s later continues', first, 'a', at(60), at(0)],
    ['another artifact starts over', first, 'b', at(60), at(60)],
    [`a gap over ${WAIT_GAP_RESET_S} s starts over`, first, 'a', at(WAIT_GAP_RESET_S + 1), at(WAIT_GAP_RESET_S + 1)],
    ['a first attempt in the future (clock jump) starts over', nextInstallWait(null, 'a', at(600)), 'a', at(0), at(0)],
  ] as const)('%s', (_name, prev, name, now, firstAt) => {
    const w = nextInstallWait(prev, name, now);
    expect(w.first_attempt_at).toBe(firstAt.toISOString());
    expect(w.last_attempt_at).toBe(now.toISOString());
  });
});

describe('environment defaults', () => {
  it('the gates use the same default paths as core (kept apart for cold start)', () => {
    expect(env.DEFAULT_DEVICE_CONFIG_PATH).toBe(DEFAULT_DEVICE_CONFIG_PATH);
    expect(env.DEFAULT_STATE_DIR).toBe(DEFAULT_STATE_DIR);
  });

  it('resolves every default under the host root; explicit overrides win', () => {
    expect(env.preConfig({})).toMatchObject({
      configPath: '/etc/vancore/ota.yaml',
      cacheDir: '/var/lib/vancore-ota',
      menderDataDir: '/var/lib/mender',
    });
    expect(env.preConfig({ VANCORE_OTA_ROOT: '/tmp/r' })).toMatchObject({
      configPath: '/tmp/r/etc/vancore/ota.yaml',
      menderDataDir: '/tmp/r/var/lib/mender',
    });
    // A C++ client started with MENDER_DATASTORE_DIR: its scripts inherit it (3.4 passes its environment
    // unchanged, RECIPE §5; assumed for 5.x). Ours still wins.
    expect(env.preConfig({ MENDER_DATASTORE_DIR: '/data/mender' }).menderDataDir).toBe('/data/mender');
    expect(env.preConfig({ MENDER_DATASTORE_DIR: '/data/mender', VANCORE_MENDER_DATA_DIR: '/x' }).menderDataDir).toBe(
      '/x',
    );
    expect(
      env.preConfig(
        { VANCORE_OTA_CONFIG: '/c.yaml', VANCORE_OTA_STATE_DIR: '/s', VANCORE_MENDER_DATA_DIR: '/m' },
        '/flag.yaml',
      ),
    ).toMatchObject({ configPath: '/flag.yaml', stateDirOverride: '/s', cacheDir: '/s', menderDataDir: '/m' });
  });
});
