// Fault suite: malformed input gives one clear line (or a 400 with a clear message) and writes nothing.
// Configs through the CLI (`config check`, `bridge --config`), garbage and truncated `.mender` files
// through `artifact verify` / `artifact upload` and the simulator's upload, and malformed bodies to a
// real bridge process — with a dump of its SQLite file before and after to prove nothing was written.
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, repoRoot, runCli } from '../helpers/cli.js';
import { type VirtualFleet, startVirtualFleet } from '../../mender-sim/fleet/index.js';
import { type MenderSim, startMenderSim } from '../../mender-sim/index.js';
import { Mgmt, buildArtifact } from '../../mender-sim/testkit.js';
import { releaseArtifacts, vanId } from './kit.js';
import { registerSecret } from '../helpers/output-capture.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-fault-malformed-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One line on stderr, nothing on stdout, a non-zero exit. */
function expectOneLineFailure(r: { code: number; stdout: string; stderr: string }, mentions: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(mentions);
}

describe('fault: malformed configs', () => {
  const cases: [string, 'device' | 'bridge', string, RegExp][] = [
    ['bridge: YAML syntax error', 'bridge', 'http:\n  port: [80\n', /invalid YAML in .*bad\.yaml line \d+/],
    ['bridge: wrong type', 'bridge', 'sync:\n  interval_seconds: soon\n', /sync\.interval_seconds: must be a number/],
    ['bridge: out of range', 'bridge', 'rollout:\n  wave_percent: 50\n', /rollout\.wave_percent/],
    ['bridge: unknown key', 'bridge', 'http:\n  prot: 80\n', /http: unknown key: prot/],
    [
      'bridge: bad token',
      'bridge',
      'auth:\n  tokens:\n    - {name: a, role: ops, token: short}\n',
      /auth\.tokens\[0\]\.token: must be ≥ 16 characters/,
    ],
    ['bridge: not a mapping', 'bridge', '- just\n- a list\n', /invalid config .*bad\.yaml/],
    ['ota: YAML syntax error', 'device', 'gate: {stationary_minutes: 3\n', /invalid YAML in .*bad\.yaml/],
    ['ota: unknown key', 'device', 'gates:\n  bogus: 1\n', /unknown key: gates/],
  ];

  it.each(cases)('config check — %s: one line naming the key, exit ≠ 0', async (_name, kind, yaml, mentions) => {
    const file = join(dir, `${kind}-${Math.random().toString(36).slice(2)}-bad.yaml`);
    await writeFile(file, yaml);
    expectOneLineFailure(runCli(['config', 'check', file, '--kind', kind]), mentions);
  });

  it.each(cases.filter((c) => c[1] === 'bridge'))(
    'bridge --config — %s: one line, exit ≠ 0, no database created',
    async (_name, _kind, yaml, mentions) => {
      const sub = await mkdtemp(join(dir, 'bridge-'));
      const db = join(sub, 'data', 'bridge.db');
      // The database key comes first, so a config that names a database must still create nothing. A
      // list cannot carry the key: it is given as is (the default database is ./data/ under cwd).
      const text = yaml.startsWith('-') ? yaml : `database:\n  url: sqlite:${db}\n${yaml}`;
      await writeFile(join(sub, 'bad.yaml'), text);
      expectOneLineFailure(runCli(['bridge', '--config', join(sub, 'bad.yaml')], { cwd: sub }), mentions);
      expect(existsSync(join(sub, 'data'))).toBe(false);
      expect(existsSync(db)).toBe(false);
    },
  );
});

