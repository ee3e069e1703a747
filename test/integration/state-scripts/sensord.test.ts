// sensord on a temp host root: the IMU in sysfs at 10 Hz, Wi-Fi from /proc/net/wireless, power
// from power_supply; readings.json replaced atomically; one bump resets the still period; a
// deferred download whose gate would now open wakes a (stand-in) Mender daemon with SIGUSR1; the
// bundled daemon stops cleanly on SIGTERM.
import { spawn } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../core/clock.js';
import type { Readings } from '../../../core/schemas/readings.js';
import { nodeCommandRunner } from '../../../state-scripts/health.js';
import { recordDecision, toDecision } from '../../../state-scripts/journal.js';
import { silentLog } from '../../../state-scripts/log.js';
import { runSensord } from '../../../state-scripts/sensord.js';
import { deviceDist, deviceSetup, iioDevice, runProcess, tempDir, waitFor, writeTree } from './helpers.js';

const IIO = 'sys/bus/iio/devices/iio:device0';
const WIRELESS = `Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE
 face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22
 wlan0: 0000   54.  -56.  -256        0      0      0      0      0        0
`;

async function hostTree(root: string) {
  await writeTree(root, {
    ...iioDevice(IIO),
    'sys/class/power_supply/BAT0/type': 'Battery\n',
    'sys/class/power_supply/BAT0/capacity': '77\n',
    'sys/class/power_supply/AC/type': 'Mains\n',
    'sys/class/power_supply/AC/online': '0\n',
    'proc/net/wireless': WIRELESS,
  });
}

const CONFIG = `sensors:
  motion_sources: [imu]
  sample_interval_seconds: 0.2
  modem: { mmcli: /nonexistent/mmcli }
download: { stationary_minutes: 1 }
`;

