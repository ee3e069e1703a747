// The bridge as it runs: startBridge (config → database → Mender client → sync → HTTP) against the
// simulator, and the `vancore-ota bridge` / `report` commands as real processes.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge } from '../../../bridge/server.js';
import { BridgeConfig } from '../../../core/config/bridge-config.js';
import { createLogger } from '../../../core/logger.js';
import { type MenderSim, startMenderSim } from '../../../mender-sim/index.js';
import { MENDER_PROFILES } from '../../../mender-sim/profile.js';
import { Mgmt, SimDevice, buildArtifact } from '../../../mender-sim/testkit.js';
import { cliPath, runCli } from '../../helpers/cli.js';
import { Writable } from 'node:stream';

const silent = createLogger({
  name: 'test',
  level: 'silent',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});
const vancoreMeta = (component: string, version: string, requires: Record<string, string> = {}) => ({
  vancore: { component, version, requires, constraints: { min_battery_soc: component === 'platform' ? 40 : 30 } },
});

describe.each(MENDER_PROFILES)('the bridge against the simulator (Mender %s)', (profile) => {
  let sim: MenderSim;
  let dir: string;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    sim = await startMenderSim({ autoAccept: true, profile });
    dir = await mkdtemp(join(tmpdir(), 'vc-bridge-'));
    const dev = new SimDevice(sim.url, { mac: '02:00:00:00:01:01' });
    await dev.authenticate();
    await dev.putInventory({
      'vancore.van_id': 'van-381',
      'vancore.platform.version': '0.9.2',
      'vancore.app.version': '1.4.0',
      'vancore.gate.state': 'deferred',
      'vancore.gate.reason': 'moving: stationary 0 of 3 min',
      'vancore.client': 'mender-update/5.1.0',
    });
    const mgmt = new Mgmt(sim.url, await sim.managementToken());
    for (const [c, v, req] of [
      ['platform', '0.9.3', {}],
      ['app', '1.5.0', { platform: '>=0.9.3' }],
      ['app', '1.4.0', {}],
    ] as const) {
      const f = await buildArtifact(dir, {
        name: `vancore-${c}-${v}`,
        type: 'vancore-compose',
        softwareName: c,
        softwareVersion: v,
        metaData: vancoreMeta(c, v, req),
      });
      files[`vancore-${c}-${v}`] = f;
      expect((await mgmt.upload(await readFile(f), `${c}.mender`)).status).toBe(201);
    }
  });
  afterAll(async () => {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a van report and its update plan with download links and checksums', async () => {
    const config = BridgeConfig.parse({
      mender: { url: sim.url, user: sim.user, password: sim.password },
      database: { url: `sqlite:${join(dir, 'a.db')}` },
      http: { port: 0 },
    });
    const bridge = await startBridge(config, { logger: silent, env: {}, startSync: false });
    try {
      await bridge.sync.syncNow('full');
      const van = (await (await fetch(`${bridge.url}/api/v1/vans/van-381`)).json()) as { gate: { reason: string } };
      expect(van.gate.reason).toBe('moving: stationary 0 of 3 min');
      const res = await fetch(`${bridge.url}/api/v1/vans/van-381/plan`);
      expect(res.status).toBe(200);
      const plan = (await res.json()) as {
        update_required: boolean;
        target: { components: Record<string, string> };
        artifacts: { name: string; url: string; sha256: string; type: string }[];
        constraints: { min_battery_soc: number };
      };
      expect(plan.update_required).toBe(true);
      expect(plan.target.components).toEqual({ platform: '0.9.3', app: '1.5.0' });
      expect(plan.artifacts.map((a) => a.name)).toEqual(['vancore-platform-0.9.3', 'vancore-app-1.5.0']);
      expect(plan.constraints.min_battery_soc).toBe(40);
      for (const a of plan.artifacts) {
        expect(a.type).toBe('vancore-compose');
        expect(a.sha256).toBe(
          createHash('sha256')
            .update(await readFile(files[a.name]!))
            .digest('hex'),
        );
        const dl = await fetch(a.url);
        expect(dl.status).toBe(200);
        expect(
          createHash('sha256')
            .update(Buffer.from(await dl.arrayBuffer()))
            .digest('hex'),
        ).toBe(a.sha256);
      }
      // The GET only reads: the checksums are recorded by the scheduled work, here run by hand.
      const recorded = () =>
        bridge.store.db.selectFrom('artifacts').select(['name', 'sha256']).where('sha256', 'is not', null).execute();
      expect(await recorded()).toEqual([]);
      expect(await bridge.checksums.tick()).toBe(3);
      expect(await bridge.checksums.tick()).toBe(0);
      const stored = Object.fromEntries((await recorded()).map((r) => [r.name, r.sha256]));
      expect(Object.keys(stored).sort()).toEqual(['vancore-app-1.4.0', 'vancore-app-1.5.0', 'vancore-platform-0.9.3']);
      const again = (await (await fetch(`${bridge.url}/api/v1/vans/van-381/plan`)).json()) as typeof plan;
      expect(again.artifacts.map((a) => a.sha256)).toEqual(plan.artifacts.map((a) => stored[a.name]));
    } finally {
      await bridge.stop();
    }
  });

  it('refuses to serve without tokens on a non-loopback address', async () => {
    const config = BridgeConfig.parse({
      mender: { url: sim.url, user: sim.user, password: sim.password },
      database: { url: `sqlite:${join(dir, 'b.db')}` },
      http: { host: '0.0.0.0', port: 0 },
    });
    await expect(startBridge(config, { logger: silent, env: {} })).rejects.toThrow(
      /refusing to serve the fleet API without authentication on 0\.0\.0\.0/,
    );
  });

  it('runs as `vancore-ota bridge`, answers `vancore-ota report`, and stops cleanly on SIGTERM', async () => {
    const token = 'support-token-0123456789';
    const cfg = join(dir, 'bridge.yaml');
    await writeFile(
      cfg,
      [
        `mender: { url: "${sim.url}", user: "${sim.user}", password_env: SIM_PASSWORD }`,
        `database: { url: "sqlite:${join(dir, 'c.db')}" }`,
        'http: { port: 0 }',
        `auth: { tokens: [{ name: desk, role: support, token: "${token}" }] }`,
        'log_level: silent',
      ].join('\n'),
    );
    const child = spawn(process.execPath, [cliPath, 'bridge', '--config', cfg], {
      env: { ...process.env, SIM_PASSWORD: sim.password },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /bridge listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on('exit', (code) => reject(new Error(`bridge exited ${code}`)));
      });
      // The first scheduled sync runs at start; wait until the van is there.
      for (let i = 0; i < 100; i++) {
        const r = await fetch(`${url}/api/v1/vans`, { headers: { authorization: `Bearer ${token}` } });
        if (r.headers.get('x-total-count') === '1') break;
        await new Promise((res) => setTimeout(res, 100));
      }
      const vans = runCli(['report', 'vans', '--bridge', url], { env: { VANCORE_BRIDGE_TOKEN: token } });
      expect(vans.code).toBe(0);
      expect(vans.stdout).toMatch(
        /van-381\s+fleet\s+app 1\.4\.0, platform 0\.9\.2\s+deferred\s+moving: stationary 0 of 3 min/,
      );
      const fleet = runCli(['report', 'fleet', '--bridge', url], { env: { VANCORE_BRIDGE_TOKEN: token } });
      expect(vans.stdout).toMatch(/\bclient\b[\s\S]*mender-update\/5\.1\.0/);
      expect(fleet.stdout).toContain('Vans: 1');
      expect(fleet.stdout).toContain('Mender records quarantined: -');
      expect(
        runCli(['report', 'attention', '--bridge', url, '--csv'], {
          env: { VANCORE_BRIDGE_TOKEN: token },
        }).stdout.split('\r\n')[0],
      ).toBe('van_id,device_id,code,detail');
      const denied = runCli(['report', 'fleet', '--bridge', url], {
        env: { VANCORE_BRIDGE_TOKEN: 'wrong-token-0123456789' },
      });
      expect(denied).toMatchObject({
        code: 1,
        stderr: 'vancore-ota report fleet: bridge /api/v1/reports/fleet: 401 missing or unknown bearer token\n',
      });
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
  });

  it('rejects a bad config in one line before starting', async () => {
    const cfg = join(dir, 'bad.yaml');
    await writeFile(cfg, 'http: { port: 99999 }\n');
    const r = runCli(['bridge', '--config', cfg]);
    expect(r).toMatchObject({
      code: 1,
      stderr: `vancore-ota bridge: invalid config ${cfg}: http.port: must be ≤ 65535\n`,
    });
  });
});

