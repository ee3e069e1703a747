// Issue #16 items 3 and 6, end to end with real processes: a device whose gate reason carries terminal
// escapes and spreadsheet formulas, a `vancore-ota bridge` run with known secrets in its config, and
// `vancore-ota report vans|attention|fleet` (text, --json, --csv) plus `config check --print`.
// Every byte support sees is checked for control characters, and every output of the run for the secrets.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MenderSim, startMenderSim } from '../../../mender-sim/index.js';
import { SimDevice } from '../../../mender-sim/testkit.js';
import { cliPath, runCli } from '../../helpers/cli.js';
import { PG_URL } from '../../helpers/fleet-db.js';
import { captureOutput, registerSecret } from '../../helpers/output-capture.js';

// What a hostile hub puts in `vancore.gate.reason` (≤ 256 characters, so the inventory parser keeps it):
// clear screen, an OSC 8 hyperlink, a one-byte C1 CSI, a bell, a bidi override, and a spreadsheet formula.
const HOSTILE_REASON = '\u001b[2J\u001b[31mfake\u001b]8;;http://evil/\u0007link\u001b]8;;\u0007 \u009b5m \u202eevil';
const FORMULA_REASON = '=HYPERLINK("http://evil/","click")';
// Anything a terminal acts on. A CSV keeps CRLF line ends; a table keeps \n.
// eslint-disable-next-line no-control-regex -- looking for control characters is the point
const TERMINAL_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

const SECRETS = {
  menderUrlPassword: registerSecret('Mender URL password', 'UrlCanary-5b1e9c'),
  menderPassword: registerSecret('Mender password', 'MenderPwCanary-93c1'),
  apiToken: registerSecret('API token', 'TokenCanary-0123456789-ab'),
  dbPassword: registerSecret('database password', 'PgCanary-7f3a2d'),
};

describe('device text and secrets in support and ops outputs (issue #16 items 3, 6)', () => {
  let sim: MenderSim;
  let dir: string;
  // A database of its own on the machine's PostgreSQL: the bridge process migrates it like a new
  // install, and no other test's bridge shares its tables or migration lock.
  let dbName: string;
  let dbUrl: string;

  beforeAll(async () => {
    dbName = `vc_secrets_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const u = new URL(PG_URL);
    u.pathname = `/${dbName}`;
    dbUrl = u.toString();
    sim = await startMenderSim({ autoAccept: true });
    dir = await mkdtemp(join(tmpdir(), 'vc-hostile-'));
    const evil = new SimDevice(sim.url, { mac: '02:00:00:00:16:01' });
    await evil.authenticate();
    await evil.putInventory({
      'vancore.van_id': 'van-666',
      'vancore.platform.version': '0.9.2',
      'vancore.gate.state': 'deferred',
      'vancore.gate.reason': HOSTILE_REASON,
      'vancore.gate.since': '2026-01-01T00:00:00Z',
    });
    const formula = new SimDevice(sim.url, { mac: '02:00:00:00:16:02' });
    await formula.authenticate();
    await formula.putInventory({
      'vancore.van_id': 'van-667',
      'vancore.platform.version': '0.9.2',
      'vancore.gate.state': 'deferred',
      'vancore.gate.reason': FORMULA_REASON,
      'vancore.gate.since': '2026-01-01T00:00:00Z',
    });
  });
  afterAll(async () => {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  });

  it('neutralises control characters in every report output and defuses formulas in the CSV', async () => {
    const outputs: string[] = [];
    const { url, stop } = await runBridge(dir, sim, outputs, 'info');
    try {
      const env = { VANCORE_BRIDGE_TOKEN: SECRETS.apiToken };
      const runs = [
        ['report', 'vans', '--bridge', url],
        ['report', 'vans', '--bridge', url, '--json'],
        ['report', 'attention', '--bridge', url],
        ['report', 'attention', '--bridge', url, '--json'],
        ['report', 'fleet', '--bridge', url],
        ['report', 'fleet', '--bridge', url, '--json'],
      ].map((args) => ({ args, r: runCli(args, { env }) }));
      for (const { args, r } of runs) {
        expect(r.code, args.join(' ')).toBe(0);
        // The fleet report groups vans by reason codes and shows the catalogue's words, never a
        // device's text (issue #15); the van and attention reports show the device's line, defused.
        if (args[1] === 'fleet') expect(r.stdout, args.join(' ')).not.toContain('fake');
        else expect(r.stdout, args.join(' ')).toContain('fake');
        expect(TERMINAL_CONTROL.exec(r.stdout), args.join(' ')).toBeNull();
        outputs.push(r.stdout, r.stderr);
      }
      // The escapes stay readable as text: support can still see what the device sent.
      expect(runs[0]!.r.stdout).toContain('\\x1b[2J');
      // JSON keeps the exact value (same string once parsed), only written with escapes.
      const parsed = JSON.parse(runs[1]!.r.stdout) as { gate: { reason: string | null } }[];
      expect(parsed.map((v) => v.gate.reason)).toContain(HOSTILE_REASON);

      const csv = runCli(['report', 'attention', '--bridge', url, '--csv'], { env });
      outputs.push(csv.stdout, csv.stderr);
      expect(csv.code).toBe(0);
      expect(TERMINAL_CONTROL.exec(csv.stdout.replace(/\r\n/g, ''))).toBeNull();
      const api = await fetch(`${url}/api/v1/reports/attention?format=csv`, {
        headers: { authorization: `Bearer ${SECRETS.apiToken}` },
      });
      const apiCsv = await api.text();
      outputs.push(apiCsv);
      expect(TERMINAL_CONTROL.exec(apiCsv.replace(/\r\n/g, ''))).toBeNull();
      // No cell of the CSV starts a formula.
      for (const line of apiCsv.trimEnd().split('\r\n'))
        for (const cell of line.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/))
          expect(cell.replace(/^"/, ''), line).not.toMatch(/^[=+\-@]/);
    } finally {
      await stop();
    }
    expectNoSecret(outputs);
  });

  it('never echoes a secret: config check --print, the startup line, logs, /readyz, errors', async () => {
    const outputs: string[] = [];
    // 1. config check --print, bridge and device configs with every kind of secret.
    const bridgeCfg = join(dir, 'secrets.yaml');
    await writeFile(
      bridgeCfg,
      [
        `mender: { url: "http://ops:${SECRETS.menderUrlPassword}@127.0.0.1:9/", user: ops, password: "${SECRETS.menderPassword}" }`,
        `database: { url: "postgres://postgres:${SECRETS.dbPassword}@127.0.0.1:5432/test" }`,
        `auth: { tokens: [{ name: desk, role: support, token: "${SECRETS.apiToken}" }] }`,
      ].join('\n'),
    );
    const printed = runCli(['config', 'check', bridgeCfg, '--kind', 'bridge', '--print']);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('[redacted]');
    expect(printed.stdout).toContain('user: ops');
    outputs.push(printed.stdout, printed.stderr);
    const tokenCfg = join(dir, 'token.yaml');
    await writeFile(tokenCfg, `mender: { url: "http://127.0.0.1:9/", token: "${SECRETS.apiToken}" }\n`);
    const printedToken = runCli(['config', 'check', tokenCfg, '--kind', 'bridge', '--print']);
    expect(printedToken.code).toBe(0);
    outputs.push(printedToken.stdout, printedToken.stderr);

    // 2. A bridge whose Mender URL carries credentials (and whose Mender is unreachable at first: the
    //    error paths log and answer with the URL) on PostgreSQL with a password in its URL.
    const { url, stop } = await runBridge(dir, sim, outputs, 'debug', {
      menderUrl: sim.url.replace('//', `//ops:${SECRETS.menderUrlPassword}@`),
      dbUrl: dbUrl.replace(/\/\/[^@]*@/, `//postgres:${SECRETS.dbPassword}@`),
    });
    try {
      const ready = await fetch(`${url}/readyz`);
      outputs.push(await ready.text());
      const denied = runCli(['report', 'fleet', '--bridge', url], {
        env: { VANCORE_BRIDGE_TOKEN: 'wrong-token-0123456789' },
      });
      outputs.push(denied.stdout, denied.stderr);
      const ok = runCli(['report', 'vans', '--bridge', url], { env: { VANCORE_BRIDGE_TOKEN: SECRETS.apiToken } });
      expect(ok.code).toBe(0);
      outputs.push(ok.stdout, ok.stderr);
    } finally {
      await stop();
    }
    // 3. A bridge that cannot reach its Mender (credentials in the URL) or its database.
    const down = await runBridge(dir, sim, outputs, 'debug', {
      menderUrl: `http://ops:${SECRETS.menderUrlPassword}@127.0.0.1:9/`,
    });
    try {
      const ready = await fetch(`${down.url}/readyz`);
      expect(ready.status).toBe(503);
      outputs.push(await ready.text());
    } finally {
      await down.stop();
    }
    const badDbCfg = join(dir, 'bad-db.yaml');
    await writeFile(
      badDbCfg,
      [
        `mender: { url: "${sim.url}", user: "${sim.user}", password_env: SIM_PASSWORD }`,
        `database: { url: "postgres://postgres:${SECRETS.dbPassword}@127.0.0.1:1/test" }`,
        'http: { port: 0 }',
      ].join('\n'),
    );
    const badDb = runCli(['bridge', '--config', badDbCfg], { env: { SIM_PASSWORD: sim.password } });
    expect(badDb.code).not.toBe(0);
    outputs.push(badDb.stdout, badDb.stderr);
    expect(outputs.join('').length).toBeGreaterThan(1000);
    expectNoSecret(outputs);
  });
});