describe('sensord', () => {
  it('keeps readings.json current; one bump resets stationary_since', async () => {
    const root = await tempDir();
    await hostTree(root);
    const setup = await deviceSetup(root, `${CONFIG}mender: { check_update: 'off' }\n`);
    const controller = new AbortController();
    const written: { at: number; r: Readings }[] = [];
    const daemon = runSensord(
      { setup, clock: systemClock, log: silentLog, runner: nodeCommandRunner, procDir: join(root, 'proc') },
      { once: false, signal: controller.signal, onWrite: (r) => written.push({ at: Date.now(), r }) },
    );
    try {
      const first = await waitFor(() => written.find((w) => w.r.motion?.stationary_since), 5000, 'a still reading');
      expect(first.r).toMatchObject({
        motion: { source: 'imu' },
        signal: { quality: 0.85, wifi: { rssi_dbm: -56 } },
        power: { battery_soc_pct: 77, shore_power: false },
      });
      const stillSince = first.r.motion?.stationary_since ?? '';
      // a bump: 0.3 s of 1.3 g, then at rest again
      await writeFile(join(root, IIO, 'in_accel_z_raw'), '1331\n');
      const bumpAt = Date.now();
      await new Promise((r) => setTimeout(r, 300));
      await writeFile(join(root, IIO, 'in_accel_z_raw'), '1024\n');
      const after = await waitFor(
        () =>
          written.find(
            (w) => w.at > bumpAt + 400 && w.r.motion?.stationary_since && w.r.motion.stationary_since > stillSince,
          ),
        5000,
        'a new still period after the bump',
      );
      expect(Date.parse(after.r.motion?.stationary_since ?? '')).toBeGreaterThan(bumpAt);
      expect(written.some((w) => w.at > bumpAt && w.r.motion?.stationary_since === null)).toBe(true);
      const onDisk = JSON.parse(await readFile(join(root, 'state/readings.json'), 'utf8')) as Readings;
      expect(onDisk.motion?.source).toBe('imu');
    } finally {
      controller.abort();
      await daemon;
    }
  });

  it('a broken IMU makes motion unknown, logged once, and the rest is still written', async () => {
    const root = await tempDir();
    await hostTree(root);
    await writeFile(join(root, IIO, 'in_accel_z_raw'), 'garbage\n');
    const setup = await deviceSetup(root, `${CONFIG}mender: { check_update: 'off' }\n`);
    const lines: string[] = [];
    const written: Readings[] = [];
    await runSensord(
      {
        setup,
        clock: systemClock,
        log: { ...silentLog, warn: (_o, m) => lines.push(m) },
        runner: nodeCommandRunner,
        procDir: '/x',
      },
      { once: true, signal: new AbortController().signal, onWrite: (r) => written.push(r) },
    );
    expect(written[0]?.motion).toBeUndefined();
    expect(written[0]?.power?.battery_soc_pct).toBe(77);
    // logged once per change, not once per sample
    expect(lines.filter((l) => l.startsWith('imu:'))).toEqual([`imu: ${join(root, IIO)}: unreadable raw value`]);
  });

  it('wakes the Mender daemon (SIGUSR1) when a deferred download may now go ahead', async () => {
    const root = await tempDir();
    await hostTree(root);
    // A stand-in daemon: /bin/sh under the name "mender" with the argument "daemon", counting SIGUSR1s.
    const bin = join(root, 'bin');
    await mkdir(bin);
    await symlink('/bin/sh', join(bin, 'mender'));
    const usr1 = join(root, 'usr1.log');
    const fake = spawn(
      join(bin, 'mender'),
      ['-c', `trap 'echo usr1 >> ${usr1}' USR1; while :; do sleep 0.05; done`, 'daemon'],
      {
        stdio: 'ignore',
      },
    );
    // Only this process is visible in the sensord's /proc, so no real daemon on the machine is touched.
    const proc = join(root, 'proc');
    await writeTree(proc, { [`${fake.pid}/cmdline`]: await readFile(`/proc/${fake.pid}/cmdline`, 'latin1') });
    const setup = await deviceSetup(root, `${CONFIG}mender: { check_update: signal }\n`);
    const now = Date.now();
    // still for 5 min (a fresh reading from before a restart) and a download deferred a minute ago
    await writeTree(root, {
      'state/readings.json': JSON.stringify({
        motion: {
          stationary_since: new Date(now - 300_000).toISOString(),
          source: 'imu',
          at: new Date(now).toISOString(),
        },
      }),
    });
    recordDecision(
      setup.stateDir,
      toDecision(
        'Download_Enter',
        { verdict: 'defer', reasons: [{ code: 'moving', message: 'the van is moving (imu)' }], checks: [], facts: {} },
        new Date(now - 60_000),
      ),
    );
    const controller = new AbortController();
    const daemon = runSensord(
      { setup, clock: systemClock, log: silentLog, runner: nodeCommandRunner, procDir: proc },
      { once: false, signal: controller.signal },
    );
    try {
      await waitFor(() => readFile(usr1, 'utf8').catch(() => undefined), 5000, 'SIGUSR1 at the stand-in daemon');
      await new Promise((r) => setTimeout(r, 600)); // several more cycles: still one wake per deferral
      expect((await readFile(usr1, 'utf8')).trim().split('\n')).toEqual(['usr1']);
    } finally {
      controller.abort();
      await daemon;
      fake.kill('SIGKILL');
    }
  });

  it('the bundled daemon writes readings and stops cleanly on SIGTERM', async () => {
    const root = await tempDir();
    await hostTree(root);
    await writeTree(root, { 'etc/vancore/ota.yaml': `${CONFIG}mender: { check_update: 'off' }\n` });
    const env = { VANCORE_OTA_ROOT: root, VANCORE_OTA_STATE_DIR: join(root, 'state') };
    const child = spawn(process.execPath, [join(deviceDist, 'vancore-sensord.js')], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await waitFor(
      () => readFile(join(root, 'state/readings.json'), 'utf8').catch(() => undefined),
      5000,
      'readings.json',
    );
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('"msg":"sensord stopped"');

    const once = await runProcess(process.execPath, [join(deviceDist, 'vancore-sensord.js'), '--once'], env);
    expect(once.code).toBe(0);
    const r = JSON.parse(await readFile(join(root, 'state/readings.json'), 'utf8')) as Readings;
    expect(r.power?.battery_soc_pct).toBe(77);
  });
});
