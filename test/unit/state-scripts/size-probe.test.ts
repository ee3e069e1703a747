// The download gate's size probe (state-scripts/sense/size-probe.ts, issue #17 item 4): the parsers, the
// update-check bodies per client, and the whole probe against a local HTTP server standing in for the
// Mender server and its storage, with the commands (dbus-send, show-provides) answered by a table. The
// real thing — 3.4 daemon, D-Bus, the simulator — is test/system/gates-size-probe.test.ts; the C++
// client does not run here, so its body is checked against src/mender-update/deployments/deployments.cpp
// CheckNewDeployments (device_type first, then every provide, no update_control_map; 404 → GET v1).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandResult, CommandRunner } from '../../../state-scripts/health.js';
import {
  nextRequests,
  parseJwtReply,
  parseProvides,
  probeDownloadSize,
  sizeFromRangeAnswer,
  type SizeProbeInput,
} from '../../../state-scripts/sense/size-probe.js';

// What dbus-send --print-reply printed for GetJwtToken under the real 3.4 daemon (system test).
const JWT_REPLY = (token: string, url: string) =>
  `method return time=1796516000.123456 sender=:1.2 -> destination=:1.5 serial=9 reply_serial=2\n   string "${token}"\n   string "${url}"\n`;

const ok = (stdout: string): CommandResult => ({ code: 0, signal: null, stdout, stderr: '', timedOut: false });

/** Commands answered by argv[0] + last argument; anything else is not installed (ENOENT). */
function runner(table: Record<string, CommandResult>): CommandRunner & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    run: (argv) => {
      calls.push([...argv]);
      const key = `${argv[0]} ${argv[argv.length - 1]}`;
      return Promise.resolve(
        table[key] ?? { code: null, signal: null, stdout: '', stderr: '', timedOut: false, error: 'ENOENT' },
      );
    },
  };
}

/** Listens on a free loopback port; returns it. */
async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

function close(server: Server): void {
  server.closeAllConnections();
  server.close();
}

describe('parsers', () => {
  it('reads the token and server URL of GetJwtToken, and nothing else', () => {
    expect(parseJwtReply(JWT_REPLY('eyJ.a.b', 'https://mender.example'))).toEqual({
      token: 'eyJ.a.b',
      serverUrl: 'https://mender.example',
    });
    expect(parseJwtReply(JWT_REPLY('', 'https://mender.example'))).toEqual({
      token: '',
      serverUrl: 'https://mender.example',
    });
    expect(parseJwtReply('method return …\n   boolean true\n')).toBeNull();
  });

  it('reads show-provides', () => {
    expect(parseProvides('artifact_name=v1\nrootfs-image.vancore.version=1.4.0\n\nnoise\n')).toEqual({
      artifact_name: 'v1',
      'rootfs-image.vancore.version': '1.4.0',
    });
  });

  it.each([
    [206, { 'content-range': 'bytes 0-0/123456' }, 123456],
    [206, { 'content-range': 'bytes */99' }, 99],
    [200, { 'content-length': '4096' }, 4096],
    [206, { 'content-range': 'bytes 0-0/*' }, null],
    [200, {}, null],
    [416, { 'content-range': 'bytes */0' }, null],
    [403, { 'content-length': '12' }, null],
  ])('HTTP %i %j → %s', (status, headers, size) => {
    expect(sizeFromRangeAnswer(status, headers)).toBe(size);
  });
});