describe('the listening server cuts off slow clients', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vc-bridge-slow-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Connect, send `head` then one byte of `trickle` every 100 ms; resolve with ms until the server closes. */
  const slowClient = (url: string, head: string, trickle: string) =>
    new Promise<{ ms: number; answer: string }>((resolve, reject) => {
      const { hostname, port } = new URL(url);
      const started = Date.now();
      let answer = '';
      const socket = connect(Number(port), hostname, () => socket.write(head));
      let i = 0;
      const timer = setInterval(() => {
        if (i < trickle.length && !socket.destroyed) socket.write(trickle[i++]!);
      }, 100);
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ ms: Date.now() - started, answer });
      });
      setTimeout(() => {
        clearInterval(timer);
        socket.destroy();
        reject(new Error(`still connected after 15 s, answer so far: ${answer}`));
      }, 15_000);
    });

  it('closes a connection whose headers or body trickle in past the timeouts, and serves others meanwhile', async () => {
    const config = BridgeConfig.parse({
      mender: { url: 'http://127.0.0.1:9', token: 'unused-token-0123456789' },
      database: { url: `sqlite:${join(dir, 's.db')}` },
      http: { port: 0, headers_timeout_ms: 500, request_timeout_ms: 1_500 },
    });
    const bridge = await startBridge(config, { logger: silent, env: {}, startSync: false });
    try {
      // Slow loris: a header line every 100 ms, never the blank line that ends them (10 s worth).
      const headers = slowClient(bridge.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', 'X-Slow: a\r\n'.repeat(10));
      // A body trickling in: 100 bytes announced, one sent every 100 ms.
      const body = slowClient(
        bridge.url,
        'POST /api/v1/sync HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n',
        ' '.repeat(100),
      );
      // Meanwhile a normal caller is served.
      expect((await fetch(`${bridge.url}/healthz`)).status).toBe(200);
      const [h, b] = await Promise.all([headers, body]);
      expect(h.answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(h.ms).toBeLessThan(3_000);
      expect(b.answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(b.ms).toBeGreaterThanOrEqual(1_400);
      expect(b.ms).toBeLessThan(5_000);
    } finally {
      await bridge.stop();
    }
  });
});
