import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VanError } from '../../../../core/errors.js';
import { MenderApiError } from '../../../../core/mender/errors.js';
import { MenderManagementClient, idFromLocation } from '../../../../core/mender/management.js';
import type { MenderAuth } from '../../../../core/mender/http.js';
import { type ScriptedServer, startScriptedServer } from '../../../helpers/scripted-server.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln';
const JWT2 = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MiJ9.c2ln';
const stats = {
  success: 1,
  pending: 0,
  downloading: 0,
  installing: 0,
  rebooting: 0,
  failure: 0,
  noartifact: 0,
  'already-installed': 0,
  aborted: 0,
  pause_before_installing: 0,
  pause_before_rebooting: 0,
  pause_before_committing: 0,
};

let srv: ScriptedServer;
let sleeps: number[];

function client(auth: MenderAuth = { kind: 'token', token: 'pat-123' }, retries = 3): MenderManagementClient {
  return MenderManagementClient.create({
    baseUrl: srv.url,
    auth,
    retry: { retries, baseDelayMs: 100, maxDelayMs: 1000 },
    timeoutMs: 2000,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    random: () => 0.5,
    pageSize: 2,
  });
}

async function rejection(p: Promise<unknown>): Promise<VanError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof VanError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

beforeEach(async () => {
  srv = await startScriptedServer();
  sleeps = [];
});
afterEach(() => srv.close());