describe('the update check each client sends', () => {
  const provides = { artifact_name: 'vancore-1.4.0', 'rootfs-image.vancore.version': '1.4.0' };

  it('Go 3.x: v2 with the flat provides and update_control_map, then v1 POST, then v1 GET (any 4xx/5xx but 401)', () => {
    const { requests, fallBackOn } = nextRequests('mender-3', 'vanpc', provides);
    const flat = { ...provides, device_type: 'vanpc' };
    expect(requests.map((r): unknown[] => [r.method, r.path, r.body && (JSON.parse(r.body) as unknown)])).toEqual([
      [
        'POST',
        '/api/devices/v2/deployments/device/deployments/next',
        { device_provides: flat, update_control_map: true },
      ],
      ['POST', '/api/devices/v1/deployments/device/deployments/next', flat],
      [
        'GET',
        '/api/devices/v1/deployments/device/deployments/next?artifact_name=vancore-1.4.0&device_type=vanpc',
        undefined,
      ],
    ]);
    expect([404, 400, 500, 401, 200, 204].map(fallBackOn)).toEqual([true, true, true, false, false, false]);
  });

  it('C++ mender-update on a fresh datastore: byte for byte the body the real 5.1.0 client sent', () => {
    // RECIPE-current §3.3: `show-provides` on a fresh datastore printed `artifact_name=unknown`; §3.2
    // "Requests in every managed run": the client's POST v2 body was exactly this string.
    const { requests } = nextRequests('mender-update-5', 'vanpc', parseProvides('artifact_name=unknown\n'));
    expect(requests[0]?.body).toBe('{"device_provides":{"device_type":"vanpc","artifact_name":"unknown"}}');
  });

  it('C++ mender-update: v2 with device_type and every provide, no update_control_map; GET v1 on 404 only', () => {
    const { requests, fallBackOn } = nextRequests('mender-update-5', 'vanpc', provides);
    expect(requests.map((r): unknown[] => [r.method, r.path, r.body && (JSON.parse(r.body) as unknown)])).toEqual([
      [
        'POST',
        '/api/devices/v2/deployments/device/deployments/next',
        { device_provides: { device_type: 'vanpc', ...provides } },
      ],
      [
        'GET',
        '/api/devices/v1/deployments/device/deployments/next?artifact_name=vancore-1.4.0&device_type=vanpc',
        undefined,
      ],
    ]);
    expect([404, 400, 500, 401].map(fallBackOn)).toEqual([true, false, false, false]);
  });
});

interface Hit {
  method: string;
  url: string;
  auth: string;
  range: string;
  body: string;
}

