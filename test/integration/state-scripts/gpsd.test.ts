// GNSS motion from a real gpsd, fed by gpsfake replaying test/fixtures/gnss/van-drive-park.nmea
// (a van driving at 15 m/s, then parked). The preflight installs gpsd and gpsd-clients.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../core/clock.js';
import { GpsdClient, tpvMotion, type Tpv } from '../../../state-scripts/sense/gpsd.js';
import { nodeCommandRunner } from '../../../state-scripts/health.js';
import { silentLog } from '../../../state-scripts/log.js';
import { runSensord } from '../../../state-scripts/sensord.js';
import type { Readings } from '../../../core/schemas/readings.js';
import { NMEA_LOG, nmeaChecksum, vanDriveThenPark } from '../../fixtures/gnss/make-nmea.js';
import { deviceSetup, freePort, killGroup, tempDir, waitFor } from './helpers.js';

describe('the NMEA fixture', () => {
  it('is what the generator makes, with valid checksums', () => {
    const lines = readFileSync(NMEA_LOG, 'utf8').trimEnd().split('\r\n');
    expect(lines).toEqual(vanDriveThenPark());
    for (const l of lines) {
      const m = /^\$(.*)\*([0-9A-F]{2})$/.exec(l);
      expect(m && nmeaChecksum(m[1] ?? '')).toBe(m?.[2]);
    }
  });
});

describe('gpsd via gpsfake', () => {
  it('sees the van drive and then park; sensord turns that into stationary_since', async () => {
    const port = await freePort();
    // -1: play the log once; -c 0.1: 0.1 s per sentence (a fix every 0.2 s); -q: quiet.
    const fake = spawn('gpsfake', ['-P', String(port), '-1', '-c', '0.1', '-q', NMEA_LOG], {
      detached: true,
      stdio: 'ignore',
    });
    const root = await tempDir();
    const tpvs: { moving: boolean | null; at: number }[] = [];
    const client = new GpsdClient({
      host: '127.0.0.1',
      port,
      backoffMs: 100,
      maxBackoffMs: 200,
      onTpv: (t: Tpv) => {
        const m = tpvMotion(t, 1.0);
        tpvs.push({ moving: 'moving' in m ? m.moving : null, at: Date.now() });
      },
      onProblem: () => undefined,
    });
    const controller = new AbortController();
    const written: Readings[] = [];
    try {
      client.start();
      const setup = await deviceSetup(
        root,
        `sensors:\n  motion_sources: [gnss]\n  sample_interval_seconds: 0.2\n  gnss: { host: 127.0.0.1, port: ${port} }\nmender: { check_update: 'off' }\n`,
      );
      const daemon = runSensord(
        { setup, clock: systemClock, log: silentLog, runner: nodeCommandRunner, procDir: '/nonexistent' },
        { once: false, signal: controller.signal, onWrite: (r) => written.push(r) },
      );
      // driving fixes first, then at least 8 parked ones (1.6 s still)
      await waitFor(
        () => {
          const firstStill = tpvs.findIndex((t) => t.moving === false);
          return firstStill > 0 && tpvs.slice(firstStill).length >= 8;
        },
        30_000,
        'moving then parked TPVs',
      );
      controller.abort();
      await daemon;
      const firstStill = tpvs.findIndex((t) => t.moving === false);
      // (a TPV before the first fix has no speed: unknown, not moving)
      expect(tpvs.slice(0, firstStill).filter((t) => t.moving === true).length).toBeGreaterThanOrEqual(3);
      expect(tpvs.slice(0, firstStill).some((t) => t.moving === false)).toBe(false);
      expect(tpvs.slice(firstStill).every((t) => t.moving === false)).toBe(true);

      const motions = written.map((r) => r.motion).filter((m) => m !== undefined);
      expect(motions.every((m) => m.source === 'gnss')).toBe(true);
      const moving = motions.findIndex((m) => m.stationary_since === null);
      const parked = motions.findLastIndex((m) => m.stationary_since !== null);
      expect(moving).toBeGreaterThanOrEqual(0);
      expect(parked).toBeGreaterThan(moving);
      const since = Date.parse(motions[parked]?.stationary_since ?? '');
      // stationary since the first still fix, give or take one fix
      expect(Math.abs(since - (tpvs[firstStill]?.at ?? 0))).toBeLessThan(400);
    } finally {
      controller.abort();
      client.stop();
      await killGroup(fake);
    }
  });

  it('no gpsd: motion stays unknown and nothing throws', async () => {
    const root = await tempDir();
    const port = await freePort();
    const setup = await deviceSetup(
      root,
      `sensors:\n  motion_sources: [gnss]\n  gnss: { port: ${port} }\nmender: { check_update: 'off' }\n`,
    );
    const written: Readings[] = [];
    await runSensord(
      { setup, clock: systemClock, log: silentLog, runner: nodeCommandRunner, procDir: '/nonexistent' },
      { once: true, signal: new AbortController().signal, onWrite: (r) => written.push(r) },
    );
    expect(written).toHaveLength(1);
    expect(written[0]?.motion).toBeUndefined();
  });
});
