// The v2 lists of Mender 4.1 (mender-server backend/docs/api deployments/management_v2.yaml:
// GET /api/management/v2/deployments/deployments and /v2/deployments/artifacts) are preferred; a 3.7
// server answers 404 there (the 3.7 line has no such routes; the simulator's 3.7 profile follows it), so the
// client falls back to v1 once and stays there. Malformed records are set aside, never fatal.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MenderManagementClient, type RejectedRecord } from '../../../../core/mender/management.js';
import { type ScriptedServer, startScriptedServer } from '../../../helpers/scripted-server.js';

let srv: ScriptedServer;
beforeEach(async () => {
  srv = await startScriptedServer();
});
afterEach(() => srv.close());

function client(): MenderManagementClient {
  return MenderManagementClient.create({
    baseUrl: srv.url,
    auth: { kind: 'token', token: 'pat-123' },
    retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
    pageSize: 2,
  });
}

const deployment = (id: string) => ({
  id,
  name: `d ${id}`,
  artifact_name: 'a',
  created: '2026-01-01T00:00:00Z',
  status: 'inprogress',
  device_count: 1,
});
const artifact = (id: string) => ({
  id,
  name: id,
  device_types_compatible: ['vanpc'],
  modified: '2026-01-01T00:00:00Z',
});
const paths = () => srv.seen.map((r) => `${r.method} ${r.url.split('?')[0]}`);

describe('v2 lists, v1 fallback', () => {
  it('4.1: uses the v2 deployments and artifacts lists', async () => {
    srv.on('GET', '/api/management/v2/deployments/deployments', { status: 200, body: [deployment('d1')] });
    srv.on('GET', '/api/management/v2/deployments/artifacts', { status: 200, body: [artifact('a1')] });
    const c = client();
    expect((await c.listDeployments()).items.map((d) => d.id)).toEqual(['d1']);
    expect((await c.listArtifacts({ name: 'a1' })).items.map((a) => a.id)).toEqual(['a1']);
    expect(c.listApis).toEqual({ deployments: 'v2', artifacts: 'v2' });
    expect(paths()).toEqual([
      'GET /api/management/v2/deployments/deployments',
      'GET /api/management/v2/deployments/artifacts',
    ]);
  });

  it('3.7: a 404 on v2 switches to v1 once, and v2 is not asked again', async () => {
    srv.on('GET', '/api/management/v2/', { status: 404, body: { error: 'Not Found' } });
    srv.on('GET', '/api/management/v1/deployments/deployments', { status: 200, body: [deployment('d1')] });
    srv.on('GET', '/api/management/v1/deployments/artifacts/list', { status: 200, body: [artifact('a1')] });
    const c = client();
    await c.listDeployments();
    await c.listDeployments();
    await c.listArtifacts();
    await c.listArtifacts();
    expect(c.listApis).toEqual({ deployments: 'v1', artifacts: 'v1' });
    expect(paths()).toEqual([
      'GET /api/management/v2/deployments/deployments',
      'GET /api/management/v1/deployments/deployments',
      'GET /api/management/v1/deployments/deployments',
      'GET /api/management/v2/deployments/artifacts',
      'GET /api/management/v1/deployments/artifacts/list',
      'GET /api/management/v1/deployments/artifacts/list',
    ]);
  });

  it('a 405 means the same; a 500 on v2 is an error, not a fallback', async () => {
    srv.on('GET', '/api/management/v2/deployments/artifacts', { status: 405, body: { error: 'no' } });
    srv.on('GET', '/api/management/v1/deployments/artifacts/list', { status: 200, body: [] });
    srv.on('GET', '/api/management/v2/deployments/deployments', { status: 500, body: { error: 'boom' } });
    const c = client();
    await c.listArtifacts();
    await expect(c.listDeployments()).rejects.toThrow(/500/);
    expect(c.listApis).toEqual({ artifacts: 'v1' });
  });

  it('once v2 answered, a later 404 is an error (the server did not lose the route)', async () => {
    srv.on(
      'GET',
      '/api/management/v2/deployments/deployments',
      { status: 200, body: [] },
      { status: 404, body: { error: 'gone' } },
    );
    const c = client();
    await c.listDeployments();
    await expect(c.listDeployments()).rejects.toThrow(/404/);
  });

  it('names go to v2 as exact name filters; a v1 server gets them as search', async () => {
    srv.on('GET', '/api/management/v2/deployments/deployments', { status: 200, body: [] });
    await client().listDeployments({ names: ['vancore r1 w0 app'] });
    expect(decodeURIComponent(srv.seen[0]!.url)).toContain('name=vancore r1 w0 app'.replace(/ /g, '+'));
  });
});

describe('malformed records', () => {
  it('are set aside and counted towards the page, so paging goes on', async () => {
    srv.on('GET', '/api/management/v2/deployments/artifacts', (req) =>
      req.url.includes('page=1&')
        ? { status: 200, body: [artifact('a1'), { id: 'bad', name: 3 }] }
        : { status: 200, body: [artifact('a3')] },
    );
    const rejected: RejectedRecord[] = [];
    const c = client();
    const all = await c.collect(
      (page, perPage) => c.listArtifacts({ page, perPage }),
      undefined,
      (r) => rejected.push(...r),
    );
    expect(all.map((a) => a.id)).toEqual(['a1', 'a3']);
    expect(rejected).toEqual([{ kind: 'artifact', id: 'bad', reason: expect.stringMatching(/^name/) as string }]);
  });
});
