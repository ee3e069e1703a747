// The post-commit soak's contact with the Mender server (agent-hooks/soak/runner.ts) against a real HTTPS
// server with a self-signed certificate, as a site's own Mender often has: named only in mender.conf
// (ServerURL, ServerCertificate), as on a van whose ota.yaml names no server. Trusted the way the client
// trusts it, the soak keeps watching; without that trust every round would be "no contact" and the soak
// would regress after cloud_lost_hours (the bridge would count it, or revert the van).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../agent-hooks/compose/engine.js';
import type { CommandRunner } from '../../../agent-hooks/lib/runner.js';
import { runSoakPass } from '../../../agent-hooks/soak/runner.js';
import { ManualClock } from '../../../core/clock.js';
import { DeviceConfig } from '../../../core/config/device-config.js';
import { hostPaths } from '../../../core/host-paths.js';
import type { LastUpdate } from '../../../core/versions.js';

const COMMIT: LastUpdate = {
  status: 'success',
  component: 'app',
  version: '1.5.0',
  artifact_name: 'vancore-app-1.5.0',
  at: '2026-11-22T10:00:00.000Z',
};
const at = (hours: number) => new Date(Date.parse(COMMIT.at) + hours * 3_600_000);

const dir = mkdtempSync(join(tmpdir(), 'vc-soak-cloud-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-days',
    '2',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
  ],
  { stdio: 'ignore' },
);
let heads = 0;
const server = createServer(
  { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
  (req, res) => {
    if (req.method === 'HEAD') heads++;
    res.writeHead(404).end();
  },
);
let url = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  url = `https://127.0.0.1:${addr.port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A van root whose mender.conf names the server (and, with `trust`, its certificate); a fresh state dir. */
function van(trust: boolean) {
  const root = mkdtempSync(join(dir, 'root-'));
  mkdirSync(join(root, 'etc/mender'), { recursive: true });
  // The path as the van's mender.conf names it, under the van's root.
  writeFileSync(join(root, 'etc/mender/server.crt'), readFileSync(join(dir, 'cert.pem')));
  writeFileSync(
    join(root, 'etc/mender/mender.conf'),
    JSON.stringify({ ServerURL: url, ...(trust ? { ServerCertificate: '/etc/mender/server.crt' } : {}) }),
  );
  const stateDir = mkdtempSync(join(dir, 'state-'));
  writeFileSync(join(stateDir, 'last-update.json'), JSON.stringify(COMMIT));
  const clock = new ManualClock(at(0.1));
  const noDocker: CommandRunner = {
    run: () => Promise.resolve({ code: 1, signal: null, stdout: '', stderr: 'no docker', timedOut: false }),
  };
  const deps = {
    ctx: {
      paths: hostPaths(root),
      config: DeviceConfig.parse({ soak: { hours: 24, cloud_lost_hours: 6 } }),
      configPath: '/nonexistent',
      stateDir,
    },
    engine: {} as Engine,
    runner: noDocker,
    clock,
    env: {},
  };
  return { deps, clock };
}

describe('soak: contact with a self-signed Mender server named in mender.conf', () => {
  it('trusted through ServerCertificate: contact every round, the soak keeps watching', async () => {
    const { deps, clock } = van(true);
    const before = heads;
    expect((await runSoakPass(deps))?.state).toBe('watching');
    clock.set(at(7));
    const r = await runSoakPass(deps);
    expect(r?.reason ?? null).toBeNull();
    expect(r?.state).toBe('watching');
    expect(heads - before).toBe(2);
  });

  it('without the certificate there is no contact, and after cloud_lost_hours the soak regresses', async () => {
    const { deps, clock } = van(false);
    expect((await runSoakPass(deps))?.state).toBe('watching');
    clock.set(at(7));
    const r = await runSoakPass(deps);
    expect(r?.state).toBe('regressed');
    expect(r?.reason).toMatch(/^soak_cloud_lost: no contact with the Mender server for 6\.\d h$/);
  });
});