describe('probeDownloadSize against a local server', () => {
  let base = '';
  const hits: Hit[] = [];
  /** What the "server" answers for deployments/next, per test. */
  let nextAnswer: (req: IncomingMessage) => { status: number; body?: unknown } = () => ({ status: 204 });
  /** Whether the storage honours Range. */
  let honoursRange = true;
  const ARTIFACT = 1_234_567;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({
        method: req.method ?? '',
        url: req.url ?? '',
        auth: req.headers.authorization ?? '',
        range: String(req.headers.range ?? ''),
        body: Buffer.concat(chunks).toString(),
      });
      if (req.url?.startsWith('/storage/')) {
        if (honoursRange && req.headers.range === 'bytes=0-0') {
          res.writeHead(206, { 'content-range': `bytes 0-0/${ARTIFACT}`, 'content-length': '1' }).end('x');
        } else {
          // A server that ignores Range starts sending the whole artifact: the probe must hang up.
          res.writeHead(200, { 'content-length': String(ARTIFACT) });
          res.write(Buffer.alloc(64 * 1024));
          res.on('close', () => hits.push({ method: 'CLOSED', url: req.url ?? '', auth: '', range: '', body: '' }));
        }
        return;
      }
      const a = nextAnswer(req);
      res.writeHead(a.status, a.body ? { 'content-type': 'application/json' } : {});
      res.end(a.body ? JSON.stringify(a.body) : undefined);
    });
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'vc-sizeprobe-'));
  writeFileSync(join(dataDir, 'device_type'), 'device_type=vanpc\n');

  beforeAll(async () => {
    base = `http://127.0.0.1:${await listen(server)}`;
  });
  afterAll(() => close(server));

  const cppRunner = (token = 'tok-1') =>
    runner({
      'dbus-send io.mender.Authentication1.GetJwtToken': ok(JWT_REPLY(token, base)),
      'mender-update show-provides': ok('artifact_name=vancore-1.4.0\nrootfs-image.vancore.version=1.4.0\n'),
    });
  const input = (over: Partial<SizeProbeInput>): SizeProbeInput => ({
    flavour: 'mender-update-5',
    menderDataDir: dataDir,
    server: { skipVerify: false },
    dbusSend: 'dbus-send',
    runner: cppRunner(),
    timeoutMs: 2000,
    now: new Date('2026-12-07T10:00:00Z'),
    ...over,
  });
  const deployment = {
    id: 'dep-1',
    artifact: {
      artifact_name: 'vancore-1.5.0',
      source: { uri: '', expire: '2026-12-08T10:00:00Z' },
      device_types_compatible: ['vanpc'],
    },
  };

  it('C++ client on an OSS server: v2 404, GET v1 with the token, one byte of the artifact → its size', async () => {
    hits.length = 0;
    honoursRange = true;
    nextAnswer = (req) =>
      req.url?.startsWith('/api/devices/v2/')
        ? { status: 404 }
        : {
            status: 200,
            body: {
              ...deployment,
              artifact: { ...deployment.artifact, source: { uri: `${base}/storage/a.mender?sig=1` } },
            },
          };
    const r = await probeDownloadSize(input({}));
    expect(r).toEqual({
      outcome: 'sized',
      deployment_id: 'dep-1',
      hint: {
        bytes: ARTIFACT,
        artifact_name: 'vancore-1.5.0',
        at: '2026-12-07T10:00:00.000Z',
        source: 'deployments-next',
      },
      steps: [
        `token from D-Bus (server ${base})`,
        'POST v2/deployments/device/deployments/next → 404',
        'GET v1/deployments/device/deployments/next → 200',
        'GET artifact bytes=0-0 → 206',
      ],
    });
    expect(hits.map((h) => [h.method, h.url, h.auth, h.range])).toEqual([
      ['POST', '/api/devices/v2/deployments/device/deployments/next', 'Bearer tok-1', ''],
      [
        'GET',
        '/api/devices/v1/deployments/device/deployments/next?artifact_name=vancore-1.4.0&device_type=vanpc',
        'Bearer tok-1',
        '',
      ],
      // The artifact link is presigned: no token goes to the storage.
      ['GET', '/storage/a.mender?sig=1', '', 'bytes=0-0'],
    ]);
    expect(JSON.parse(hits[0]?.body ?? '')).toEqual({
      device_provides: {
        device_type: 'vanpc',
        artifact_name: 'vancore-1.4.0',
        'rootfs-image.vancore.version': '1.4.0',
      },
    });
  });

  it('a storage that ignores Range: the size from Content-Length, and the probe hangs up before the body', async () => {
    hits.length = 0;
    honoursRange = false;
    nextAnswer = () => ({
      status: 200,
      body: { ...deployment, artifact: { ...deployment.artifact, source: { uri: `${base}/storage/b.mender` } } },
    });
    const r = await probeDownloadSize(input({}));
    expect(r).toMatchObject({ outcome: 'sized', hint: { bytes: ARTIFACT } });
    await expect.poll(() => hits.some((h) => h.method === 'CLOSED')).toBe(true);
  });

  it.each([
    ['no client recorded', { flavour: null }, /the Mender client is not recorded/],
    ['no dbus-send', { runner: runner({}) }, /^dbus-send not found \(package dbus-bin\)$/],
    ['no token yet', { runner: cppRunner('') }, /^the client has no device token yet \(not authorized\)$/],
    [
      'D-Bus refuses',
      {
        runner: runner({
          'dbus-send io.mender.Authentication1.GetJwtToken': {
            code: 1,
            signal: null,
            stdout: '',
            stderr:
              'Error org.freedesktop.DBus.Error.ServiceUnknown: The name io.mender.AuthenticationManager was not provided by any .service files\n',
            timedOut: false,
          },
        }),
      },
      /^D-Bus GetJwtToken: Error org.freedesktop.DBus.Error.ServiceUnknown/,
    ],
  ])('%s → failed, and nothing is sent', async (_name, over, problem) => {
    hits.length = 0;
    const r = await probeDownloadSize(input(over));
    expect(r.outcome).toBe('failed');
    expect(r.outcome === 'failed' && r.problem).toMatch(problem);
    expect(hits).toEqual([]);
  });

  it('204: no deployment for this van now', async () => {
    nextAnswer = () => ({ status: 204 });
    expect(await probeDownloadSize(input({}))).toMatchObject({ outcome: 'no_deployment' });
  });

  it('409 is said for what it is: the server saw another request and failed the deployment', async () => {
    nextAnswer = () => ({ status: 409, body: { error: 'conflicting request data provided' } });
    const r = await probeDownloadSize(input({}));
    expect(r.outcome === 'failed' && r.problem).toMatch(/^deployments\/next: 409/);
  });

  it('Go 3.x: the artifact name comes from show-artifact (artifact_info before the first install)', async () => {
    hits.length = 0;
    honoursRange = true;
    nextAnswer = (req) =>
      req.url?.startsWith('/api/devices/v2/')
        ? { status: 404 }
        : {
            status: 200,
            body: { ...deployment, artifact: { ...deployment.artifact, source: { uri: `${base}/storage/c.mender` } } },
          };
    const go = runner({
      'dbus-send io.mender.Authentication1.GetJwtToken': ok(JWT_REPLY('tok-go', base)),
      'mender show-provides': ok(''),
      'mender show-artifact': ok('factory-image\n'),
    });
    const r = await probeDownloadSize(input({ flavour: 'mender-3', runner: go }));
    expect(r).toMatchObject({ outcome: 'sized', hint: { bytes: ARTIFACT } });
    expect(go.calls.map((c) => c.join(' '))).toEqual([
      expect.stringContaining('dbus-send --system --print-reply'),
      `mender --data ${dataDir} show-provides`,
      `mender --data ${dataDir} show-artifact`,
    ]);
    expect(hits.slice(0, 2).map((h): unknown[] => [h.url, JSON.parse(h.body) as unknown])).toEqual([
      [
        '/api/devices/v2/deployments/device/deployments/next',
        { device_provides: { artifact_name: 'factory-image', device_type: 'vanpc' }, update_control_map: true },
      ],
      ['/api/devices/v1/deployments/device/deployments/next', { artifact_name: 'factory-image', device_type: 'vanpc' }],
    ]);
  });
});