describe('fault: malformed artifacts', () => {
  let sim: MenderSim;
  let mg: Mgmt;
  let pub: string;
  const files: Record<string, string> = {};
  beforeAll(async () => {
    sim = await startMenderSim({});
    mg = new Mgmt(sim.url, await sim.managementToken());
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    pub = join(dir, 'verify.pub.pem');
    await writeFile(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    const good = await readFile(await buildArtifact(dir, { name: 'vancore-app-9.9.9' }));
    const make = async (name: string, bytes: Buffer) => {
      files[name] = join(dir, `${name}.mender`);
      await writeFile(files[name], bytes);
    };
    await make('garbage', Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) % 251)));
    await make('empty', Buffer.alloc(0));
    await make('truncated', good.subarray(0, Math.floor(good.length / 2)));
    // A valid tar whose first member is not `version`: a tarball, not an artifact.
    const tarball = join(dir, 'tarball.tar');
    const { execFileSync } = await import('node:child_process');
    await writeFile(join(dir, 'hello.txt'), 'hello\n');
    execFileSync('tar', ['-cf', tarball, '-C', dir, 'hello.txt']);
    await make('tarball', await readFile(tarball));
  }, 60_000);
  afterAll(async () => {
    await sim.close();
  });

  const kinds = ['garbage', 'empty', 'truncated', 'tarball'];

  it.each(kinds)('artifact verify — %s: one line, exit ≠ 0', (kind) => {
    expectOneLineFailure(
      runCli(['artifact', 'verify', files[kind]!, '--key', pub]),
      /^vancore-ota artifact verify: .*(not a valid Mender artifact|truncated)/,
    );
  });

  it.each(kinds)('artifact upload — %s: one line, exit ≠ 0, nothing reaches Mender', (kind) => {
    sim.clearRequests();
    const r = runCli(['artifact', 'upload', files[kind]!, '--server', sim.url, '--token', 'not-needed-before-a-check']);
    expectOneLineFailure(r, /^vancore-ota artifact upload: .*(not a valid Mender artifact|truncated)/);
    expect(sim.requests().filter((q) => q.method !== 'GET')).toEqual([]);
  });

  it.each(kinds)('simulator upload — %s: 400 with a message, no artifact stored', async (kind) => {
    const res = await mg.upload(await readFile(files[kind]!), `${kind}.mender`);
    expect(res.status).toBe(400);
    expect((res.json as { error: string }).error).toMatch(/\S/);
    const list = await mg.get('/v1/deployments/artifacts');
    expect(list.json).toEqual([]);
  });
});

const TOKEN = registerSecret('malformed ops token', 'fault-malformed-ops-token-0123');

function startBridge(config: string, args: string[] = []) {
  const child: ChildProcess = spawn(process.execPath, [cliPath, 'bridge', '--config', config, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /bridge listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    void exited.then((code) => reject(new Error(`bridge exited (${code}):\n${out.slice(-2000)}`)));
  });
  ready.catch(() => undefined);
  return { child, ready, exited };
}

/** Every table of the SQLite file, every row: what "nothing written" is checked against. */
function dump(file: string): Record<string, unknown[]> {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
      name: string;
    }[];
    return Object.fromEntries(tables.map((t) => [t.name, db.prepare(`SELECT * FROM "${t.name}"`).all()]));
  } finally {
    db.close();
  }
}

