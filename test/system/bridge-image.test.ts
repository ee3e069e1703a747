// The bridge's container image (deploy/bridge/Dockerfile), built and run by the real dockerd.
//
// No registry is reachable here, so `node:20-bookworm-slim` cannot be pulled. The test assembles a base
// image from this machine instead — its Node 20 binary with exactly the shared libraries `ldd` lists for
// it and for better-sqlite3's addon, npm, and busybox for the shell the Dockerfile's RUN needs — imports
// it with `docker import`, and builds the unchanged Dockerfile with `--build-arg BASE=<that image>`. The
// build context carries this checkout's node_modules (built for this Node and glibc), which the Dockerfile
// uses instead of `npm ci` (which would need the registry). A user builds from the normal base image with
// no build arguments (docs/deploy.md "Container image").
//
// The container then runs as the image says (non-root, read-only root filesystem, config and secrets
// from files, PGPASSWORD from the environment) against the machine's PostgreSQL (a fresh database) and
// the simulator, on the host network: /readyz answers ready, the HEALTHCHECK turns healthy, and the fleet
// report lists the van the simulator knows.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, cp, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';
import { PG_URL } from '../helpers/fleet-db.js';
import { type Dockerd, startDockerd } from '../integration/agent-hooks/support/dockerd.js';
import { type MenderSim, startMenderSim } from '../../mender-sim/index.js';
import { SimDevice } from '../../mender-sim/testkit.js';

const execFileP = promisify(execFile);
const BASE_TAG = 'vancore-test/node20-host:local';
const IMAGE = 'vancore/ota-bridge:test';
const BUSYBOX_APPLETS = ['sh', 'env', 'rm', 'mkdir', 'cp', 'ls', 'cat', 'test', '[', 'true', 'echo', 'chmod', 'ln'];

/** The shared libraries `ldd` lists for an ELF file (absolute paths as the loader finds them). */
async function sharedLibs(file: string): Promise<string[]> {
  const { stdout } = await execFileP('ldd', [file]);
  return [...stdout.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!);
}

