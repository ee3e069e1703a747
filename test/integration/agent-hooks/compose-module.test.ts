// vancore-compose as a real process (the bundled dist/device/modules/vancore-compose), called the way
// mender-client calls it, against a private dockerd with local busybox images: real compose
// projects with real healthchecks. Kill -9 cases park the module at a step (VANCORE_OTA_TEST_HOLD)
// and SIGKILL it there, then make the call the client makes after a restart.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthReport } from '../../../core/schemas/health.js';
import { startDockerd, type Dockerd } from './support/dockerd.js';
import { IMAGE, freePort, served, webBundle } from './support/compose-fixtures.js';
import { copyBuiltHooks } from './support/bundles.js';
import { composeTree, runAndKillAt, runModule } from './support/payload.js';

let dockerd: Dockerd;
let work: string;
let port: number;
let imageV1: string;
let imageV2Tar: string;
let composeModule: string;
let healthRunner: string;

beforeAll(async () => {
  dockerd = await startDockerd();
  work = await mkdtemp(join(tmpdir(), 'vc-compose-it-'));
  const hooks = await copyBuiltHooks(join(work, 'hooks'), ['modules/vancore-compose', 'bin/vancore-ota-health']);
  composeModule = hooks['modules/vancore-compose'];
  healthRunner = hooks['bin/vancore-ota-health'];
  port = await freePort();
  // v2's image goes into a tarball under the same tag, then leaves the engine: installing v2 must
  // load it (moving the tag), and rolling back must point the tag at v1's image again.
  const v2 = await dockerd.importBusybox(IMAGE, { 'etc/build': 'v2\n' });
  imageV2Tar = join(work, 'web-v2.tar');
  await dockerd.docker(['save', '-o', imageV2Tar, IMAGE]);
  imageV1 = await dockerd.importBusybox(IMAGE, { 'etc/build': 'v1\n' });
  await dockerd.docker(['rmi', v2]);
}, 120_000);