function expectNoSecret(outputs: string[]): void {
  captureOutput('hostile-output outputs', ...outputs);
  const all = outputs.join('\n');
  for (const [name, secret] of Object.entries(SECRETS)) {
    expect(secret.length, name).toBeGreaterThan(5);
    expect(all.includes(secret), `${name} appears in an output`).toBe(false);
  }
}

async function runBridge(
  dir: string,
  sim: MenderSim,
  outputs: string[],
  level: string,
  over: { menderUrl?: string; dbUrl?: string } = {},
): Promise<{ url: string; stop: () => Promise<void> }> {
  const cfg = join(dir, `bridge-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(
    cfg,
    [
      `mender: { url: "${over.menderUrl ?? sim.url}", user: "${sim.user}", password_env: SIM_PASSWORD, retries: 0, timeout_ms: 2000 }`,
      `database: { url: "${over.dbUrl ?? `sqlite:${join(dir, `${Math.random().toString(36).slice(2)}.db`)}`}" }`,
      'http: { port: 0 }',
      `auth: { tokens: [{ name: desk, role: support, token: "${SECRETS.apiToken}" }] }`,
      `log_level: ${level}`,
    ].join('\n'),
  );
  const child = spawn(process.execPath, [cliPath, 'bridge', '--config', cfg], {
    env: { ...process.env, SIM_PASSWORD: sim.password },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      const m = /bridge listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`bridge exited ${code}: ${err}`)));
  });
  // Wait for the first sync to land (or fail) so its log lines are part of the run.
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${url}/api/v1/vans`, { headers: { authorization: `Bearer ${SECRETS.apiToken}` } });
    if (Number(r.headers.get('x-total-count')) > 0 || /sync (failed|done)/.test(err)) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  return {
    url,
    stop: async () => {
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      outputs.push(out, err);
    },
  };
}