describe('fault: malformed API bodies to the bridge', () => {
  let sim: MenderSim;
  let fleet: VirtualFleet;
  let bridge: ReturnType<typeof startBridge>;
  let url: string;
  let dbFile: string;

  const call = async (method: string, path: string, body: string | undefined, type = 'application/json') => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': type } : {}) },
      ...(body !== undefined ? { body } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as { error?: string; code?: string } };
  };

  beforeAll(async () => {
    sim = await startMenderSim({ autoAccept: true });
    const mg = new Mgmt(sim.url, await sim.managementToken());
    for (const a of await releaseArtifacts(dir)) expect((await mg.upload(a)).status).toBe(201);
    fleet = await startVirtualFleet({ serverUrl: sim.url, count: 3, seed: 'fault-malformed', retryIntervalMs: 100 });
    await fleet.until((s) => s.booted === 3, { timeoutMs: 30_000 });
    dbFile = join(dir, 'api.db');
    const config = join(dir, 'api.yaml');
    await writeFile(
      config,
      stringify({
        http: { host: '127.0.0.1', port: 0, body_limit_bytes: 4096 },
        mender: { url: sim.url, user: sim.user, password: sim.password },
        database: { url: `sqlite:${dbFile}` },
        auth: { tokens: [{ name: 'ops-fault', role: 'ops', token: TOKEN }] },
        log_level: 'warn',
      }),
    );
    // One run that syncs (vans, artifacts), then a run without background work: only requests write.
    bridge = startBridge(config);
    url = await bridge.ready;
    for (let i = 0; ; i++) {
      const m = await (await fetch(`${url}/metrics`)).text();
      if (/vancore_sync_runs_total\{kind="full"\} [1-9]/.test(m)) break;
      if (i > 200) throw new Error('the first sync never finished');
      await new Promise((r) => setTimeout(r, 100));
    }
    bridge.child.kill('SIGTERM');
    expect(await bridge.exited).toBe(0);
    bridge = startBridge(config, ['--no-sync']);
    url = await bridge.ready;
  }, 90_000);
  afterAll(async () => {
    bridge.child.kill('SIGKILL');
    await bridge.exited;
    await fleet.stop();
    await sim.close();
  });

  const big = JSON.stringify({ name: 'rel-big', components: { platform: '1.0.0' }, pad: 'x'.repeat(10_000) });
  const cases: [string, string, string, string, number, RegExp][] = [
    ['invalid JSON', 'POST', '/releases', '{"name": "rel-x", "components": {', 400, /JSON/i],
    ['release: wrong types', 'POST', '/releases', '{"name": 5, "components": []}', 400, /name/],
    [
      'release: unknown key',
      'POST',
      '/releases',
      `{"name": "rel-x", "components": {}, "extra": 1}`,
      400,
      /^body: .*"extra"/,
    ],
    ['release: bad name', 'POST', '/releases', '{"name": "../x", "components": {"platform": "1.0.0"}}', 400, /name/],
    [
      'release: no such artifact',
      'POST',
      '/releases',
      '{"name": "rel-x", "components": {"platform": "7.0.0"}}',
      400,
      /platform/,
    ],
    [
      'release: unmet requires',
      'POST',
      '/releases',
      '{"name": "rel-x", "components": {"app": "1.4.0"}}',
      400,
      /requires platform/,
    ],
    ['oversized body', 'POST', '/releases', big, 413, /\S/],
    [
      'not JSON at all',
      'POST',
      '/releases',
      'name=rel-x',
      415,
      /^unsupported Content-Type text\/plain: send application\/json$/,
    ],
    ['rollout: wrong type', 'POST', '/rollouts', '{"release": 123}', 400, /release/],
    ['rollout: missing release', 'POST', '/rollouts', '{}', 400, /release/],
    ['rollout: invalid JSON', 'POST', '/rollouts', '{"release": ', 400, /JSON/i],
    ['van: unknown stage', 'PATCH', `/vans/${vanId(0)}`, '{"stage": "beta"}', 400, /stage/],
    ['van: wrong type', 'PATCH', `/vans/${vanId(0)}`, '{"hold": "yes"}', 400, /hold/],
    ['van: nothing to set', 'PATCH', `/vans/${vanId(0)}`, '{}', 400, /give stage, hold or excluded/],
    ['van: number for boolean', 'PATCH', `/vans/${vanId(0)}`, '{"excluded": 0}', 400, /excluded/],
    ['van: array body', 'PATCH', `/vans/${vanId(0)}`, '[{"stage": "pilot"}]', 400, /\S/],
    [
      'vans: group and tag',
      'PATCH',
      '/vans',
      '{"group": "g", "tag": {"name": "a", "value": "b"}, "hold": true}',
      400,
      /exactly one of group or tag/,
    ],
    ['sync: unknown kind', 'POST', '/sync', '{"kind": "everything"}', 400, /kind/],
  ];

  it('every malformed body gets its error with a clear message, and the database is unchanged', async () => {
    const before = dump(dbFile);
    expect((before.vans ?? []).length).toBe(3);
    expect((before.artifacts ?? []).length).toBe(2);
    const seen: string[] = [];
    for (const [name, method, path, body, status, mentions] of cases) {
      const r = await call(method, path, body, name === 'not JSON at all' ? 'text/plain' : 'application/json');
      seen.push(`${name}: ${r.status} ${r.body.code} ${r.body.error}`);
      expect(r.status, `${name}: ${JSON.stringify(r.body)}`).toBe(status);
      expect(r.body.error, name).toMatch(mentions);
      expect(r.body.error!.split('\n'), name).toHaveLength(1);
      if (status === 400) expect(r.body.code, name).toBe('INPUT_INVALID');
      if (status === 415) expect(r.body.code, name).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
    console.log(`malformed API bodies:\n  ${seen.join('\n  ')}`);
    expect(dump(dbFile)).toEqual(before);

    // The dump does see a write: a valid request changes it.
    const ok = await call('PATCH', `/vans/${vanId(0)}`, '{"hold": true, "reason": "fault suite"}');
    expect(ok.status).toBe(200);
    expect(dump(dbFile)).not.toEqual(before);
  });
});