/** A Node 20 base image from this machine's node, its libraries, npm and busybox. */
async function importHostNodeBase(d: Dockerd, work: string): Promise<void> {
  const root = join(work, 'base-root');
  const put = async (from: string, to = from) => {
    await mkdir(join(root, dirname(to)), { recursive: true });
    await copyFile(await realpath(from), join(root, to));
  };
  const node = await realpath(process.execPath);
  await put(node, '/usr/bin/node');
  await chmod(join(root, 'usr/bin/node'), 0o755);
  const addon = join(repoRoot, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
  for (const lib of new Set([...(await sharedLibs(node)), ...(await sharedLibs(addon))])) await put(lib);
  const npmDir = dirname(dirname(await realpath(join(dirname(process.execPath), 'npm'))));
  await cp(npmDir, join(root, 'usr/lib/node_modules/npm'), { recursive: true });
  await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/bin/npm'));
  await put('/bin/busybox', '/bin/busybox');
  await chmod(join(root, 'bin/busybox'), 0o755);
  for (const a of BUSYBOX_APPLETS) await symlink('busybox', join(root, 'bin', a));
  await symlink('/bin/busybox', join(root, 'usr/bin/env'));
  await mkdir(join(root, 'tmp'), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nbridge:x:10001:10001::/tmp:/bin/sh\n');
  const tar = join(work, 'base.tar');
  await execFileP('tar', ['-C', root, '-cf', tar, '.']);
  await d.docker(['import', '-c', 'ENV PATH=/usr/bin:/bin', '-c', 'ENV HOME=/tmp', tar, BASE_TAG], {
    timeoutMs: 300_000,
  });
}

/** The build context: the checkout without docs, benchmarks and build output, with its node_modules. */
async function buildContext(work: string): Promise<string> {
  const ctx = join(work, 'context');
  // test/ stays: the CLI bundles the simulator (`vancore-ota mender-sim`, `demo`).
  const skip = new Set(['.git', 'dist', 'data', 'docs', 'bench', '.dockerignore']);
  await cp(repoRoot, ctx, {
    recursive: true,
    filter: (src) => {
      const rel = src.slice(repoRoot.length + 1);
      return !skip.has(rel.split('/')[0]!) && !rel.endsWith('.db');
    },
  });
  return ctx;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('the bridge container image', () => {
  let d: Dockerd;
  let sim: MenderSim;
  let work: string;
  let dbName: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'vc-image-'));
    d = await startDockerd();
    sim = await startMenderSim({ autoAccept: true });
    dbName = `vc_image_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
    await sim?.close();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    await rm(work, { recursive: true, force: true });
  }, 120_000);

  it('builds from the Dockerfile, runs non-root on a read-only root, answers /readyz, turns healthy and reports', async () => {
    await importHostNodeBase(d, work);
    const ctx = await buildContext(work);
    // The classic builder: this machine's docker CLI has no buildx plugin.
    const built = await execFileP(
      'docker',
      [
        'build',
        '-f',
        'deploy/bridge/Dockerfile',
        '--build-arg',
        `BASE=${BASE_TAG}`,
        '--network',
        'none',
        '-t',
        IMAGE,
        '.',
      ],
      { cwd: ctx, env: { ...process.env, ...d.env, DOCKER_BUILDKIT: '0' }, timeout: 600_000, maxBuffer: 64 << 20 },
    ).catch((e: Error & { stdout?: string }) => {
      throw new Error(`docker build failed: ${e.message}\n${(e.stdout ?? '').slice(-4000)}`);
    });
    expect(built.stdout).toMatch(/Successfully tagged vancore\/ota-bridge:test/);
    const inspect = JSON.parse((await d.docker(['image', 'inspect', IMAGE])).stdout) as {
      Config: { User: string; Healthcheck?: { Test: string[] }; Entrypoint: string[] };
    }[];
    expect(inspect[0]!.Config.User).toBe('10001:10001');
    expect(inspect[0]!.Config.Healthcheck?.Test.join(' ')).toMatch(/healthz/);
    // The runtime stage carries no dev dependencies (esbuild, vitest) and no sources.
    const ls = await d.docker(['run', '--rm', '--entrypoint', '/bin/ls', IMAGE, '/app', '/app/node_modules']);
    expect(ls.stdout).toMatch(/dist/);
    expect(ls.stdout).toMatch(/fastify/);
    expect(ls.stdout).not.toMatch(/^(esbuild|vitest|bridge|core)$/m);

    // A van in Mender, so the report has something to say.
    const dev = new SimDevice(sim.url, { mac: '02:00:00:00:19:01' });
    await dev.authenticate();
    await dev.putInventory({ 'vancore.van_id': 'van-1901', 'vancore.platform.version': '1.0.0' });

    const port = await freePort();
    const conf = join(work, 'conf');
    await mkdir(join(conf, 'secrets'), { recursive: true });
    const pgUrl = new URL(PG_URL);
    const password = decodeURIComponent(pgUrl.password);
    pgUrl.password = '';
    pgUrl.pathname = `/${dbName}`;
    await writeFile(
      join(conf, 'bridge.yaml'),
      stringify({
        http: { host: '127.0.0.1', port },
        mender: { url: sim.url, token_file: '/run/secrets/mender_pat' },
        database: { url: pgUrl.toString() },
        log_level: 'info',
      }),
    );
    await writeFile(join(conf, 'secrets/mender_pat'), await sim.managementToken());
    await chmod(join(conf, 'secrets/mender_pat'), 0o444);
    const run = await d.docker([
      'run',
      '-d',
      '--name',
      'vc-bridge',
      '--network',
      'host',
      '--read-only',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges:true',
      '--health-interval',
      '1s',
      '--health-start-period',
      '1s',
      '-e',
      `VANCORE_HEALTH_PORT=${port}`,
      '-e',
      `PGPASSWORD=${password}`,
      '-v',
      `${join(conf, 'bridge.yaml')}:/etc/vancore/bridge.yaml:ro`,
      '-v',
      `${join(conf, 'secrets/mender_pat')}:/run/secrets/mender_pat:ro`,
      IMAGE,
    ]);
    const id = run.stdout.trim();
    const base = `http://127.0.0.1:${port}`;
    const logs = async () => (await d.docker(['logs', id])).stderr + (await d.docker(['logs', id])).stdout;
    let ready: { status?: string; role?: string } = {};
    // Ready comes first (the API serves as a follower while it elects); the lone replica then leads.
    const settled = () => ready.status === 'ready' && ready.role === 'leader';
    for (let i = 0; i < 600 && !settled(); i++) {
      ready = (await fetch(`${base}/readyz`)
        .then((r) => r.json())
        .catch(() => ({}))) as typeof ready;
      if (!settled()) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ready, await logs()).toEqual({ status: 'ready', role: 'leader', replica: expect.any(String) as string });
    let health = '';
    for (let i = 0; i < 300 && health !== 'healthy'; i++) {
      health = (await d.docker(['inspect', '--format', '{{.State.Health.Status}}', id])).stdout.trim();
      if (health !== 'healthy') await new Promise((r) => setTimeout(r, 200));
    }
    expect(health).toBe('healthy');
    let fleet: { vans_total?: number } = {};
    for (let i = 0; i < 300 && fleet.vans_total !== 1; i++) {
      fleet = (await (await fetch(`${base}/api/v1/reports/fleet`)).json()) as typeof fleet;
      if (fleet.vans_total !== 1) await new Promise((r) => setTimeout(r, 200));
    }
    expect(fleet, await logs()).toMatchObject({ vans_total: 1 });
    // Running as 10001 with a read-only root: a write anywhere in the image fails.
    const probe = await d
      .docker(['exec', id, 'node', '-e', "require('fs').writeFileSync('/app/x','')"])
      .catch((e: Error) => e.message);
    expect(probe).toMatch(/EROFS|read-only/);
    const who = await d.docker(['exec', id, 'node', '-e', 'process.stdout.write(String(process.getuid()))']);
    expect(who.stdout).toBe('10001');
    // SIGTERM (docker stop) stops it cleanly.
    await d.docker(['stop', '-t', '20', id], { timeoutMs: 60_000 });
    const exit = (await d.docker(['inspect', '--format', '{{.State.ExitCode}}', id])).stdout.trim();
    expect(exit, await logs()).toBe('0');
    expect(await readFile(join(conf, 'bridge.yaml'), 'utf8')).toContain('token_file'); // no secret inline
  }, 900_000);
});