afterAll(async () => {
  await dockerd?.stop();
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

interface Van {
  root: string;
  env: NodeJS.ProcessEnv;
  state: string;
  base: string;
}

async function newVan(): Promise<Van> {
  const root = await mkdtemp(join(work, 'root-'));
  const state = join(root, 'var/lib/vancore-ota');
  return { root, state, base: join(state, 'compose/platform'), env: { ...dockerd.env, VANCORE_OTA_ROOT: root } };
}

async function json(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8')) as unknown;
}

async function tagId(): Promise<string> {
  return (await dockerd.docker(['image', 'inspect', '--format', '{{.Id}}', IMAGE])).stdout.trim();
}

async function webContainers(): Promise<{ id: string; image: string }[]> {
  const ids = (
    await dockerd.docker(['ps', '-q', '--filter', 'label=com.docker.compose.project=vancore-platform'])
  ).stdout
    .split('\n')
    .filter(Boolean);
  const out = [];
  for (const id of ids) {
    out.push({ id, image: (await dockerd.docker(['inspect', '--format', '{{.Image}}', id])).stdout.trim() });
  }
  return out;
}

const v1Bundle = () => ({
  ...webBundle({
    port,
    body: 'v1',
    xVancore: '  hooks:\n    backup:\n      path: hooks/backup.sh\n',
  }),
  'hooks/backup.sh':
    'echo "dump of v1 at $VANCORE_COMPONENT $VANCORE_BUNDLE_VERSION" > "$VANCORE_BACKUP_DIR/dump.txt"\n',
});

const v2Bundle = (healthy: boolean) => ({
  ...webBundle({
    port,
    body: 'v2',
    healthy,
    services: [
      '  migrate:',
      `    image: ${IMAGE}`,
      '    profiles: ["migrate"]',
      '    network_mode: none',
      '    volumes: ["./out:/out"]',
      '    command: ["sh", "-c", "echo migrated > /out/migrated"]',
    ].join('\n'),
    xVancore: '  migrate:\n    service: migrate\n',
  }),
  'out/.keep': '',
  'images/web.tar': { path: imageV2Tar },
});

const v2Tree = (healthy = true, version = '2.0.0') =>
  composeTree(work, { version, bundle: v2Bundle(healthy), images: ['images/web.tar'] });

let v1Van: Van | undefined;

/** A van with v1 installed, committed and serving. Reused while a case leaves it exactly so. */
async function vanOnV1(): Promise<Van> {
  if (v1Van && (await served(port)) === 'v1') {
    const j = (await json(join(v1Van.base, 'journal.json'))) as { outcome: string; artifact_name: string };
    if (['committed', 'rolled_back'].includes(j.outcome)) return v1Van;
  }
  // A fresh van: no containers of the project, and the tag on v1's image (a v2 commit moved it).
  const stale = (await webContainers()).map((c) => c.id);
  if (stale.length > 0) await dockerd.docker(['rm', '-f', ...stale]);
  await dockerd.docker(['tag', imageV1, IMAGE]);
  const van = await newVan();
  const tree = await composeTree(work, { version: '1.0.0', bundle: v1Bundle() });
  const install = await runModule(composeModule, 'ArtifactInstall', tree, van.env);
  expect(install.code, install.stderr).toBe(0);
  expect((await runModule(composeModule, 'ArtifactCommit', tree, van.env)).code).toBe(0);
  v1Van = van;
  return van;
}

/** Everything that says "this van runs v1": served page, containers' image, tag, dirs, versions. */
async function expectV1(van: Van): Promise<void> {
  expect(await served(port)).toBe('v1');
  const containers = await webContainers();
  expect(containers).toHaveLength(1);
  expect(containers[0]?.image).toBe(imageV1);
  expect(await tagId()).toBe(imageV1);
  expect(await json(join(van.state, 'versions.json'))).toEqual({ platform: '1.0.0' });
  const current = (await json(join(van.base, 'CURRENT/.vancore-bundle.json'))) as { version: string };
  expect(current.version).toBe('1.0.0');
  const dirs = (await readdir(van.base)).sort();
  expect(dirs.filter((d) => ['NEW', 'NEW.partial', 'OLDER', 'FAILED'].includes(d))).toEqual([]);
}

async function expectV2(van: Van): Promise<void> {
  expect(await served(port)).toBe('v2');
  const containers = await webContainers();
  expect(containers).toHaveLength(1);
  expect(containers[0]?.image).not.toBe(imageV1);
  expect(await json(join(van.state, 'versions.json'))).toEqual({ platform: '2.0.0' });
  expect(((await json(join(van.base, 'journal.json'))) as { outcome: string }).outcome).toBe('committed');
  expect(((await json(join(van.base, 'PREVIOUS/.vancore-bundle.json'))) as { version: string }).version).toBe('1.0.0');
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const rel of (await readdir(dir, { recursive: true })).sort()) {
    const st = await stat(join(dir, rel));
    out[rel] = st.isFile() ? `${(st.mode & 0o777).toString(8)} ${await readFile(join(dir, rel), 'utf8')}` : 'dir';
  }
  return out;
}

describe('vancore-compose module on a real dockerd', () => {
  it('installs v1: bundle in CURRENT with the index modes, serving, version recorded on commit', async () => {
    const van = await vanOnV1();
    await expectV1(van);
    expect(((await stat(join(van.base, 'CURRENT/hooks/backup.sh'))).mode & 0o777).toString(8)).toBe('644');
    expect(((await json(join(van.state, 'last-update.json'))) as { status: string }).status).toBe('success');
  });

  it('moves v1 → v2: backup hook, image load, migration, recreate, health; commit keeps v1 as PREVIOUS', async () => {
    const van = await vanOnV1();
    const tree = await v2Tree();
    const install = await runModule(composeModule, 'ArtifactInstall', tree, van.env);
    expect(install.code, install.stderr).toBe(0);
    expect(await served(port)).toBe('v2');
    // Not committed yet: versions.json still says v1 (the gates' validation window runs now).
    expect(await json(join(van.state, 'versions.json'))).toEqual({ platform: '1.0.0' });
    expect(await readFile(join(van.base, 'backups/vancore-platform-2.0.0/dump.txt'), 'utf8')).toMatch(
      /dump of v1 at platform 1.0.0/,
    );
    expect(await readFile(join(van.base, 'CURRENT/out/migrated'), 'utf8')).toBe('migrated\n');
    expect((await runModule(composeModule, 'ArtifactCommit', tree, van.env)).code).toBe(0);
    await expectV2(van);
    v1Van = undefined;
  });

  it('v2 with a failing healthcheck: install fails with one line, rollback brings v1 back serving', async () => {
    const van = await vanOnV1();
    const tree = await v2Tree(false);
    const install = await runModule(composeModule, 'ArtifactInstall', tree, van.env);
    expect(install.code).toBe(1);
    expect(install.stderr.trim().split('\n').at(-1)).toBe(
      'vancore-compose: ArtifactInstall failed: not healthy: 0/1 services up; web: unhealthy',
    );
    const rollback = await runModule(composeModule, 'ArtifactRollback', tree, van.env);
    expect(rollback.code, rollback.stderr).toBe(0);
    await expectV1(van);
    expect(await json(join(van.state, 'last-update.json'))).toMatchObject({ status: 'rolled_back', version: '2.0.0' });
  });

  it('ArtifactRollback without a prior install changes nothing', async () => {
    const van = await vanOnV1();
    const before = await snapshot(van.state);
    const r = await runModule(composeModule, 'ArtifactRollback', await v2Tree(true, '2.0.1'), van.env);
    expect(r.code).toBe(0);
    expect(await snapshot(van.state)).toEqual(before);
    await expectV1(van);
  });

  it.each([
    [
      'a bundle without a compose file',
      (i: Record<string, unknown>) => ({ ...i, compose_file: 'compose.yaml' }),
      "bundle has no compose file: 'compose.yaml' is not among its 4 files",
    ],
    [
      'path traversal in a bundle path',
      (i: Record<string, unknown>) => ({
        ...i,
        files: (i.files as { path: string }[]).map((f, n) => (n === 1 ? { ...f, path: '../../etc/cron.d/x' } : f)),
      }),
      'invalid vancore-index.json: files[1].path: must be a relative path without "..", "." or empty segments, NUL or control characters',
    ],
    [
      'path traversal in a stored name',
      (i: Record<string, unknown>) => ({
        ...i,
        files: (i.files as { name: string }[]).map((f, n) => (n === 0 ? { ...f, name: '../x' } : f)),
      }),
      'invalid vancore-index.json: files[0].name: must be a flat file name: letters, digits, . _ - (max 100)',
    ],
    [
      'an unknown component',
      (i: Record<string, unknown>) => ({ ...i, component: 'toaster' }),
      "unknown component 'toaster': vancore-compose installs platform, app",
    ],
    [
      'a config component in a compose payload',
      (i: Record<string, unknown>) => ({ ...i, component: 'config' }),
      "unknown component 'config': vancore-compose installs platform, app",
    ],
  ])('bad input — %s: one clear line, nothing changed', async (_what, mutate, line) => {
    const van = await vanOnV1();
    const before = await snapshot(van.state);
    const containers = await webContainers();
    const tree = await composeTree(work, {
      version: '2.0.0',
      bundle: { ...webBundle({ port, body: 'v2' }), 'hooks/x.sh': 'true\n', 'out/.keep': '' },
      index: mutate,
      metaData: {},
    });
    const r = await runModule(composeModule, 'ArtifactInstall', tree, van.env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`vancore-compose: ArtifactInstall failed: ${line}\n`);
    // The client's error path: rollback and failure calls must not touch anything either.
    expect((await runModule(composeModule, 'ArtifactRollback', tree, van.env)).code).toBe(0);
    expect((await runModule(composeModule, 'ArtifactFailure', tree, van.env)).code).toBe(0);
    expect(await snapshot(van.state)).toEqual(before);
    expect(await webContainers()).toEqual(containers);
    await expectV1(van);
  });

  it('vancore-ota-health checks the installed bundle: containers and its probes; a stopped container fails', async () => {
    const van = await vanOnV1();
    const run = (args: string[]) =>
      new Promise<{ code: number | null; report: HealthReport }>((resolve, reject) => {
        execFile(healthRunner, args, { env: { ...process.env, ...van.env } }, (err, stdout) => {
          try {
            resolve({ code: err ? (err.code as number) : 0, report: HealthReport.parse(JSON.parse(stdout)) });
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
      });
    const ok = await run(['--json', '--component', 'platform']);
    expect(ok.code).toBe(0);
    expect(ok.report.checks.map((c) => [c.name, c.kind, c.ok])).toEqual([
      ['compose:platform', 'container', true],
      [`platform:http://127.0.0.1:${port}/index.html`, 'http', true],
    ]);
    const [web] = await webContainers();
    await dockerd.docker(['stop', '-t', '2', web!.id]);
    try {
      const bad = await run(['--json']);
      expect(bad.code).toBe(1);
      expect(bad.report.checks[0]).toMatchObject({ name: 'compose:platform', ok: false });
      expect(bad.report.checks[0]?.detail).toMatch(/web: exited \d+/);
    } finally {
      await dockerd.docker(['start', web!.id]);
      for (let i = 0; i < 50 && (await served(port)) !== 'v1'; i++) await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('preflight: an image neither on the van nor in the bundle fails before anything changes', async () => {
    const van = await vanOnV1();
    const before = await snapshot(van.state);
    const bundle = webBundle({ port, body: 'v2' });
    bundle['docker-compose.yml'] = bundle['docker-compose.yml']!.replace(`image: ${IMAGE}`, 'image: vc-missing:9');
    const tree = await composeTree(work, { version: '2.0.0', bundle });
    const r = await runModule(composeModule, 'ArtifactInstall', tree, van.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('preflight: image vc-missing:9 is neither on the van nor in the bundle');
    expect(await snapshot(van.state)).toEqual(before);
    await expectV1(van);
  });

  // A power cut at a step of ArtifactInstall; the daemon resumes with ArtifactRollback (docs/agent-hooks.md).
  it.each([['load_images'], ['after:load_images'], ['after:move:NEW>CURRENT'], ['after:recreate'], ['health']])(
    'kill -9 at %s of ArtifactInstall, then ArtifactRollback → v1 serving, nothing of v2 left',
    async (hold) => {
      const van = await vanOnV1();
      const tree = await v2Tree();
      const holdFile = join(work, `hold-${Math.random().toString(36).slice(2)}`);
      const killed = await runAndKillAt(composeModule, 'ArtifactInstall', tree, van.env, hold, holdFile);
      expect(killed.signal).toBe('SIGKILL');
      const r = await runModule(composeModule, 'ArtifactRollback', tree, van.env);
      expect(r.code, r.stderr).toBe(0);
      await expectV1(van);
    },
  );

  it('kill -9 after commit:record of ArtifactCommit, then ArtifactRollback → v1 with versions.json restored', async () => {
    const van = await vanOnV1();
    const tree = await v2Tree();
    expect((await runModule(composeModule, 'ArtifactInstall', tree, van.env)).code).toBe(0);
    const holdFile = join(work, `hold-${Math.random().toString(36).slice(2)}`);
    await runAndKillAt(composeModule, 'ArtifactCommit', tree, van.env, 'after:commit:record', holdFile);
    expect(await json(join(van.state, 'versions.json'))).toEqual({ platform: '2.0.0' });
    const r = await runModule(composeModule, 'ArtifactRollback', tree, van.env);
    expect(r.code, r.stderr).toBe(0);
    await expectV1(van);
  });

  it('kill -9 during the rollback itself, then ArtifactRollback again → v1', async () => {
    const van = await vanOnV1();
    const tree = await v2Tree(false);
    expect((await runModule(composeModule, 'ArtifactInstall', tree, van.env)).code).toBe(1);
    const holdFile = join(work, `hold-${Math.random().toString(36).slice(2)}`);
    await runAndKillAt(composeModule, 'ArtifactRollback', tree, van.env, 'after:rollback:reconcile', holdFile);
    const r = await runModule(composeModule, 'ArtifactRollback', tree, van.env);
    expect(r.code, r.stderr).toBe(0);
    await expectV1(van);
  });

  it('standalone: after a kill -9 nobody calls rollback — the next install recovers v1 first, then installs v2', async () => {
    const van = await vanOnV1();
    const tree = await v2Tree();
    const holdFile = join(work, `hold-${Math.random().toString(36).slice(2)}`);
    await runAndKillAt(composeModule, 'ArtifactInstall', tree, van.env, 'after:recreate', holdFile);
    const again = await v2Tree();
    const r = await runModule(composeModule, 'ArtifactInstall', again, van.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('was interrupted (installing): rolling it back first');
    expect((await runModule(composeModule, 'ArtifactCommit', again, van.env)).code).toBe(0);
    await expectV2(van);
    v1Van = undefined;
  });
});
