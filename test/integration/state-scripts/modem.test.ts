// ModemManager through a fake `mmcli` first on PATH that prints recorded `mmcli -J` output
// (fixtures/mmcli, shaped like ModemManager 1.20: see its README).
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../core/clock.js';
import type { Readings } from '../../../core/schemas/readings.js';
import { nodeCommandRunner } from '../../../state-scripts/health.js';
import { silentLog } from '../../../state-scripts/log.js';
import { runSensord } from '../../../state-scripts/sensord.js';
import { mmcliModem, parseModem } from '../../../state-scripts/sense/modem.js';
import { deviceSetup, fixtures, tempDir, writeTree } from './helpers.js';

const MM = join(fixtures, 'mmcli');
let bin: string;
const savedPath = process.env.PATH;

beforeAll(async () => {
  bin = await tempDir('vc-mmcli-');
  // Picks the fixture from $MMCLI_MODEM / $MMCLI_SIGNAL; logs its arguments; fails like mmcli
  // when ModemManager is not running ($MMCLI_DOWN).
  await writeTree(bin, {
    mmcli: `#!/bin/sh
echo "$*" >> "${bin}/calls.log"
if [ -n "$MMCLI_DOWN" ]; then echo "error: couldn't find the ModemManager process in the bus" >&2; exit 1; fi
case "$*" in
  *--signal-setup=*) echo "successfully setup extended signal information retrieval" ;;
  *--signal-get*) cat "${MM}/\${MMCLI_SIGNAL:-signal-lte.out}" ;;
  "-J -m 0") cat "${MM}/\${MMCLI_MODEM:-modem-connected.out}" ;;
  *) echo "error: invalid modem string" >&2; exit 1 ;;
esac
`,
  });
  await chmod(join(bin, 'mmcli'), 0o755);
  process.env.PATH = `${bin}:${savedPath ?? ''}`;
});
afterAll(() => {
  process.env.PATH = savedPath;
});

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k];
  return fn().finally(() => {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

describe('mmcli -J', () => {
  it.each([
    [
      'modem-connected.out',
      'signal-lte.out',
      {
        state: 'connected',
        access_technologies: ['lte'],
        quality_pct: 64,
        rsrp_dbm: -95,
        rsrq_db: -11,
        sinr_db: 7.2,
        rssi_dbm: -65,
      },
    ],
    ['modem-connected.out', 'signal-lte-weak.out', { quality_pct: 64, rsrp_dbm: -118, rsrq_db: -19, sinr_db: -3.4 }],
    ['modem-connected.out', 'signal-not-setup.out', { quality_pct: 64, rsrp_dbm: null, rsrq_db: null, sinr_db: null }],
    [
      'modem-searching.out',
      'signal-not-setup.out',
      { state: 'searching', access_technologies: [], quality_pct: 0, rsrp_dbm: null },
    ],
  ])('%s + %s', async (modem, signal, want) => {
    const r = await withEnv({ MMCLI_MODEM: modem, MMCLI_SIGNAL: signal }, () =>
      mmcliModem({ mmcli: 'mmcli', index: 0, runner: nodeCommandRunner }).read(),
    );
    expect(r).toMatchObject(want);
  });

  it('asks once for extended signal refresh, and reports a dead ModemManager as a problem', async () => {
    const m = mmcliModem({ mmcli: 'mmcli', index: 0, runner: nodeCommandRunner });
    await m.setup();
    expect(await readFile(join(bin, 'calls.log'), 'utf8')).toContain('-m 0 --signal-setup=10');
    const r = await withEnv({ MMCLI_DOWN: '1' }, () => m.read());
    expect(r).toEqual({ problem: "mmcli -J -m 0: exit 1 (error: couldn't find the ModemManager process in the bus)" });
    const missing = await mmcliModem({ mmcli: 'mmcli-not-installed', index: 0, runner: nodeCommandRunner }).read();
    expect(missing).toEqual({ problem: 'mmcli-not-installed: ENOENT' });
  });

  it('garbage is a problem, not a crash', () => {
    expect(parseModem('not json', null)).toEqual({ problem: 'mmcli -J -m: unexpected output' });
    expect(parseModem('{"modem":{}}', null)).toEqual({ problem: 'mmcli -J -m: unexpected output' });
  });

  it('sensord writes the LTE metrics and their score into readings.json', async () => {
    const root = await tempDir();
    const setup = await deviceSetup(root, "sensors:\n  motion_sources: [file]\nmender: { check_update: 'off' }\n");
    const written: Readings[] = [];
    await withEnv({ MMCLI_MODEM: 'modem-connected.out', MMCLI_SIGNAL: 'signal-lte.out' }, () =>
      runSensord(
        { setup, clock: systemClock, log: silentLog, runner: nodeCommandRunner, procDir: '/nonexistent' },
        { once: true, signal: new AbortController().signal, onWrite: (r) => written.push(r) },
      ),
    );
    // RSRP −95 → 0.625, RSRQ −11 → 0.75, SINR 7.2 → 0.488: (0.3125 + 0.225 + 0.0976) / 1 = 0.64
    expect(written[0]?.signal).toMatchObject({ quality: 0.64, lte: { rsrp_dbm: -95, rsrq_db: -11, sinr_db: 7.2 } });
    const onDisk = JSON.parse(await readFile(join(root, 'state/readings.json'), 'utf8')) as Readings;
    expect(onDisk.signal?.quality).toBe(0.64);
  });
});