describe('Mender management client over HTTP', () => {
  it('sends the personal access token and validates the answer', async () => {
    srv.on('GET', '/api/management/v1/deployments/deployments/d1/statistics', { status: 200, body: stats });
    expect((await client().deploymentStatistics('d1')).success).toBe(1);
    expect(srv.seen[0]?.headers.authorization).toBe('Bearer pat-123');
  });

  it('honours 429 Retry-After, then succeeds', async () => {
    srv.on(
      'GET',
      '/api/management/v1/deployments/deployments/d1/statistics',
      {
        status: 429,
        headers: { 'Retry-After': '2' },
        body: { error: { status_code: 429, message: 'Too Many Requests' } },
      },
      { status: 200, body: stats },
    );
    await client().deploymentStatistics('d1');
    expect(sleeps).toEqual([2000]);
    expect(srv.seen).toHaveLength(2);
  });

  it('retries a GET through 503 and a dropped connection with backoff', async () => {
    srv.on(
      'GET',
      '/api/management/v1/deployments/deployments/d1/statistics',
      { status: 503, body: 'busy' },
      { destroy: true },
      { status: 200, body: stats },
    );
    await client().deploymentStatistics('d1');
    expect(sleeps).toEqual([50, 100]);
  });

  it('gives up after the configured retries with the last error in one line', async () => {
    srv.on('GET', '/api/management/v1/deployments/deployments/d1/statistics', {
      status: 502,
      body: { error: 'upstream down', request_id: 'r-1' },
    });
    const e = await rejection(client(undefined, 2).deploymentStatistics('d1'));
    expect(e).toBeInstanceOf(MenderApiError);
    expect(e.message).toBe('Mender GET /api/management/v1/deployments/deployments/d1/statistics: 502 upstream down');
    expect((e as MenderApiError).requestId).toBe('r-1');
    expect(srv.seen).toHaveLength(3);
  });

  it('never resends a deployment creation after an ambiguous 502, but does after 429', async () => {
    srv.on('POST', '/api/management/v1/deployments/deployments', { status: 502, body: 'bad gateway' });
    const e = await rejection(client().createDeployment({ name: 'w1', artifact_name: 'a', devices: ['x'] }));
    expect(e.message).toContain('502');
    expect(srv.seen).toHaveLength(1);

    const srv2 = srv;
    srv = await startScriptedServer();
    await srv2.close();
    srv.on(
      'POST',
      '/api/management/v1/deployments/deployments',
      { status: 429, body: '' },
      {
        status: 201,
        headers: { Location: './management/v1/deployments/deployments/0c13a0e6-6b63-475d-8260-ee42a590e8ff' },
      },
    );
    expect(await client().createDeployment({ name: 'w1', artifact_name: 'a', devices: ['x'] })).toBe(
      '0c13a0e6-6b63-475d-8260-ee42a590e8ff',
    );
    expect(JSON.parse(srv.seen[1]!.body.toString())).toEqual({ name: 'w1', artifact_name: 'a', devices: ['x'] });
  });

  it.each([
    ['service shape', { error: 'artifact not found', request_id: 'abc' }, 'artifact not found'],
    ['gateway shape', { error: { status_code: 404, message: 'Not Found' } }, 'Not Found'],
    ['plain text', 'nothing here\nat all', 'nothing here'],
  ])('reads the %s error body', async (_n, body, message) => {
    srv.on('GET', '/api/management/v1/deployments/artifacts/a1', { status: 404, body });
    const e = await rejection(client().getArtifact('a1'));
    expect(e.code).toBe('NOT_FOUND');
    expect((e as MenderApiError).menderMessage).toBe(message);
  });

  it('logs in with Basic auth once for concurrent calls, and logs in again after a 401', async () => {
    srv.on('POST', '/api/management/v1/useradm/auth/login', { status: 200, body: JWT }, { status: 200, body: JWT2 });
    let calls = 0;
    srv.on('GET', '/api/management/v1/deployments/deployments/d1/statistics', (req) => {
      calls++;
      // The first session "expires" after two calls.
      if (req.headers.authorization === `Bearer ${JWT}` && calls > 2)
        return { status: 401, body: { error: { status_code: 401, message: 'Unauthorized' } } };
      return { status: 200, body: stats };
    });
    const c = client({ kind: 'login', user: 'ops@van', password: 's3cret' });
    await Promise.all([c.deploymentStatistics('d1'), c.deploymentStatistics('d1')]);
    await c.deploymentStatistics('d1');
    const logins = srv.seen.filter((r) => r.url.endsWith('/auth/login'));
    expect(logins).toHaveLength(2);
    expect(logins[0]?.headers.authorization).toBe(`Basic ${Buffer.from('ops@van:s3cret').toString('base64')}`);
    expect(srv.seen.at(-1)?.headers.authorization).toBe(`Bearer ${JWT2}`);
  });

  it('reports a wrong password as unauthorized, without retrying forever', async () => {
    srv.on('POST', '/api/management/v1/useradm/auth/login', { status: 401, body: { error: 'unauthorized' } });
    const e = await rejection(client({ kind: 'login', user: 'ops', password: 'bad' }).deploymentStatistics('d1'));
    expect(e.code).toBe('MENDER_UNAUTHORIZED');
    expect(e.message).not.toContain('bad');
  });

  it('rejects an answer that does not fit the schema, naming the field', async () => {
    srv.on('GET', '/api/management/v1/deployments/deployments/d1/statistics', {
      status: 200,
      body: { ...stats, success: 'many' },
    });
    const e = await rejection(client().deploymentStatistics('d1'));
    expect(e.message).toMatch(/^Mender GET .*\/statistics: unexpected answer \(success: /);
  });

  it('paginates by counting: stops at a short page, or at X-Total-Count', async () => {
    const dev = (id: string) => ({ id, attributes: [] });
    srv.on('GET', '/api/management/v1/inventory/devices?page=1', { status: 200, body: [dev('a'), dev('b')] });
    srv.on('GET', '/api/management/v1/inventory/devices?page=2', { status: 200, body: [dev('c')] });
    const all = await client().collect((page, perPage) => client().listInventoryDevices({ page, perPage }));
    expect(all.map((d) => d.id)).toEqual(['a', 'b', 'c']);

    srv.on('GET', '/api/management/v1/deployments/artifacts/list?page=1', {
      status: 200,
      headers: { 'X-Total-Count': '2' },
      body: [],
    });
    srv.on('POST', '/api/management/v2/inventory/filters/search', (req) => {
      const page = (JSON.parse(req.body.toString()) as { page: number }).page;
      return {
        status: 200,
        headers: { 'X-Total-Count': '4' },
        body: page === 1 ? [dev('a'), dev('b')] : [dev('c'), dev('d')],
      };
    });
    const found = await client().collect((page, perPage) =>
      client().searchDevices({
        page,
        perPage,
        filters: [{ scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' }],
      }),
    );
    expect(found.map((d) => d.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(srv.seen.filter((r) => r.url.includes('filters/search'))).toHaveLength(2);
  });

  it('streams an upload as multipart with the artifact last, a Content-Length, and progress', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vc-up-'));
    const file = join(dir, 'vancore-app-1.0.0.mender');
    const payload = Buffer.alloc(700_000, 7);
    await writeFile(file, payload);
    srv.on('POST', '/api/management/v1/deployments/artifacts', {
      status: 201,
      headers: { Location: './management/v1/deployments/artifacts/art-1' },
    });
    const progress: number[] = [];
    const id = await client().uploadArtifact(file, {
      description: 'app 1.0.0',
      onProgress: (p) => progress.push(p.sent / p.total),
    });
    expect(id).toBe('art-1');
    const req = srv.seen[0]!;
    expect(Number(req.headers['content-length'])).toBe(req.body.length);
    const boundary = /boundary=(.+)$/.exec(String(req.headers['content-type']))![1]!;
    const parts = req.body.toString('latin1').split(`--${boundary}`);
    expect(parts[1]).toContain('name="description"');
    expect(parts[2]).toContain('name="size"\r\n\r\n700000');
    expect(parts[3]).toContain('name="artifact"; filename="vancore-app-1.0.0.mender"');
    expect(parts[4]).toBe('--\r\n');
    expect(req.body.includes(payload)).toBe(true);
    expect(progress.at(-1)).toBe(1);
    expect(progress.length).toBeGreaterThan(1);
  });

  it('turns a refused connection into one clear line after retrying', async () => {
    const url = srv.url;
    await srv.close();
    srv = await startScriptedServer();
    const c = MenderManagementClient.create({
      baseUrl: url,
      auth: { kind: 'token', token: 't' },
      retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 1 },
      sleep: () => Promise.resolve(),
    });
    const e = await rejection(c.getDeployment('d'));
    expect(e.message).toBe(`Mender GET /api/management/v1/deployments/deployments/d: ECONNREFUSED (${url})`);
  });
});

describe('idFromLocation', () => {
  it('takes the last path segment of the odd relative Location', () => {
    expect(idFromLocation('./management/v1/deployments/deployments/abc')).toBe('abc');
    expect(idFromLocation('/api/x/y/?q=1')).toBe('y');
    expect(() => idFromLocation(undefined)).toThrow(/Location/);
  });
});

describe('group names (issue #16 item 9)', () => {
  it('refuses a name Mender would refuse, before any request; a valid one reaches its path', async () => {
    srv.on('PUT', '/api/management/v1/inventory/devices/d1/group', { status: 204 });
    srv.on('GET', '/api/management/v1/inventory/groups/pilot_2-b/devices', { status: 200, body: ['d1'] });
    const c = client();
    for (const bad of ['..', '../../deployments', 'a/b', 'a%2Fb', 'with space', '', 'ü', 'x'.repeat(1025)]) {
      for (const call of [
        () => c.setGroup('d1', bad),
        () => c.listGroupDevices(bad),
        () => c.createGroupDeployment(bad, { name: 'n', artifact_name: 'a' }),
      ]) {
        const e = await rejection(call());
        expect(e.code).toBe('INPUT_INVALID');
        expect(e.message).toMatch(/^group ".*": a Mender group name /);
      }
    }
    expect(srv.seen).toHaveLength(0);
    await c.setGroup('d1', 'pilot_2-b');
    expect((await c.listGroupDevices('pilot_2-b')).items).toEqual(['d1']);
    expect(srv.seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'PUT /api/management/v1/inventory/devices/d1/group',
      expect.stringMatching(/^GET \/api\/management\/v1\/inventory\/groups\/pilot_2-b\/devices/) as unknown,
    ]);
  });
});
