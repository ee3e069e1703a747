// The download gate per Mender client, as real processes on temp van roots: the bundled
// Sync_Leave_50_vancore-gate (the C++ client's "not now" point, RECIPE-current §3.2 (c)) and
// Download_Enter_50_vancore-gate (3.x, RECIPE-current §6) run the same policy; the client device
// install recorded is in the decision, in `gate check` and in the inventory; and the inventory's gate
// lines stay byte-identical while the gate says the same thing (5.x skips unchanged inventory, §3.3).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readGateJournal } from '../../../core/gate-journal.js';
import { GateDecision } from '../../../core/schemas/gate.js';
import { runCli } from '../../helpers/cli.js';
import { deviceDist, runProcess, runScript, tempDir, writeTree } from './helpers.js';

const SYNC = 'Sync_Leave_50_vancore-gate';
const DL = 'Download_Enter_50_vancore-gate';
const CPP = { flavour: 'mender-update-5', version: '5.1.0' } as const;
const GO = { flavour: 'mender-3', version: '3.4.0+ds1-5+b1' } as const;

function readings(still_s: number | null, quality = 0.8): string {
  const now = Date.now();
  const at = new Date(now).toISOString();
  return JSON.stringify({
    motion: {
      stationary_since: still_s === null ? null : new Date(now - still_s * 1000).toISOString(),
      source: 'imu',
      at,
    },
    signal: { quality, at },
    power: { battery_soc_pct: 80, shore_power: false, at },
  });
}

async function van(client: typeof CPP | typeof GO | null, ota = 'download: { stationary_minutes: 5 }\n') {
  const root = await tempDir('vc-client-gates-');
  await writeTree(root, {
    'etc/vancore/ota.yaml': ota,
    ...(client ? { 'etc/vancore/mender-client.json': JSON.stringify(client) } : {}),
  });
  const state = join(root, 'state');
  const env = { VANCORE_OTA_ROOT: root, VANCORE_OTA_STATE_DIR: state };
  return {
    root,
    env,
    setReadings: (text: string) => writeTree(root, { 'state/readings.json': text }),
    journal: () => readGateJournal(state).journal,
  };
}

describe('the download gate per client', () => {
  it('Sync_Leave on the C++ client: moving → 1 (not now), parked → 0; journaled with the client', async () => {
    const v = await van(CPP);
    await v.setReadings(readings(null));
    const moving = await runScript(SYNC, v.env);
    expect(moving.code).toBe(1);
    expect(moving.stderr).toMatch(/^vancore-gate Sync_Leave: deferred \(defer, exit 1\): moving: the van is moving/);
    const d = GateDecision.parse(v.journal()?.phases.Sync_Leave);
    expect(d).toMatchObject({
      phase: 'Sync_Leave',
      verdict: 'defer',
      exit_code: 1,
      client: { ...CPP, not_now_state: 'Sync_Leave' },
    });
    await v.setReadings(readings(600));
    const parked = await runScript(SYNC, v.env);
    expect(parked.code).toBe(0);
    expect(v.journal()?.last).toMatchObject({ phase: 'Sync_Leave', verdict: 'proceed', state: 'open' });
  });

  it('the same readings give the same verdict at Download_Enter (3.x) and at Sync_Leave (5.x)', async () => {
    for (const [still, code] of [
      [null, 1],
      [600, 0],
      [200, 21],
    ] as const) {
      // 200 s still of 300 needed, short_wait_seconds 120: a 21 in both states.
      const ota = 'download: { stationary_minutes: 5, short_wait_seconds: 120 }\n';
      const go = await van(GO, ota);
      const cpp = await van(CPP, ota);
      await go.setReadings(readings(still));
      await cpp.setReadings(readings(still));
      expect([(await runScript(DL, go.env)).code, (await runScript(SYNC, cpp.env)).code]).toEqual([code, code]);
    }
  });

  it('gate check shows the client and its "not now" state, and warns when the state is the other one', async () => {
    const v = await van(CPP);
    await v.setReadings(readings(null));
    const sync = runCli(['gate', 'check', 'Sync_Leave'], { env: v.env });
    expect(sync.code).toBe(1);
    expect(sync.stdout).toContain('not now: the client drops the deployment without reporting anything');
    expect(sync.stdout).toContain('client: mender-update/5.1.0 — "not now" at Sync_Leave');
    const dl = runCli(['gate', 'check', 'Download_Enter'], { env: v.env });
    expect(dl.stdout).toContain('FAILURE on this client');
    expect(dl.stdout).toContain("note: this van's client runs the download gate at Sync_Leave, not Download_Enter");
    const json = runCli(['gate', 'check', 'Sync_Leave', '--json'], { env: v.env });
    expect(JSON.parse(json.stdout)).toMatchObject({ client: { ...CPP, not_now_state: 'Sync_Leave' } });

    const go = await van(GO);
    await go.setReadings(readings(null));
    const goCheck = runCli(['gate', 'check', 'Download_Enter'], { env: go.env });
    expect(goCheck.stdout).toContain('client: mender/3.4.0+ds1-5+b1 — "not now" at Download_Enter');
    const none = await van(null);
    await none.setReadings(readings(null));
    expect(runCli(['gate', 'check', 'Download_Enter'], { env: none.env }).stdout).toContain(
      'client: unknown (no /etc/vancore/mender-client.json: run vancore-ota device install)',
    );
  });

  it('the inventory gate lines stay byte-identical while the gate says the same, and change when it does not', async () => {
    const v = await van(CPP);
    const inventory = async () => {
      const r = await runProcess(join(deviceDist, 'inventory/mender-inventory-vancore'), [], v.env);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toEqual([...lines].sort());
      return lines.filter((l) => l.startsWith('vancore.gate.') || l.startsWith('vancore.client='));
    };
    // Settling (still for 60 s, then 90 s, of 5 min): the message's numbers move, the codes do not.
    await v.setReadings(readings(60, 0.81));
    expect((await runScript(SYNC, v.env)).code).toBe(1);
    const first = await inventory();
    expect(first).toContain('vancore.client=mender-update/5.1.0');
    expect(first).toContain('vancore.gate.phase=Sync_Leave');
    expect(first).toContain('vancore.gate.state=deferred');
    await v.setReadings(readings(90, 0.79));
    expect((await runScript(SYNC, v.env)).code).toBe(1);
    expect(await inventory()).toEqual(first);
    // Now also a weak signal: a new reason code, so the lines change (and 5.x sends them).
    await v.setReadings(readings(120, 0.3));
    expect((await runScript(SYNC, v.env)).code).toBe(1);
    const weak = await inventory();
    expect(weak).not.toEqual(first);
    expect(weak.find((l) => l.startsWith('vancore.gate.reason='))).toMatch(
      /^vancore\.gate\.reason=settling, signal_low: /,
    );
    // Parked: open, once; a later run while still parked changes nothing.
    await v.setReadings(readings(600));
    expect((await runScript(SYNC, v.env)).code).toBe(0);
    const open = await inventory();
    expect(open).toContain('vancore.gate.state=open');
    await v.setReadings(readings(900, 0.7));
    expect((await runScript(SYNC, v.env)).code).toBe(0);
    expect(await inventory()).toEqual(open);
  });
});
