// The simulator over real HTTP: flows a bridge and a device run, Mender's quirks, and bad input.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMenderSim, type MenderSim } from '../../../mender-sim/index.js';
import { Mgmt, SimDevice, buildArtifact, http } from '../../../mender-sim/testkit.js';

const AUTH = '/api/devices/v1/authentication/auth_requests';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Asymmetric matchers are typed `any`; holding them as unknown keeps the assertions type-safe.
const anyString: unknown = expect.any(String);
const aUuid: unknown = expect.stringMatching(UUID);

let dir: string;
let appV1: Buffer;
let appV2: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-sim-it-'));
  appV1 = await readFile(await buildArtifact(dir, { name: 'app-1.0', metaData: { vancore: { version: '1.0' } } }));
  appV2 = await readFile(
    await buildArtifact(dir, {
      name: 'app-2.0',
      depends: { 'vancore.hw': 'gen2' },
      scripts: ['ArtifactInstall_Enter_00_gate'],
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function withSim<T>(
  opts: Parameters<typeof startMenderSim>[0],
  f: (sim: MenderSim, mg: Mgmt) => Promise<T>,
): Promise<T> {
  const sim = await startMenderSim({ port: 0, ...opts });
  try {
    return await f(sim, new Mgmt(sim.url, await sim.managementToken()));
  } finally {
    await sim.close();
  }
}

/** A device that authenticated and got accepted; returns it with its ID. */
async function acceptedDevice(
  sim: MenderSim,
  mg: Mgmt,
  mac: string,
  extra: Partial<ConstructorParameters<typeof SimDevice>[1]> = {},
) {
  const dev = new SimDevice(sim.url, { mac, ...extra });
  expect((await dev.authenticate()).status).toBe(401);
  const list = await mg.get(`/v2/devauth/devices?status=pending&per_page=500`);
  const found = (list.json as { id: string; identity_data: { mac: string } }[]).find(
    (d) => d.identity_data.mac === mac,
  );
  if (!found) throw new Error(`device ${mac} not pending`);
  expect((await mg.accept(found.id)).status).toBe(204);
  expect((await dev.authenticate()).status).toBe(200);
  return { dev, id: found.id };
}

function errorShape(json: unknown): void {
  expect(json).toEqual({ error: anyString, request_id: anyString });
}

describe('useradm', () => {
  it('logs in with Basic auth to a raw JWT and guards every management call', async () => {
    await withSim({}, async (sim, mg) => {
      const login = await http(`${sim.url}/api/management/v1/useradm/auth/login`, {
        method: 'POST',
        headers: { Authorization: `Basic ${Buffer.from('admin@vancore.local:vancore-sim').toString('base64')}` },
      });
      expect(login.status).toBe(200);
      expect(login.headers.get('content-type')).toMatch(/^application\/jwt/);
      const [, payload] = login.text.split('.');
      const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as {
        sub: string;
        exp: number;
        iat: number;
      };
      expect(claims.exp - claims.iat).toBe(604800);

      const bad = await http(`${sim.url}/api/management/v1/useradm/auth/login`, {
        method: 'POST',
        headers: { Authorization: `Basic ${Buffer.from('admin@vancore.local:nope').toString('base64')}` },
      });
      expect(bad.status).toBe(401);
      errorShape(bad.json);

      for (const auth of [undefined, 'Bearer nonsense', `Bearer ${login.text}x`]) {
        const r = await http(
          `${sim.url}/api/management/v1/inventory/devices`,
          auth ? { headers: { Authorization: auth } } : {},
        );
        expect(r.status).toBe(401);
        errorShape(r.json);
      }
      const me = await mg.get('/v1/useradm/users/me');
      expect(me.json).toMatchObject({ email: 'admin@vancore.local', id: claims.sub });

      // A personal access token works like a login; logout kills the JWT it is called with.
      const pat = await mg.call('POST', '/v1/useradm/settings/tokens', { name: 'bridge', expires_in: 3600 });
      expect(pat.status).toBe(200);
      const viaPat = new Mgmt(sim.url, pat.text);
      expect((await viaPat.get('/v1/inventory/devices')).status).toBe(200);
      expect((await mg.call('POST', '/v1/useradm/settings/tokens', { name: 'bridge' })).status).toBe(409);
      expect((await mg.call('POST', '/v1/useradm/settings/tokens', { name: 'x', expires_in: 31536001 })).status).toBe(
        400,
      );
      expect((await mg.get('/v1/useradm/settings/tokens')).json).toMatchObject([{ name: 'bridge' }]);
      const session = new Mgmt(sim.url, await sim.managementToken());
      expect((await session.call('POST', '/v1/useradm/auth/logout')).status).toBe(202);
      expect((await session.get('/v1/inventory/devices')).status).toBe(401);
      expect((await viaPat.get('/v1/inventory/devices')).status).toBe(200);
    });
  });
});

describe('deviceauth', () => {
  it('keeps a device pending (401) until accepted, then hands out raw device JWTs', async () => {
    await withSim({}, async (sim, mg) => {
      const dev = new SimDevice(sim.url, { mac: '02:00:00:00:00:01' });
      const first = await dev.authenticate();
      expect(first.status).toBe(401);
      errorShape(first.json);
      expect((await dev.authenticate()).status).toBe(401);
      expect((await mg.get('/v2/devauth/devices/count?status=pending')).json).toEqual({ count: 1 });
      const list = await mg.get('/v2/devauth/devices');
      expect(list.headers.get('x-total-count')).toBeNull();
      expect(list.headers.get('link')).toBe('</api/management/v2/devauth/devices?page=1&per_page=20>; rel="first"');
      const [d] = list.json as { id: string; status: string; auth_sets: { id: string; status: string }[] }[];
      expect(d).toMatchObject({ status: 'pending', auth_sets: [{ status: 'pending' }] });
      expect((await mg.accept(d?.id ?? '')).status).toBe(204);
      const ok = await dev.authenticate();
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toMatch(/^application\/jwt/);
      expect(ok.text.split('.')).toHaveLength(3);
      expect((await dev.putInventory({})).status).toBe(200);

      // Reject: the device's token dies.
      const aid = d?.auth_sets[0]?.id ?? '';
      expect(
        (await mg.call('PUT', `/v2/devauth/devices/${d?.id}/auth/${aid}/status`, { status: 'rejected' })).status,
      ).toBe(204);
      expect((await dev.putInventory({})).status).toBe(401);
      expect((await dev.authenticate()).status).toBe(401);
      expect(
        (await mg.call('PUT', `/v2/devauth/devices/${d?.id}/auth/${aid}/status`, { status: 'bogus' })).status,
      ).toBe(400);
      expect(
        (await mg.call('PUT', `/v2/devauth/devices/${d?.id}/auth/${aid}/status`, { status: 'accepted' })).status,
      ).toBe(204);
      expect((await dev.authenticate()).status).toBe(200);
    });
  });

  it.each(['rsa', 'ec', 'ed25519'] as const)('verifies X-MEN-Signature made with a %s key', async (keyKind) => {
    await withSim({ autoAccept: true }, async (sim) => {
      const dev = new SimDevice(sim.url, { keyKind });
      const bad = await dev.authenticate({ badSignature: true });
      expect(bad.status).toBe(401);
      expect(bad.json).toMatchObject({ error: 'signature verification failed' });
      expect((await dev.authenticate()).status).toBe(200);
    });
  });

  it('rejects malformed auth requests with 400', async () => {
    await withSim({ autoAccept: true }, async (sim) => {
      const post = (body: string, headers: Record<string, string> = { 'X-MEN-Signature': 'AAAA' }) =>
        http(`${sim.url}${AUTH}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...headers },
          body,
        });
      const dev = new SimDevice(sim.url);
      for (const body of [
        '{',
        '[]',
        '{"id_data":"x"}',
        JSON.stringify({ id_data: 'not json', pubkey: dev.publicPem }),
        JSON.stringify({ id_data: '{}', pubkey: 'no key' }),
      ]) {
        const r = await post(body);
        expect(r.status, body).toBe(400);
        errorShape(r.json);
      }
      const noSig = await post(JSON.stringify({ id_data: '{"mac":"x"}', pubkey: dev.publicPem }), {});
      expect(noSig.status).toBe(400);
    });
  });

  it('preauthorizes (the device gets a token at once; 409 returns the existing device) and decommissions', async () => {
    await withSim({}, async (sim, mg) => {
      const dev = new SimDevice(sim.url, { mac: '02:00:00:00:00:09' });
      const pre = await mg.call('POST', '/v2/devauth/devices', { identity_data: dev.identity, pubkey: dev.publicPem });
      expect(pre.status).toBe(201);
      const id = (pre.headers.get('location') ?? '').split('/').pop() ?? '';
      expect(id).toMatch(UUID);
      const dup = await mg.call('POST', '/v2/devauth/devices', { identity_data: dev.identity, pubkey: dev.publicPem });
      expect(dup.status).toBe(409);
      expect(dup.json).toMatchObject({ id, status: 'preauthorized' });
      expect((await dev.authenticate()).status).toBe(200);
      expect((await mg.get(`/v2/devauth/devices/${id}`)).json).toMatchObject({ status: 'accepted' });
      expect((await mg.call('DELETE', `/v2/devauth/devices/${id}`)).status).toBe(204);
      expect((await mg.get(`/v2/devauth/devices/${id}`)).status).toBe(404);
      expect((await mg.get(`/v1/inventory/devices/${id}`)).status).toBe(404);
      expect((await dev.putInventory({})).status).toBe(401);
    });
  });
});

describe('inventory', () => {
  it('stores device attributes (PUT replaces, PATCH merges, exactly 200) and filters them', async () => {
    await withSim({ autoAccept: true }, async (sim, mg) => {
      const a = new SimDevice(sim.url, { mac: 'a' });
      const b = new SimDevice(sim.url, { mac: 'b' });
      await a.authenticate();
      await b.authenticate();
      const put = await a.putInventory({ van_id: 'van-1', battery: 80, network: ['wlan0', 'wwan0'] });
      expect(put.status).toBe(200);
      expect(put.text).toBe('');
      expect((await b.putInventory({ van_id: 'van-2', battery: 30 })).status).toBe(200);
      expect((await a.putInventory({ 'vancore.gate.state': 'open' }, 'PATCH')).status).toBe(200);
      expect((await b.putInventory({ only: 'this' }, 'PUT')).status).toBe(200);
      const bad = await http(`${sim.url}/api/devices/v1/inventory/device/attributes`, {
        method: 'PUT',
        headers: { Authorization: `Bearer ${a.token ?? ''}`, 'Content-Type': 'application/json' },
        body: '[{"name":"x","value":{"nested":1}}]',
      });
      expect(bad.status).toBe(400);

      const all = await mg.get('/v1/inventory/devices?per_page=1');
      expect(all.headers.get('x-total-count')).toBe('2');
      expect(all.headers.get('link')).toBe(
        '<devices?page=1&per_page=1>; rel="first", <devices?page=2&per_page=1>; rel="next"',
      );
      const byVan = await mg.get('/v1/inventory/devices?van_id=van-1');
      const [devA] = byVan.json as { id: string; attributes: { name: string; value: unknown; scope: string }[] }[];
      const attrs = Object.fromEntries((devA?.attributes ?? []).map((x) => [`${x.scope}/${x.name}`, x.value]));
      expect(attrs).toMatchObject({
        'identity/mac': 'a',
        'identity/status': 'accepted',
        'inventory/van_id': 'van-1',
        'inventory/battery': 80,
        'inventory/network': ['wlan0', 'wwan0'],
        'inventory/vancore.gate.state': 'open',
      });
      expect((await mg.get('/v1/inventory/devices?inventory/battery=eq:80')).json).toHaveLength(1);
      expect((await mg.get('/v1/inventory/devices?network=wwan0')).json).toHaveLength(1);
      expect((await mg.get('/v1/inventory/devices?van_id=van-2')).json).toHaveLength(0); // replaced by PUT
      expect((await mg.get('/v1/inventory/devices?identity/mac=b')).json).toHaveLength(1);
      const sorted = await mg.get('/v1/inventory/devices?sort=identity/mac:asc');
      expect((sorted.json as { id: string }[]).map((d) => d.id)[0]).toBe(devA?.id);
    });
  });

  it('tags carry an ETag; a stale If-Match is 412', async () => {
    await withSim({ autoAccept: true }, async (sim, mg) => {
      const dev = new SimDevice(sim.url);
      await dev.authenticate();
      const [d] = (await mg.get('/v1/inventory/devices')).json as { id: string }[];
      const id = d?.id ?? '';
      expect((await mg.get(`/v1/inventory/devices/${id}`)).headers.get('etag')).toBeNull();
      expect(
        (await mg.call('PATCH', `/v1/inventory/devices/${id}/tags`, [{ name: 'ring', value: 'pilot' }])).status,
      ).toBe(200);
      const etag = (await mg.get(`/v1/inventory/devices/${id}`)).headers.get('etag') ?? '';
      expect(etag).not.toBe('');
      const stale = await mg.call('PUT', `/v1/inventory/devices/${id}/tags`, [{ name: 'wave', value: '1' }], {
        'If-Match': 'nope',
      });
      expect(stale.status).toBe(412);
      const ok = await mg.call('PUT', `/v1/inventory/devices/${id}/tags`, [{ name: 'wave', value: '1' }], {
        'If-Match': etag,
      });
      expect(ok.status).toBe(200);
      const tags = (
        (await mg.get(`/v1/inventory/devices/${id}`)).json as { attributes: { scope: string; name: string }[] }
      ).attributes
        .filter((x) => x.scope === 'tags')
        .map((x) => x.name);
      expect(tags).toEqual(['wave']);
      expect((await mg.get('/v1/inventory/devices?tags/wave=1')).json).toHaveLength(1);
      expect((await mg.call('PATCH', `/v1/inventory/devices/nope/tags`, [{ name: 'a', value: 'b' }])).status).toBe(404);
    });
  });

  it('static groups: one per device, bulk add/remove, listing, and system/group in searches', async () => {
    await withSim({ autoAccept: true }, async (sim, mg) => {
      const ids: string[] = [];
      for (const mac of ['a', 'b', 'c']) {
        await new SimDevice(sim.url, { mac }).authenticate();
      }
      for (const d of (await mg.get('/v1/inventory/devices')).json as { id: string }[]) ids.push(d.id);
      const [a, b, c] = ids as [string, string, string];
      expect((await mg.call('PUT', `/v1/inventory/devices/${a}/group`, { group: 'dev' })).status).toBe(204);
      expect((await mg.call('PUT', `/v1/inventory/devices/${a}/group`, { group: 'bad name!' })).status).toBe(400);
      expect((await mg.call('PATCH', '/v1/inventory/groups/pilot/devices', [b, c, 'unknown'])).json).toEqual({
        updated_count: 2,
        matched_count: 2,
      });
      expect((await mg.get('/v1/inventory/groups')).json).toEqual(['dev', 'pilot']);
      expect((await mg.get(`/v1/inventory/devices/${a}/group`)).json).toEqual({ group: 'dev' });
      const members = await mg.get('/v1/inventory/groups/pilot/devices');
      expect(members.json).toEqual([b, c]);
      expect(members.headers.get('x-total-count')).toBe('2');
      // Assigning a new group moves the device.
      await mg.call('PUT', `/v1/inventory/devices/${a}/group`, { group: 'pilot' });
      expect((await mg.get('/v1/inventory/groups')).json).toEqual(['pilot']);
      expect((await mg.get('/v1/inventory/groups/dev/devices')).status).toBe(404);
      const search = await mg.call('POST', '/v2/inventory/filters/search', {
        filters: [{ scope: 'system', attribute: 'group', type: '$eq', value: 'pilot' }],
      });
      expect(search.headers.get('x-total-count')).toBe('3');
      expect(search.headers.get('link')).toBeNull();
      expect((await mg.call('DELETE', '/v1/inventory/groups/pilot/devices', [c])).json).toEqual({ updated_count: 1 });
      expect((await mg.call('DELETE', `/v1/inventory/devices/${b}/group/pilot`)).status).toBe(204);
      expect((await mg.call('DELETE', '/v1/inventory/groups/pilot')).json).toEqual({ updated_count: 1 });
      expect((await mg.get('/v1/inventory/groups')).json).toEqual([]);
    });
  });

  it('v2 search: $eq, $nin, identity/id, device_ids, projection, sort; other operators are 400', async () => {
    await withSim({ autoAccept: true }, async (sim, mg) => {
      for (const [mac, name] of [
        ['a', 'v1'],
        ['b', 'v2'],
        ['c', 'v1'],
      ] as const) {
        const d = new SimDevice(sim.url, { mac, artifactName: name });
        await d.authenticate();
        await d.putInventory({});
      }
      const search = (body: unknown) => mg.call('POST', '/v2/inventory/filters/search', body);
      const r = await search({
        filters: [{ scope: 'inventory', attribute: 'artifact_name', type: '$nin', value: ['v2'] }],
        sort: [{ scope: 'identity', attribute: 'mac', order: 'desc' }],
        attributes: [{ scope: 'identity', attribute: 'mac' }],
        per_page: 1,
      });
      expect(r.headers.get('x-total-count')).toBe('2');
      expect(r.json).toEqual([
        {
          id: aUuid,
          updated_ts: anyString,
          attributes: [
            { name: 'mac', value: 'c', scope: 'identity' },
            { name: 'updated_ts', value: anyString, scope: 'system' },
          ],
        },
      ]);
      const id = (r.json as { id: string }[])[0]?.id;
      expect(
        (await search({ filters: [{ scope: 'identity', attribute: 'id', type: '$eq', value: id }] })).json,
      ).toHaveLength(1);
      expect((await search({ device_ids: [id] })).json).toHaveLength(1);
      const gt = await search({ filters: [{ scope: 'inventory', attribute: 'x', type: '$gt', value: 1 }] });
      expect(gt.status).toBe(400);
      errorShape(gt.json);
      const attrs = (await mg.get('/v2/inventory/filters/attributes')).json as {
        name: string;
        scope: string;
        count: number;
      }[];
      expect(attrs).toContainEqual({ name: 'artifact_name', scope: 'inventory', count: 3 });
    });
  });
});

describe('artifacts and releases', () => {
  it('uploads a real artifact (201 + Location), reads its header, rejects duplicates and garbage', async () => {
    await withSim({}, async (sim, mg) => {
      const up = await mg.upload(appV2, 'app.mender', 'second release');
      expect(up.status).toBe(201);
      const id = (up.headers.get('location') ?? '').split('/').pop() ?? '';
      expect(up.headers.get('location')).toBe(`./management/v1/deployments/artifacts/${id}`);
      const a = await mg.get(`/v1/deployments/artifacts/${id}`);
      expect(a.json).toMatchObject({
        id,
        name: 'app-2.0',
        description: 'second release',
        device_types_compatible: ['vanpc'],
        info: { format: 'mender', version: 3 },
        signed: false,
        size: appV2.length,
        artifact_provides: { artifact_name: 'app-2.0' },
        artifact_depends: { device_type: ['vanpc'], 'vancore.hw': 'gen2' },
        updates: [{ type_info: { type: 'vancore-compose' }, files: [{ name: 'docker-compose.yml', size: 13 }] }],
      });
      const dup = await mg.upload(appV2);
      expect(dup.status).toBe(409);
      expect(dup.json).toMatchObject({
        error: 'An artifact with the same name has conflicting dependencies',
        metadata: { artifact_id: id },
      });
      for (const garbage of [Buffer.from('definitely not an artifact'), appV1.subarray(0, 3000), Buffer.alloc(0)]) {
        const r = await mg.upload(garbage);
        expect(r.status).toBe(400);
        errorShape(r.json);
      }
      const notMultipart = await mg.call('POST', '/v1/deployments/artifacts', { artifact: 'x' });
      expect(notMultipart.status).toBe(400);
      expect((await mg.upload(appV1)).status).toBe(201);

      const list = await mg.get('/v1/deployments/artifacts/list?name=APP-&per_page=1');
      expect(list.headers.get('x-total-count')).toBe('2');
      expect((list.json as { name: string }[]).map((x) => x.name)).toEqual(['app-1.0']);
      expect((await mg.get('/v1/deployments/artifacts/list?name=2.0')).json).toHaveLength(1);

      const link = await mg.get(`/v1/deployments/artifacts/${id}/download`);
      const { uri, expire } = link.json as { uri: string; expire: string };
      expect(Date.parse(expire) - Date.now()).toBeGreaterThan(14 * 60 * 1000);
      const dl = await fetch(uri);
      expect(dl.status).toBe(200);
      expect(dl.headers.get('content-length')).toBe(String(appV2.length));
      expect(Buffer.from(await dl.arrayBuffer()).equals(appV2)).toBe(true);
      const part = await fetch(uri, { headers: { Range: 'bytes=0-9' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 0-9/${appV2.length}`);
      expect((await fetch(uri.replace(/x-men-signature=[0-9a-f]+/, 'x-men-signature=00'))).status).toBe(403);

      const rel = await mg.get('/v2/deployments/deployments/releases?name=app');
      expect(rel.headers.get('x-total-count')).toBe('2');
      expect((rel.json as { name: string; artifacts: unknown[] }[]).map((r) => r.name)).toEqual(['app-1.0', 'app-2.0']);
      expect((await mg.call('PUT', '/v2/deployments/deployments/releases/app-2.0/tags', ['Stable'])).status).toBe(204);
      expect((await mg.get('/v2/deployments/deployments/releases?tag=stable')).json).toMatchObject([
        { name: 'app-2.0', tags: ['stable'] },
      ]);
      expect((await mg.get('/v2/deployments/releases/all/types')).json).toEqual(['vancore-compose']);

      expect((await mg.call('DELETE', `/v1/deployments/artifacts/${id}`)).status).toBe(204);
      expect((await mg.get(`/v1/deployments/artifacts/${id}`)).status).toBe(404);
      expect((await mg.get('/v1/deployments/artifacts/not-a-uuid')).status).toBe(400);
    });
  });
});

describe('deployments', () => {
  it('runs the whole lifecycle the way mender-client 3.4 drives it', async () => {
    await withSim({}, async (sim, mg) => {
      await mg.upload(appV2);
      const { dev, id } = await acceptedDevice(sim, mg, '02:00:00:00:00:01');
      const { dev: other, id: otherId } = await acceptedDevice(sim, mg, '02:00:00:00:00:02');
      expect((await dev.next()).status).toBe(204);

      const create = await mg.call('POST', '/v1/deployments/deployments', {
        name: 'wave 1',
        artifact_name: 'app-2.0',
        devices: [id, otherId],
        phases: [{ batch_size: 10 }],
        retries: 3,
      });
      expect(create.status).toBe(201);
      const depId = (create.headers.get('location') ?? '').split('/').pop() ?? '';
      expect(create.headers.get('location')).toBe(`./management/v1/deployments/deployments/${depId}`);
      expect((await mg.get(`/v1/deployments/deployments/${depId}`)).json).toMatchObject({
        status: 'pending',
        device_count: 0,
        max_devices: 2,
      });
      expect((await mg.get(`/v1/deployments/deployments/${depId}/device_list`)).json).toEqual([id, otherId]);

      const v2 = await http(`${sim.url}/api/devices/v2/deployments/device/deployments/next`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${dev.token ?? ''}`, 'Content-Type': 'application/json' },
        body: '{"device_provides":{"device_type":"vanpc"},"update_control_map":true}',
      });
      expect(v2.status).toBe(404);
      const next = await dev.next();
      expect(next.status).toBe(200);
      expect(next.json).toMatchObject({
        id: depId,
        artifact: { artifact_name: 'app-2.0', device_types_compatible: ['vanpc'], source: { uri: anyString } },
      });
      // GET gives the same deployment (a fresh presigned link each time, as Mender does).
      expect((await dev.next('get')).json).toMatchObject({ id: depId, artifact: { artifact_name: 'app-2.0' } });
      const uri = (next.json as { artifact: { source: { uri: string } } }).artifact.source.uri;
      const dl = await fetch(uri);
      expect(dl.headers.get('content-length')).toBe(String(appV2.length));
      await dl.arrayBuffer();

      for (const [status, substate] of [
        ['downloading', 'Executing script: Download_Enter_00'],
        ['downloading', undefined],
        ['installing', undefined],
        ['rebooting', 'Executing script: ArtifactCommit_Enter_00'],
        ['installing', undefined],
        ['success', undefined],
      ] as const) {
        const r = await dev.status(depId, status, substate);
        expect(r.status).toBe(204);
        expect(r.text).toBe('');
      }
      expect((await dev.status(depId, 'bogus')).status).toBe(400);
      expect((await dev.status('00000000-0000-4000-8000-000000000000', 'success')).status).toBe(404);

      expect((await other.next()).status).toBe(200);
      await other.status(depId, 'downloading');
      await other.status(depId, 'failure');
      expect(
        (await other.log(depId, [{ timestamp: '2026-11-22T10:00:00Z', level: 'error', message: 'gate said no' }]))
          .status,
      ).toBe(204);

      const dep = await mg.get(`/v1/deployments/deployments/${depId}`);
      expect(dep.json).toMatchObject({
        status: 'finished',
        device_count: 2,
        max_devices: 2,
        statistics: { status: { success: 1, failure: 1 }, total_size: appV2.length * 2 },
      });
      expect((await mg.get(`/v1/deployments/deployments/${depId}/statistics`)).json).toMatchObject({
        success: 1,
        failure: 1,
      });
      const successAndFailure: unknown = expect.objectContaining({ success: 1, failure: 1 });
      expect(
        (await mg.call('POST', '/v1/deployments/deployments/statistics/list', { deployment_ids: [depId] })).json,
      ).toEqual([{ id: depId, stats: successAndFailure }]);
      const failed = await mg.get(`/v1/deployments/deployments/${depId}/devices/list?status=failure`);
      expect(failed.headers.get('x-total-count')).toBe('1');
      expect(failed.json).toMatchObject([{ id: otherId, status: 'failure', log: true, image: { name: 'app-2.0' } }]);
      const log = await mg.get(`/v1/deployments/deployments/${depId}/devices/${otherId}/log`);
      expect(log.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(log.text).toBe('2026-11-22 10:00:00 +0000 UTC error: gate said no\n');
      expect((await mg.get(`/v1/deployments/deployments/${depId}/devices/${id}/log`)).status).toBe(404);

      const history = await mg.get(`/v1/deployments/deployments/devices/${id}`);
      expect(history.json).toMatchObject([{ deployment: { id: depId }, device: { id, status: 'success' } }]);
      expect((await mg.get(`/v1/deployments/deployments/devices/${id}?per_page=21`)).status).toBe(400);
      expect((await mg.get('/v1/deployments/deployments?status=finished')).json).toHaveLength(1);
      expect((await mg.call('PUT', `/v1/deployments/deployments/${depId}/status`, { status: 'aborted' })).status).toBe(
        422,
      );
    });
  });

  it('abort: a device in the middle gets 409 on its next report and stays aborted', async () => {
    await withSim({}, async (sim, mg) => {
      await mg.upload(appV2);
      const { dev, id } = await acceptedDevice(sim, mg, 'a');
      const create = await mg.call('POST', '/v1/deployments/deployments', {
        name: 'x',
        artifact_name: 'app-2.0',
        devices: [id],
      });
      const depId = (create.headers.get('location') ?? '').split('/').pop() ?? '';
      await dev.next();
      expect((await dev.status(depId, 'downloading')).status).toBe(204);
      expect((await mg.call('PUT', `/v1/deployments/deployments/${depId}/status`, { status: 'pending' })).status).toBe(
        400,
      );
      expect((await mg.call('PUT', `/v1/deployments/deployments/${depId}/status`, { status: 'aborted' })).status).toBe(
        204,
      );
      expect((await dev.status(depId, 'installing')).status).toBe(409);
      expect((await dev.status(depId, 'failure')).status).toBe(409);
      expect(
        (await dev.log(depId, [{ timestamp: '2026-11-22T10:00:00Z', level: 'info', message: 'rolled back' }])).status,
      ).toBe(204);
      expect((await dev.next()).status).toBe(204);
      expect((await mg.get(`/v1/deployments/deployments/${depId}`)).json).toMatchObject({
        status: 'finished',
        statistics: { status: { aborted: 1 } },
      });
    });
  });

  it('deploys to a group and to all devices (targets fixed at creation), and checks its input', async () => {
    await withSim({ autoAccept: true }, async (sim, mg) => {
      await mg.upload(appV2);
      const a = new SimDevice(sim.url, { mac: 'a', artifactName: 'app-2.0' });
      const b = new SimDevice(sim.url, { mac: 'b', deviceType: 'truck' });
      await a.authenticate();
      await b.authenticate();
      const ids = ((await mg.get('/v1/inventory/devices?sort=identity/mac:asc')).json as { id: string }[]).map(
        (d) => d.id,
      );
      const post = (path: string, body: unknown) => mg.call('POST', `/v1/deployments/deployments${path}`, body);
      expect((await post('/group/pilot', { name: 'p', artifact_name: 'app-2.0' })).status).toBe(400);
      await mg.call('PATCH', '/v1/inventory/groups/pilot/devices', ids);
      const g = await post('/group/pilot', { name: 'p', artifact_name: 'app-2.0' });
      expect(g.status).toBe(201);
      const gid = (g.headers.get('location') ?? '').split('/').pop() ?? '';
      expect((await mg.get(`/v1/deployments/deployments/${gid}`)).json).toMatchObject({
        groups: ['pilot'],
        max_devices: 2,
      });
      // a runs app-2.0 already; b's device type has no artifact.
      expect((await a.next()).status).toBe(204);
      expect((await b.next()).status).toBe(204);
      expect((await mg.get(`/v1/deployments/deployments/${gid}`)).json).toMatchObject({
        status: 'finished',
        statistics: { status: { 'already-installed': 1, noartifact: 1 } },
      });
      const all = await post('', {
        name: 'all',
        artifact_name: 'app-2.0',
        all_devices: true,
        force_installation: true,
      });
      expect(all.status).toBe(201);
      expect((await a.next()).status).toBe(200);

      for (const [body, status] of [
        [{ name: 'x', artifact_name: 'nope', devices: ['d'] }, 422],
        [{ name: 'x', artifact_name: 'app-2.0', devices: ['d'], all_devices: true }, 400],
        [{ name: 'x', artifact_name: 'app-2.0' }, 400],
        [{ name: '', artifact_name: 'app-2.0', devices: ['d'] }, 400],
        [{ name: 1, artifact_name: 'app-2.0', devices: ['d'] }, 400],
        [[], 400],
      ] as const) {
        const r = await post('', body);
        expect(r.status, JSON.stringify(body)).toBe(status);
        errorShape(r.json);
      }
      // An explicit list is not validated.
      expect((await post('', { name: 'ghost', artifact_name: 'app-2.0', devices: ['no-such-device'] })).status).toBe(
        201,
      );
    });
  });
});

describe('bad input never crashes it', () => {
  let sim: MenderSim;
  let mg: Mgmt;
  beforeAll(async () => {
    sim = await startMenderSim({ port: 0, autoAccept: true });
    mg = new Mgmt(sim.url, await sim.managementToken());
  });
  afterAll(async () => {
    await sim.close();
  });

  it.each([
    ['POST', '/v1/deployments/deployments', '{"name":', 400],
    ['POST', '/v1/deployments/deployments', 'null', 400],
    ['POST', '/v2/inventory/filters/search', '{"filters":"x"}', 400],
    ['PUT', '/v1/inventory/devices/x/group', '{', 400],
    ['GET', '/v1/deployments/deployments/12345', undefined, 400],
    ['GET', '/v1/deployments/deployments/00000000-0000-4000-8000-000000000000', undefined, 404],
    ['GET', '/v1/deployments/deployments?per_page=501', undefined, 400],
    ['GET', '/v1/deployments/deployments?per_page=0', undefined, 400],
    ['GET', '/v1/deployments/deployments?page=x', undefined, 400],
    ['GET', '/v1/inventory/devices?per_page=1000', undefined, 400],
    ['GET', '/v2/devauth/devices?status=nope', undefined, 400],
    ['GET', '/v1/deployments/deployments?sort=sideways', undefined, 400],
    ['GET', '/v1/no/such/route', undefined, 404],
  ])('%s %s %s → %i in the service shape', async (method, path, body, status) => {
    const r = await http(`${sim.url}/api/management${path}`, {
      method,
      headers: { Authorization: `Bearer ${mg.token}`, 'Content-Type': 'application/json' },
      ...(body !== undefined ? { body } : {}),
    });
    expect(r.status).toBe(status);
    errorShape(r.json);
    expect(r.headers.get('x-men-requestid')).toBe((r.json as { request_id: string }).request_id);
  });

  it('passes a caller X-MEN-RequestID through', async () => {
    const r = await http(`${sim.url}/api/management/v1/inventory/devices`, {
      headers: { Authorization: `Bearer ${mg.token}`, 'X-MEN-RequestID': 'trace-123' },
    });
    expect(r.headers.get('x-men-requestid')).toBe('trace-123');
  });

  it('limits body sizes (413) and unknown content types still parse as JSON', async () => {
    const big = await http(`${sim.url}/api/management/v1/deployments/deployments`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${mg.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(17 * 1024 * 1024), artifact_name: 'y', devices: ['a'] }),
    });
    expect(big.status).toBe(413);
    errorShape(big.json);
    const plain = await http(`${sim.url}/api/management/v1/deployments/deployments`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${mg.token}`, 'Content-Type': 'text/plain' },
      body: '{"name":"x","artifact_name":"none","devices":["a"]}',
    });
    expect(plain.status).toBe(422);
  });

  it('survives a little fuzzing: no 5xx, still serving', async () => {
    let seed = 42;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const paths = [
      '/api/management/v1/deployments/deployments',
      '/api/management/v1/deployments/deployments/group/x',
      '/api/management/v1/deployments/artifacts',
      '/api/management/v1/inventory/devices',
      '/api/management/v1/inventory/groups/x/devices',
      '/api/management/v2/inventory/filters/search',
      '/api/management/v2/devauth/devices',
      '/api/management/v1/useradm/settings/tokens',
      '/api/devices/v1/authentication/auth_requests',
      '/api/devices/v1/inventory/device/attributes',
      '/api/devices/v1/deployments/device/deployments/next',
      '/api/devices/v1/deployments/device/deployments/x/status',
    ];
    const bodies = [
      '',
      '{',
      '[]',
      '{}',
      'null',
      '"x"',
      '[{"name":1}]',
      '{"filters":[{}]}',
      '\u0000\u00ff',
      '{"a":'.repeat(50),
      '[[[[[[[[[[]]]]]]]]]]',
    ];
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
    const dev = new SimDevice(sim.url);
    await dev.authenticate();
    for (let i = 0; i < 300; i++) {
      const path = paths[rnd(paths.length)] ?? '/';
      const method = methods[rnd(methods.length)] ?? 'GET';
      const token = path.startsWith('/api/devices') ? (dev.token ?? '') : mg.token;
      const body = method === 'GET' ? undefined : bodies[rnd(bodies.length)];
      const r = await http(`${sim.url}${path}?per_page=${rnd(3) === 0 ? 'abc' : '5'}`, {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': rnd(4) === 0 ? 'multipart/form-data; boundary=x' : 'application/json',
        },
        ...(body !== undefined ? { body } : {}),
      });
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}`).toBeLessThan(500);
    }
    expect(sim.requests().filter((r) => r.status >= 500)).toEqual([]);
    expect((await mg.get('/v1/inventory/devices')).status).toBe(200);
  });
});

describe('gateway error shape, faults and the request log', () => {
  it('replaces 401–404 bodies on management and device update routes, not 400/409 or auth_requests', async () => {
    await withSim({ profile: '3.7', errorShape: 'gateway' }, async (sim, mg) => {
      const nf = await mg.get('/v1/deployments/deployments/00000000-0000-4000-8000-000000000000');
      expect(nf.status).toBe(404);
      expect(nf.json).toEqual({ error: { status_code: 404, message: 'Not Found' } });
      const unauth = await http(`${sim.url}/api/management/v1/inventory/devices`);
      expect(unauth.json).toEqual({ error: { status_code: 401, message: 'Unauthorized' } });
      const bad = await mg.get('/v1/deployments/deployments/not-a-uuid');
      expect(bad.status).toBe(400);
      errorShape(bad.json);
      const dev = new SimDevice(sim.url);
      const pending = await dev.authenticate();
      expect(pending.status).toBe(401);
      errorShape(pending.json);
      const devCall = await dev.next('get');
      expect(devCall.json).toEqual({ error: { status_code: 401, message: 'Unauthorized' } });
    });
  });

  it('fails the next N matching requests with the injected status and Retry-After', async () => {
    await withSim({}, async (sim, mg) => {
      sim.clearRequests();
      sim.injectFaults({ match: /\/inventory\/devices$/, status: 429, count: 2, retryAfterSeconds: 7 });
      const one = await mg.get('/v1/inventory/devices');
      expect(one.status).toBe(429);
      expect(one.headers.get('retry-after')).toBe('7');
      errorShape(one.json);
      expect((await mg.get('/v1/inventory/devices')).status).toBe(429);
      expect((await mg.get('/v1/inventory/devices')).status).toBe(200);
      expect((await mg.get('/v1/deployments/deployments')).status).toBe(200);
      expect(sim.requests().map((r) => [r.method, r.path, r.status])).toEqual([
        ['GET', '/api/management/v1/inventory/devices', 429],
        ['GET', '/api/management/v1/inventory/devices', 429],
        ['GET', '/api/management/v1/inventory/devices', 200],
        ['GET', '/api/management/v1/deployments/deployments', 200],
      ]);
      expect(Date.parse(sim.requests()[0]?.at ?? '')).not.toBeNaN();
    });
  });
});

describe('persistence', () => {
  it('keeps devices, tokens, artifacts and deployments across a restart', async () => {
    const stateFile = join(dir, 'state', 'sim.json');
    let token = '';
    let depId = '';
    let id = '';
    await withSim({ stateFile }, async (sim, mg) => {
      await mg.upload(appV2);
      const acc = await acceptedDevice(sim, mg, 'keep');
      id = acc.id;
      token = acc.dev.token ?? '';
      const c = await mg.call('POST', '/v1/deployments/deployments', {
        name: 'd',
        artifact_name: 'app-2.0',
        devices: [id],
      });
      depId = (c.headers.get('location') ?? '').split('/').pop() ?? '';
      await acc.dev.next();
      await acc.dev.status(depId, 'downloading');
    });
    await withSim({ stateFile }, async (sim, mg) => {
      expect((await mg.get(`/v1/deployments/deployments/${depId}`)).json).toMatchObject({
        status: 'inprogress',
        statistics: { status: { downloading: 1 } },
      });
      const dev = new SimDevice(sim.url, { mac: 'keep' });
      dev.token = token;
      const next = await dev.next();
      expect(next.status).toBe(200);
      const uri = (next.json as { artifact: { source: { uri: string } } }).artifact.source.uri;
      expect(uri.startsWith(sim.url)).toBe(true);
      expect((await fetch(uri)).headers.get('content-length')).toBe(String(appV2.length));
      expect((await dev.status(depId, 'success')).status).toBe(204);
    });
  });
});
