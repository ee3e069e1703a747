// The health runner (bundled vancore-ota-health, the same code as `vancore-ota health`) against the
// ota.yaml checks: HTTP endpoints (a local server) and commands (exit code, timeout). Container checks
// of compose bundles run against a real dockerd in compose-module.test.ts.
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthReport } from '../../../core/schemas/health.js';
import { copyBuiltHooks } from './support/bundles.js';

let work: string;
let health: string;
let server: Server;
let base: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-health-it-'));
  health = (await copyBuiltHooks(join(work, 'hooks'), ['bin/vancore-ota-health']))['bin/vancore-ota-health'];
  server = createServer((req, res) => {
    res.statusCode = req.url === '/health' ? 200 : 503;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}, 60_000);

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  if (work) await rm(work, { recursive: true, force: true });
});

async function van(otaYaml: string): Promise<string> {
  const root = await mkdtemp(join(work, 'root-'));
  await mkdir(join(root, 'etc/vancore'), { recursive: true });
  await writeFile(join(root, 'etc/vancore/ota.yaml'), otaYaml);
  return root;
}

/** Runs the health runner without blocking this process: the HTTP server under test lives here. */
function run(root: string, args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      health,
      args,
      { env: { PATH: process.env.PATH, VANCORE_OTA_ROOT: root }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const checks = (items: string[]) => `validation:\n  health_checks:\n${items.map((i) => `    - ${i}`).join('\n')}\n`;

describe('vancore-ota health (ota.yaml checks)', () => {
  it('all passing: exit 0, a JSON report that matches the contract', async () => {
    const root = await van(checks([`{name: ui, url: "${base}/health"}`, '{name: script, command: ["true"]}']));
    const r = await run(root, ['--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = HealthReport.parse(JSON.parse(r.stdout));
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.name, c.kind, c.ok])).toEqual([
      ['ui', 'http', true],
      ['script', 'command', true],
    ]);
  });

  it.each([
    ['an endpoint answering 503', '{name: ui, url: "BASE/other"}', /FAIL\s+http\s+ui\s+.*HTTP 503, expected 200/],
    [
      'a command exiting 3',
      '{name: probe, command: ["sh", "-c", "echo broken >&2; exit 3"]}',
      /FAIL\s+command\s+probe\s+probe: exit 3 \(broken\)/,
    ],
    [
      'a command that hangs',
      '{name: slow, command: ["sleep", "30"], timeout_seconds: 1}',
      /FAIL\s+command\s+slow\s+slow: timed out/,
    ],
    [
      'a command that does not exist',
      '{name: gone, command: ["/nonexistent/x"]}',
      /FAIL\s+command\s+gone\s+gone: cannot run \(ENOENT\)/,
    ],
  ])('%s: exit 1 and says which check and why', async (_what, item, line) => {
    // The server's port is only known once beforeAll ran: BASE stands for it in the table.
    const root = await van(checks([`{name: ok, url: "${base}/health"}`, item.replace('BASE', base)]));
    const r = await run(root);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(line);
    expect(r.stdout).toMatch(/unhealthy: 1 of 2 checks failed\n$/);
  });

  it('--component limits the run to one compose bundle (and fails when it is not installed)', async () => {
    const root = await van(checks(['{name: x, command: ["false"]}']));
    const r = await run(root, ['--component', 'platform', '--json']);
    expect(r.code).toBe(1);
    const report = HealthReport.parse(JSON.parse(r.stdout));
    expect(report.checks).toEqual([
      {
        name: 'compose:platform',
        kind: 'container',
        ok: false,
        detail: 'no platform bundle is installed',
        duration_ms: 0,
      },
    ]);
  });

  it('bad usage and a broken ota.yaml: one line, non-zero', async () => {
    expect(await run(await van(''), ['--component', 'Not A Name'])).toMatchObject({
      code: 2,
      stderr: "vancore-ota-health: --component must be a component name such as platform, got 'Not A Name'\n",
    });
    const r = await run(await van('validation: {health_checks: [{name: x}]}\n'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^vancore-ota-health: invalid config .*ota.yaml: validation.health_checks\[0\]/);
  });
});
