// The bundled gates with Home Assistant as the van's screen (issue #21), against the HA Core stand-in
// (test/ha-supervisor/standin.ts: /api/states and /api/services as docs/api/rest.md describes them):
// presence holds the download, the owner's postpone is counted, the notice comes before an install
// and the install waits for it, the result is shown after, and HA being away never holds an update.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGateJournal } from '../../../core/gate-journal.js';
import { metaDoc } from '../../helpers/builders.js';
import { startHaStandin, type Standin } from '../../ha-supervisor/standin.js';
import { runScript, tempDir, writeTree } from './helpers.js';

const DL = 'Download_Enter_50_vancore-gate';
const INSTALL = 'ArtifactInstall_Enter_50_vancore-gate';
const INSTALL_ERROR = 'ArtifactInstall_Error_50_vancore-gate';
const HEADER = 'data/modules/v3/payloads/0000/tree/header';
const TOKEN = 'long-lived-token';

let ha: Standin;
let deadUrl: string;

beforeAll(async () => {
  ha = await startHaStandin({ supervisorToken: 'x', coreToken: TOKEN });
  const gone = await startHaStandin({ supervisorToken: 'x', coreToken: TOKEN });
  deadUrl = gone.url;
  await gone.close();
});
afterAll(() => ha.close());

function readingsNow(): string {
  const at = new Date().toISOString();
  return JSON.stringify({
    motion: { stationary_since: new Date(Date.now() - 3600_000).toISOString(), source: 'imu', at },
    signal: { quality: 0.8, at },
    power: { battery_soc_pct: 80, shore_power: false, at },
  });
}

async function van(o: { url?: string; noticeMinutes?: number; entities?: Record<string, string> } = {}) {
  const root = await tempDir('vc-ha-screen-');
  const state = join(root, 'state');
  const ota = {
    sensors: {
      home_assistant: {
        url: o.url ?? ha.url,
        token_file: join(root, 'ha-token'),
        timeout_ms: 1000,
        entities: o.entities ?? { sleeping: 'input_boolean.sleeping', postpone: 'input_boolean.vancore_postpone' },
        postpone_budget: { max_count: 3, max_hours: 72 },
        publish: { notice_minutes: o.noticeMinutes ?? 10 },
      },
    },
  };
  await writeTree(root, {
    'ota.yaml': JSON.stringify(ota),
    'ha-token': `${TOKEN}\n`,
    'etc/mender/mender.conf': '{}',
    [`${HEADER}/artifact_name`]: 'vancore-ha_addons-2.0.0',
    [`${HEADER}/meta-data`]: JSON.stringify(metaDoc({ component: 'ha_addons', version: '2.0.0', requires: {} })),
    'state/readings.json': readingsNow(),
    // The payload the client stored for the in-flight module update (size shown on the screen).
    'data/modules/v3/payloads/0000/tree/files/vancore-index.json': '{"format":1}',
  });
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

const setState = (id: string, state: string) => {
  const now = new Date().toISOString();
  ha.states.set(id, { entity_id: id, state, attributes: {}, last_changed: now, last_updated: now });
};
const screen = () => ha.states.get('sensor.vancore_update');

describe('gates with Home Assistant', () => {
  it('someone sleeping: Download_Enter says not now, and the screen says why', async () => {
    setState('input_boolean.sleeping', 'on');
    setState('input_boolean.vancore_postpone', 'off');
    const v = await van();
    const r = await runScript(DL, v.env);
    expect(r.code).toBe(1);
    expect(readGateJournal(v.state).journal?.phases.Download_Enter?.reasons.map((x) => x.code)).toEqual([
      'someone_sleeping',
    ]);
    expect(screen()?.state).toBe('waiting');
    expect(screen()?.attributes).toMatchObject({
      friendly_name: 'VanCore update',
      why_waiting: ['someone is sleeping in the van'],
      reason_codes: ['someone_sleeping'],
    });
    setState('input_boolean.sleeping', 'off');
    expect((await runScript(DL, v.env)).code).toBe(0);
    expect(screen()?.state).toBe('downloading');
  });

  it("the owner's postpone: held and counted once per press", async () => {
    setState('input_boolean.sleeping', 'off');
    setState('input_boolean.vancore_postpone', 'on');
    const v = await van();
    expect((await runScript(DL, v.env)).code).toBe(1);
    expect((await runScript(DL, v.env)).code).toBe(1);
    const budget = JSON.parse(await readFile(join(v.state, 'ha-postpone.json'), 'utf8')) as { count: number };
    expect(budget.count).toBe(1);
    expect(screen()?.attributes.reason_codes).toEqual(['owner_postponed']);
    // Three presses used already: this one is over the budget, the update goes.
    await writeFile(
      join(v.state, 'ha-postpone.json'),
      JSON.stringify({ count: 3, first_at: new Date().toISOString(), last_press: '2026-01-01T00:00:00Z' }),
    );
    expect((await runScript(DL, v.env)).code).toBe(0);
    setState('input_boolean.vancore_postpone', 'off');
  });

  it('ArtifactInstall_Enter: tells the van first, waits out the notice (21), then installs', async () => {
    setState('input_boolean.sleeping', 'off');
    setState('input_boolean.vancore_postpone', 'off');
    const v = await van({ noticeMinutes: 0.02 }); // 1.2 s of notice, for the test
    const calls = ha.serviceCalls.length;
    const first = await runScript(INSTALL, v.env);
    expect(first.code).toBe(21);
    const note = ha.serviceCalls.slice(calls);
    expect(note).toHaveLength(1);
    expect(note[0]).toMatchObject({ domain: 'persistent_notification', service: 'create' });
    expect(String(note[0]?.data.title)).toMatch(/^Update at \d\d:\d\d$/);
    expect(String(note[0]?.data.message)).toContain('vancore-ha_addons-2.0.0 (ha_addons 2.0.0) installs at');
    expect(screen()?.state).toBe('scheduled');
    await new Promise((r) => setTimeout(r, 1300));
    const second = await runScript(INSTALL, v.env);
    expect(second.code).toBe(0);
    expect(ha.serviceCalls.slice(calls)).toHaveLength(1); // told once
    expect(screen()?.state).toBe('installing');
    expect(screen()?.attributes).toMatchObject({
      pending_release: 'vancore-ha_addons-2.0.0',
      unavailable: ['Home Assistant add-ons being updated'],
      expected_duration_min: 5,
      size_bytes: 12,
    });
    // The install then fails: ArtifactInstall_Error tells the van the result.
    expect((await runScript(INSTALL_ERROR, v.env)).code).toBe(0);
    expect(ha.serviceCalls.at(-1)?.data).toMatchObject({ title: 'Update failed' });
  });

  it('HA away: nothing holds the update, and the problem is logged once', async () => {
    const v = await van({ url: deadUrl });
    const a = await runScript(DL, v.env);
    expect(a.code).toBe(0);
    expect(readGateJournal(v.state).journal?.phases.Download_Enter?.reasons.map((x) => x.code)).toEqual([
      'conditions_met',
    ]);
    expect(a.stderr).toContain('Home Assistant is not taking updates; the update goes on without it');
    const b = await runScript(INSTALL, v.env); // no notice owed when HA cannot be told
    expect(b.code).toBe(0);
    expect(b.stderr).not.toContain('Home Assistant is not taking updates');
  });
});
