// `vancore-ota artifact upload` against the project's Mender simulator (mender-sim): a streamed
// multipart upload lands in the artifact list; uploading again is "already uploaded"; the same name
// with other content is a conflict; a 503 is retried.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { z } from 'zod';
import { startMenderSim } from '../../mender-sim/index.js';
import { artifactCli, keyPair, tempDir } from '../unit/mender-artifacts/fixtures.js';

const Listed = z.array(
  z.looseObject({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    device_types_compatible: z.array(z.string()),
    size: z.number(),
    signed: z.boolean().optional(),
  }),
);

async function sim() {
  const s = await startMenderSim({ port: 0 });
  onTestFinished(() => s.close());
  const list = async () => {
    const res = await fetch(`${s.url}/api/management/v1/deployments/artifacts/list?per_page=500`, {
      headers: { Authorization: `Bearer ${await s.managementToken()}` },
    });
    expect(res.status).toBe(200);
    return Listed.parse(await res.json());
  };
  return { s, list };
}

async function build(dir: string, content: string, out = join(dir, 'out')): Promise<string> {
  await writeFile(join(dir, 'ota.yaml'), content);
  const key = await keyPair(dir, 'ec-sec1', `k-${content.length}`);
  const r = await artifactCli([
    'build', '--type', 'config', '--component', 'config', '--version', '2.0.0', '--device-type', 'vanpc',
    '--file', `${join(dir, 'ota.yaml')}:/etc/vancore/ota.yaml`, '--sign-key', key.priv, '--no-gate-scripts', '--out', out,
  ]); // prettier-ignore
  expect(r.code, r.stderr).toBe(0);
  return join(out, 'vancore-config-2.0.0.mender');
}

describe('artifact upload (Mender simulator)', () => {
  it('lands in the artifact list; again is "already uploaded"; other content under the name is a conflict', async () => {
    const dir = await tempDir();
    const { s, list } = await sim();
    const file = await build(dir, 'a: 1\n');
    await writeFile(join(dir, 'password'), `${s.password}\n`);

    const first = await artifactCli([
      'upload',
      file,
      '--server',
      s.url,
      '--user',
      s.user,
      '--password-file',
      join(dir, 'password'),
    ]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(
      /^uploaded vancore-config-2\.0\.0 to http:\/\/127\.0\.0\.1:\d+ \(artifact [\w-]+, sha256 [0-9a-f]{64}\)\n$/,
    );
    expect(first.stderr).toMatch(/progress: upload vancore-config-2\.0\.0\.mender 100% \(done\)\n$/);
    const [listed, ...rest] = await list();
    expect(rest).toEqual([]);
    expect(listed).toMatchObject({ name: 'vancore-config-2.0.0', device_types_compatible: ['vanpc'], signed: true });
    expect(listed?.description).toMatch(/^vancore-config-2\.0\.0 sha256:[0-9a-f]{64}$/);
    const posts = s.requests().filter((r) => r.method === 'POST' && r.path.endsWith('/deployments/artifacts'));
    expect(posts.map((r) => r.status)).toEqual([201]);

    await writeFile(join(dir, 'token'), await s.managementToken());
    const again = await artifactCli(['upload', file, '--server', `${s.url}/`, '--token-file', join(dir, 'token')]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^already uploaded: vancore-config-2\.0\.0 with the same content is on /);
    expect(await list()).toHaveLength(1);

    const changed = await build(dir, 'a: 2, changed: true\n', join(dir, 'out2'));
    const conflict = await artifactCli(['upload', changed, '--server', s.url, '--token', await s.managementToken()]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(
      /^vancore-ota artifact upload: vancore-config-2\.0\.0 is already on the server with different content \(artifact [\w-]+: its sha256 is [0-9a-f]{16}…, this file's [0-9a-f]{16}…\); bump the version instead of replacing it\n$/,
    );
    expect(await list()).toHaveLength(1);
  });

  it('retries a 503 after checking the server again, then uploads once', async () => {
    const dir = await tempDir();
    const { s, list } = await sim();
    const file = await build(dir, 'b: 1\n');
    // The upload itself (v1 POST): the artifact list is read through 4.1's v2 list (issue #14).
    s.injectFaults({ match: /\/v1\/deployments\/artifacts$/, status: 503, count: 1 });
    const r = await artifactCli(['upload', file, '--server', s.url, '--token', await s.managementToken()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^uploaded /);
    const calls = s
      .requests()
      .filter((q) => q.path.includes('/deployments/artifacts'))
      .map((q) => `${q.method} ${q.path.replace(/^\/api\/management\/v\d\/deployments/, '')} ${q.status}`);
    expect(calls).toEqual(['GET /artifacts 200', 'POST /artifacts 503', 'GET /artifacts 200', 'POST /artifacts 201']);
    expect(await list()).toHaveLength(1);
  });

  it('bad credentials or server: one line, exit 1 or 2', async () => {
    const dir = await tempDir();
    const { s } = await sim();
    const file = await build(dir, 'c: 1\n');
    const denied = await artifactCli(['upload', file, '--server', s.url, '--token', 'not-a-token']);
    expect(denied.code).toBe(1);
    expect(denied.stderr.split('\n')).toHaveLength(2);
    expect(denied.stderr).toMatch(/401/);
    const usage = await artifactCli(['upload', file, '--server', s.url, '--user', s.user]);
    expect(usage).toMatchObject({ code: 2, stderr: 'vancore-ota artifact upload: --user needs --password-file F\n' });
  });
});
