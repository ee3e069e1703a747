// Issue #15 item 1: why a van waits travels as codes end to end. Five deferred vans with two causes
// are two deferral buckets in the fleet report (API and `vancore-ota report fleet`), whatever their
// lines say; a van that stays deferred for the same causes while its elapsed time grows adds no
// gate-history row. Reason lines are made by the gates' own formatter (core/reason-codes.ts), the codes
// key as the inventory script prints it (agent-hooks/inventory); one van is a hub from before the key.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BridgeApp } from '../../../bridge/api/app.js';
import { formatCodes, formatReasonLine, type ReasonCode } from '../../../core/reason-codes.js';
import { parseInventory } from '../../../core/schemas/inventory.js';
import type * as z from 'zod';
import type * as S from '../../../bridge/api/schemas.js';
import { attrs } from '../../helpers/builders.js';
import { cliPath } from '../../helpers/cli.js';
import { type TestStore, backends, openTestStore } from '../../helpers/fleet-db.js';
import { TEST_NOW as NOW, buildTestBridge } from '../../helpers/test-bridge.js';

const run = promisify(execFile);

/** A deferred van as its hub reports it: the line from the formatter, the codes key unless `oldHub`. */
function deferred(deviceId: string, reasons: { code: ReasonCode; message: string }[], opts: { oldHub?: boolean } = {}) {
  return {
    deviceId,
    authStatus: 'accepted',
    inventory: parseInventory(
      attrs({
        'vancore.van_id': `van-${deviceId}`,
        'vancore.gate.state': 'deferred',
        'vancore.gate.phase': 'Sync_Leave',
        'vancore.gate.reason': formatReasonLine(reasons),
        ...(opts.oldHub ? {} : { 'vancore.gate.codes': formatCodes(reasons.map((r) => r.code)) }),
        'vancore.gate.since': '2026-11-22T09:00:00Z',
      }),
    ),
  };
}

const moving = (s: number) => ({ code: 'moving' as const, message: `stationary ${s} s of 3 min (imu, 2 s ago)` });
const weak = (q: number) => ({ code: 'signal_low' as const, message: `signal ${q} < 0.6` });
const flat = (soc: number) => ({ code: 'battery_low' as const, message: `battery ${soc} % < 30 % and no shore power` });

describe.each(backends)('reason codes end to end on %s', (backend) => {
  let t: TestStore;
  let app: BridgeApp;

  beforeEach(async () => {
    t = await openTestStore(backend);
    // An open API (no tokens): the CLI below asks it without one.
    app = (await buildTestBridge({ store: t, config: { auth: { tokens: [] } } })).app;
  });
  afterEach(async () => {
    await app.close();
    await t.dispose();
  });

  it('five deferred vans with two causes are two buckets in the API and in `report fleet`', async () => {
    await t.store.applyInventory(
      [
        deferred('d1', [moving(10)]),
        deferred('d2', [moving(95)]),
        // A hub from before `vancore.gate.codes`: the bridge reads the codes at the head of its line.
        deferred('d3', [moving(170)], { oldHub: true }),
        deferred('d4', [weak(0.21), flat(12)]),
        // The same two causes in the other order are the same bucket.
        deferred('d5', [flat(18), weak(0.4)]),
      ],
      NOW,
    );
    const res = await app.inject({ method: 'GET', url: '/api/v1/reports/fleet' });
    expect(res.statusCode).toBe(200);
    const f = res.json<z.infer<typeof S.FleetReport>>();
    expect(f.deferral_reasons).toEqual([
      { reason: 'moving: the van is moving', codes: ['moving'], vans: 3 },
      {
        reason:
          'battery_low, signal_low: the battery is too low and there is no shore power; the signal is too weak for the download',
        codes: ['battery_low', 'signal_low'],
        vans: 2,
      },
    ]);
    expect(f.deferral_codes).toEqual([
      { code: 'moving', vans: 3 },
      { code: 'battery_low', vans: 2 },
      { code: 'signal_low', vans: 2 },
    ]);

    // The CLI prints the same two buckets (a real process against the listening bridge).
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const cli = await run(process.execPath, [cliPath, 'report', 'fleet', '--bridge', url], {
      env: { ...process.env, VANCORE_BRIDGE_TOKEN: undefined },
    });
    const lines = cli.stdout.split('\n').filter((l) => /moving: the van is moving|battery_low, signal_low/.test(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/moving: the van is moving\s+3/);
    expect(lines[1]).toMatch(/battery_low, signal_low: .*\s+2$/);

    // The van detail carries the codes beside the van's own line.
    const van = (await app.inject({ method: 'GET', url: '/api/v1/vans/van-d5' })).json<z.infer<typeof S.VanDetail>>();
    expect(van.gate.codes).toEqual(['battery_low', 'signal_low']);
    expect(van.gate.reason).toBe(formatReasonLine([flat(18), weak(0.4)]));
  });

  it('a van deferred for the same causes adds no gate-history row while its elapsed time grows', async () => {
    const history = async () =>
      t.store.db
        .selectFrom('gate_history')
        .select(['codes', 'reason'])
        .where('device_id', '=', 'd1')
        .orderBy('id')
        .execute();
    await t.store.applyInventory([deferred('d1', [moving(10)])], NOW);
    expect(await history()).toHaveLength(1);
    // Six syncs later: the line's numbers moved, the causes did not.
    for (const s of [40, 70, 100, 130, 160, 190])
      await t.store.applyInventory([deferred('d1', [moving(s)])], `2026-11-22T10:0${s % 10}:00.000Z`);
    // An old hub (no codes key) with the same cause, other words: still the same causes.
    await t.store.applyInventory([deferred('d1', [moving(220)], { oldHub: true })], NOW);
    expect(await history()).toEqual([{ codes: 'moving', reason: formatReasonLine([moving(10)]) }]);
    // The stored line is the latest one (the van detail shows it), only the history is quiet.
    const van = await t.store.db
      .selectFrom('vans')
      .select(['gate_reason', 'gate_codes'])
      .where('device_id', '=', 'd1')
      .executeTakeFirstOrThrow();
    expect(van).toEqual({ gate_reason: formatReasonLine([moving(220)]), gate_codes: 'moving' });

    // A second cause is a change: one row.
    await t.store.applyInventory([deferred('d1', [moving(250), weak(0.3)])], NOW);
    expect((await history()).map((h) => h.codes)).toEqual(['moving', 'moving,signal_low']);
  });
});