describe('probeDownloadSize over HTTPS with mender.conf ServerCertificate', () => {
  // A self-signed server, as a site's own Mender server often is: trusted through ServerCertificate only.
  const dir = mkdtempSync(join(tmpdir(), 'vc-sizeprobe-tls-'));
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
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  writeFileSync(join(dir, 'device_type'), 'device_type=vanpc\n');
  let base = '';
  const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
    if (req.url?.startsWith('/storage/')) {
      res.writeHead(206, { 'content-range': 'bytes 0-0/777' }).end('x');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ id: 'dep-tls', artifact: { artifact_name: 'v2', source: { uri: `${base}/storage/x` } } }));
  });
  beforeAll(async () => {
    base = `https://127.0.0.1:${await listen(server)}`;
  });
  afterAll(() => close(server));
  const probe = (server: SizeProbeInput['server']) =>
    probeDownloadSize({
      flavour: 'mender-update-5',
      menderDataDir: dir,
      server,
      dbusSend: 'dbus-send',
      runner: runner({
        'dbus-send io.mender.Authentication1.GetJwtToken': ok(JWT_REPLY('tok', base)),
        'mender-update show-provides': ok('artifact_name=v1\n'),
      }),
      timeoutMs: 2000,
      now: new Date('2026-12-07T10:00:00Z'),
    });

  it('trusts the certificate mender.conf names, for the update check and the artifact link', async () => {
    expect(await probe({ ca: cert, skipVerify: false })).toMatchObject({ outcome: 'sized', hint: { bytes: 777 } });
  });
  it('refuses an untrusted server, and SkipVerify skips the check as the client does', async () => {
    const r = await probe({ skipVerify: false });
    expect(r.outcome === 'failed' && r.problem).toMatch(
      /^POST v2\/deployments\/device\/deployments\/next: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/,
    );
    expect(await probe({ skipVerify: true })).toMatchObject({ outcome: 'sized' });
  });
});
