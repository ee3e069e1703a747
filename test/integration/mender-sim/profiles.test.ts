// Conformance of the simulator's two profiles with Mender's server CODE (issue #14): one test per
// behaviour, each naming the source file it follows. Where the code and the spec disagree the code
// wins, and the test says so. 3.7 = the service repos at their Mender 3.7 tags (deployments 4.6,
// inventory 4.4, deviceauth 3.6); 4.1 = mendersoftware/mender-server v4.1.x (backend/services/...).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../core/clock.js';
import { startMenderSim, type MenderProfile, type MenderSim } from '../../../mender-sim/index.js';
import { Mgmt, SimDevice, buildArtifact, http } from '../../../mender-sim/testkit.js';
import { runCli } from '../../helpers/cli.js';

const execFileP = promisify(execFile);
const META = { vancore: { component: 'platform', version: '0.9.2', requires: { platform: '>=0.9.0' } } };

let dir: string;
let withMeta: Buffer;
let hwGen1: Buffer;
let hwGen2: Buffer;
let hwGen2Again: Buffer;
let formatV2: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-sim-profiles-'));
  const sub = async (name: string): Promise<string> => mkdtemp(join(dir, `${name}-`));
  withMeta = await readFile(await buildArtifact(await sub('m'), { name: 'platform-0.9.2', metaData: META }));
  hwGen1 = await readFile(await buildArtifact(await sub('a'), { name: 'app-1.0', depends: { 'vancore.hw': 'gen1' } }));
  hwGen2 = await readFile(await buildArtifact(await sub('b'), { name: 'app-1.0', depends: { 'vancore.hw': 'gen2' } }));
  hwGen2Again = await readFile(
    await buildArtifact(await sub('c'), { name: 'app-1.0', depends: { 'vancore.hw': 'gen2' }, files: { x: 'y\n' } }),
  );
  const v2dir = await sub('v2');
  await execFileP('sh', ['-c', `head -c 4096 /dev/urandom > ${v2dir}/rootfs.img`]);
  await execFileP('mender-artifact', [
    'write',
    'rootfs-image',
    '-v',
    '2',
    '-t',
    'vanpc',
    '-n',
    'legacy-v2',
    '-f',
    join(v2dir, 'rootfs.img'),
    '-o',
    join(v2dir, 'legacy.mender'),
  ]);
  formatV2 = await readFile(join(v2dir, 'legacy.mender'));
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function withSim<T>(
  opts: Parameters<typeof startMenderSim>[0],
  f: (sim: MenderSim, mg: Mgmt) => Promise<T>,
): Promise<T> {
  const sim = await startMenderSim({ port: 0, autoAccept: true, ...opts });
  try {
    return await f(sim, new Mgmt(sim.url, await sim.managementToken()));
  } finally {
    await sim.close();
  }
}

const idOf = (r: { headers: Headers }): string => (r.headers.get('location') ?? '').split('/').pop() ?? '';
type Json = Record<string, unknown>;
const updatesOf = (a: unknown): Json[] => (a as { updates: Json[] }).updates;

describe('profiles', () => {
  it('default profile is 4.1; an unknown profile and the 3.x gateway error shape on 4.1 are refused', async () => {
    await withSim({}, (sim) => {
      expect(sim.profile).toBe('4.1');
      return Promise.resolve();
    });
    await expect(startMenderSim({ profile: '5.0' as MenderProfile })).rejects.toThrow(/unknown profile '5.0'/);
    // mender-server 4.x has no Traefik `errors` middleware: service bodies pass unchanged.
    await expect(startMenderSim({ errorShape: 'gateway' })).rejects.toThrow(/3.x Traefik gateway/);
    const cli = runCli(['mender-sim', '--mender', '3.8']);
    expect([cli.code, cli.stderr.trim()]).toEqual([
      2,
      expect.stringContaining("--mender must be 4.1 or 3.7, got '3.8'"),
    ]);
    const gw = runCli(['mender-sim', '--error-shape', 'gateway']);
    expect(gw.code).toBe(2);
    expect(gw.stderr).toContain('use it with --mender 3.7');
  });
});

describe('updates[].meta_data (artifact built with mender-artifact -m)', () => {
  it('3.7: a Key/Value list all the way down [deployments 4.6 model/update.go: MetaData interface{} ← primitive.D]', async () => {
    await withSim({ profile: '3.7' }, async (_sim, mg) => {
      const id = idOf(await mg.upload(withMeta));
      const [u] = updatesOf((await mg.get(`/v1/deployments/artifacts/${id}`)).json);
      // The 3.7 spec says `meta_data: object`; the code sends the mongo driver's D form, nested too. Key
      // order is Go map order on a real server (none fixed), so the lists are compared as sets.
      const vancore = (u?.meta_data as { Key: string; Value: unknown }[])[0];
      expect(vancore?.Key).toBe('vancore');
      expect(vancore?.Value).toEqual(
        expect.arrayContaining([
          { Key: 'component', Value: 'platform' },
          { Key: 'version', Value: '0.9.2' },
          { Key: 'requires', Value: [{ Key: 'platform', Value: '>=0.9.0' }] },
        ]),
      );
      expect(u?.meta_data).toHaveLength(1);
      expect(vancore?.Value).toHaveLength(3);
      expect(u).not.toHaveProperty('metadata');
    });
  });

  it('4.1: `metadata` is the object, `meta_data` one Key/Value per top-level key [mender-server backend/services/deployments/model/update.go MarshalJSON]', async () => {
    await withSim({ profile: '4.1' }, async (_sim, mg) => {
      const id = idOf(await mg.upload(withMeta));
      for (const path of [
        `/v1/deployments/artifacts/${id}`,
        '/v1/deployments/artifacts/list',
        '/v2/deployments/artifacts',
      ]) {
        const body = (await mg.get(path)).json;
        const art = Array.isArray(body) ? (body[0] as unknown) : body;
        const [u] = updatesOf(art);
        expect(u?.metadata).toEqual(META);
        expect(u?.meta_data).toEqual([{ Key: 'vancore', Value: META.vancore }]);
      }
    });
  });

  it.each(['3.7', '4.1'] as MenderProfile[])('%s: no meta-data → neither field (omitempty)', async (profile) => {
    await withSim({ profile }, async (_sim, mg) => {
      const id = idOf(await mg.upload(hwGen1));
      const [u] = updatesOf((await mg.get(`/v1/deployments/artifacts/${id}`)).json);
      expect(u).not.toHaveProperty('meta_data');
      expect(u).not.toHaveProperty('metadata');
    });
  });
});

describe.each(['3.7', '4.1'] as MenderProfile[])('both lines agree (Mender %s)', (profile) => {
  it('`-d key:value` depends stay a string; device_type is always in artifact_depends [mender-artifact areader MergeArtifactDepends; deployments model/image.go Validate]', async () => {
    await withSim({ profile }, async (_sim, mg) => {
      const id = idOf(await mg.upload(hwGen1));
      const a = (await mg.get(`/v1/deployments/artifacts/${id}`)).json as Json;
      expect(a.artifact_depends).toEqual({ device_type: ['vanpc'], 'vancore.hw': 'gen1' });
    });
  });

  it('same name + device type with other depends is accepted; a shared combination is 409 [deployments model/image.go depends_idx unique index]', async () => {
    await withSim({ profile }, async (_sim, mg) => {
      expect((await mg.upload(hwGen1)).status).toBe(201);
      expect((await mg.upload(hwGen2)).status).toBe(201);
      const dup = await mg.upload(hwGen2Again);
      expect(dup.status).toBe(409);
      expect(dup.json).toMatchObject({ error: 'An artifact with the same name has conflicting dependencies' });
      expect(((await mg.get('/v1/deployments/artifacts?name=app-1.0')).json as unknown[]).length).toBe(2);
    });
  });

  it('format-version-2 artifacts are accepted [deployments model/image.go ArtifactInfo.Validate: In(1, 2, 3)]', async () => {
    await withSim({ profile }, async (_sim, mg) => {
      const up = await mg.upload(formatV2);
      expect(up.status, up.text).toBe(201);
      const a = (await mg.get(`/v1/deployments/artifacts/${idOf(up)}`)).json as Json;
      expect(a).toMatchObject({
        name: 'legacy-v2',
        info: { format: 'mender', version: 2 },
        device_types_compatible: ['vanpc'],
        artifact_depends: { device_type: ['vanpc'] },
        updates: [{ type_info: { type: 'rootfs-image' }, files: [{ name: 'rootfs.img', size: 4096 }] }],
      });
      // Only version 3 has provides (app.go getMetaFromArchive).
      expect(a).not.toHaveProperty('artifact_provides');
    });
  });

  it('the multipart `size` field is enforced [deployments api/http ParseMultipart: utils.ReadExactly]', async () => {
    await withSim({ profile }, async (sim, mg) => {
      const send = (size: string) => {
        const form = new FormData();
        form.append('size', size);
        form.append('artifact', new Blob([hwGen1]), 'a.mender');
        return http(`${sim.url}/api/management/v1/deployments/artifacts`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${mg.token}` },
          body: form,
        });
      };
      expect((await send(String(hwGen1.length + 1))).status).toBe(400);
      expect((await send(String(hwGen1.length - 1))).status).toBe(400);
      expect((await send('lots')).status).toBe(400);
      expect((await send(String(hwGen1.length))).status).toBe(201);
    });
  });

  it('an empty description is omitted [deployments model/image.go ImageMeta `description,omitempty`]', async () => {
    await withSim({ profile }, async (_sim, mg) => {
      const id = idOf(await mg.upload(hwGen1));
      expect((await mg.get(`/v1/deployments/artifacts/${id}`)).json).not.toHaveProperty('description');
      await mg.call('PUT', `/v1/deployments/artifacts/${id}`, { description: 'now set' });
      expect((await mg.get(`/v1/deployments/artifacts/${id}`)).json).toMatchObject({ description: 'now set' });
    });
  });

  // ?status: mender-server backend/services/deployments/api/http/api_deployments.go ParseLookupQuery
  // accepts `aborted` (400 "unknown status X" otherwise); deployments store/mongo/datastore_mongo.go
  // `Find` maps every status query other than pending/inprogress to `status: finished`, so `aborted`
  // lists all finished deployments — aborted or completed alike.
  it('deployments: abort of an unknown id 422, statistics of [] 200 {}, non-UUID ids 400, ?status=aborted = finished [deployments api/http AbortDeployment, GetDeploymentsStats, ParseLookupQuery; store/mongo Find]', async () => {
    await withSim({ profile }, async (sim, mg) => {
      const unknown = '00000000-0000-4000-8000-000000000000';
      const abort = await mg.call('PUT', `/v1/deployments/deployments/${unknown}/status`, { status: 'aborted' });
      expect(abort.status).toBe(422); // IsDeploymentFinished is true when no unfinished deployment matches
      const empty = await mg.call('POST', '/v1/deployments/deployments/statistics/list', { deployment_ids: [] });
      expect([empty.status, empty.json]).toEqual([200, {}]); // the spec documents an array
      const bad = await mg.call('POST', '/v1/deployments/deployments/statistics/list', { deployment_ids: ['x'] });
      expect(bad.status).toBe(400);

      await mg.upload(hwGen1);
      const van = new SimDevice(sim.url, { mac: '02:00:00:00:0e:05', keyKind: 'rsa' });
      await van.authenticate();
      await van.putInventory({ 'vancore.hw': 'gen1' });
      const vanId = ((await mg.get('/v2/devauth/devices')).json as Json[])[0]?.id as string;
      const done = idOf(
        await mg.call('POST', '/v1/deployments/deployments', {
          name: 'wave 0',
          artifact_name: 'app-1.0',
          devices: [vanId],
        }),
      );
      expect((await van.next()).status).toBe(200);
      expect((await van.status(done, 'success')).status).toBe(204);
      const dep = await mg.call('POST', '/v1/deployments/deployments', {
        name: 'wave 1',
        artifact_name: 'app-1.0',
        devices: ['11111111-1111-4111-8111-111111111111'],
      });
      const other = await mg.call('POST', '/v1/deployments/deployments', {
        name: 'wave 2',
        artifact_name: 'app-1.0',
        devices: ['11111111-1111-4111-8111-111111111111'],
      });
      expect(
        (await mg.call('PUT', `/v1/deployments/deployments/${idOf(dep)}/status`, { status: 'aborted' })).status,
      ).toBe(204);
      const aborted = await mg.get('/v1/deployments/deployments?status=aborted');
      expect(aborted.status).toBe(200); // the spec lists pending|inprogress|finished only
      expect((aborted.json as Json[]).map((d) => d.id)).toEqual([idOf(dep), done]); // the completed one too
      const finished = await mg.get('/v1/deployments/deployments?status=finished');
      expect((finished.json as Json[]).map((d) => d.id)).toEqual([idOf(dep), done]);
      const wrong = await mg.get('/v1/deployments/deployments?status=bogus');
      expect([wrong.status, (wrong.json as Json).error]).toEqual([400, 'unknown status bogus']);
      expect((await mg.get('/v1/deployments/deployments?type=bogus')).status).toBe(400);
      expect((await mg.get('/v1/deployments/deployments?sort=ASC')).status).toBe(200);
      expect(((await mg.get('/v1/deployments/deployments?status=pending')).json as Json[]).map((d) => d.id)).toEqual([
        idOf(other),
      ]);
    });
  });

  // mender-server backend/services/deployments/store/mongo/datastore_mongo.go (and the 3.7-era
  // deployments store/mongo) `Find`: `{$text: {$search: match.SearchText}}` — not quoted, so MongoDB
  // matches ANY of the words (whole words, case-insensitive; real servers also stem, the simulator not).
  it('deployment search matches any of its words, whole words, over name and artifact name [deployments store/mongo Find: $text unquoted]', async () => {
    await withSim({ profile }, async (_sim, mg) => {
      await mg.upload(hwGen1);
      for (const name of ['pilot wave one', 'fleet rollout', 'pilots only']) {
        await mg.call('POST', '/v1/deployments/deployments', {
          name,
          artifact_name: 'app-1.0',
          devices: ['11111111-1111-4111-8111-111111111111'],
        });
      }
      const names = async (q: string): Promise<unknown[]> =>
        ((await mg.get(`/v1/deployments/deployments?search=${encodeURIComponent(q)}`)).json as Json[])
          .map((d) => d.name)
          .sort();
      expect(await names('PILOT')).toEqual(['pilot wave one']); // whole words (no stemming here)
      expect(await names('wave fleet')).toEqual(['fleet rollout', 'pilot wave one']); // any word
      expect(await names('fleet nothing')).toEqual(['fleet rollout']);
      expect(await names('app')).toEqual(['fleet rollout', 'pilot wave one', 'pilots only']); // app-1.0 → app, 1, 0
      expect(await names('roll')).toEqual([]); // no substrings
    });
  });

  it('the per-device list of a deployment has the artifact flat, no meta/meta_artifact, no device_type [deployments model/device_deployment.go]', async () => {
    await withSim({ profile }, async (sim, mg) => {
      await mg.upload(hwGen1);
      const dev = new SimDevice(sim.url, { mac: '02:00:00:00:0e:01', keyKind: 'rsa' });
      await dev.authenticate();
      await dev.putInventory({ 'vancore.hw': 'gen1' });
      const devId = ((await mg.get('/v2/devauth/devices')).json as Json[])[0]?.id as string;
      const dep = idOf(
        await mg.call('POST', '/v1/deployments/deployments', { name: 'x', artifact_name: 'app-1.0', devices: [devId] }),
      );
      expect((await dev.next()).status).toBe(200);
      for (const path of [
        `/v1/deployments/deployments/${dep}/devices`,
        `/v1/deployments/deployments/${dep}/devices/list`,
      ]) {
        const [row] = (await mg.get(path)).json as Json[];
        expect(row).toMatchObject({ id: devId, status: 'pending', image: { name: 'app-1.0' } });
        expect(row).not.toHaveProperty('device_type');
        expect(row?.image).not.toHaveProperty('meta');
        expect(row?.image).not.toHaveProperty('meta_artifact');
        expect(row?.image).toHaveProperty('artifact_depends', { device_type: ['vanpc'], 'vancore.hw': 'gen1' });
      }
    });
  });

  // Confirmed in mender-server backend/services/inventory/model/device.go (read at fa76d1af):
  // DeviceAttribute.Validate → validateDeviceAttrVal accepts only float64, string, or a slice of one of
  // them; nil is refused ("supported types are string, float64, and arrays thereof");
  // validateDeviceAttrValArray accepts an empty list and refuses a list of mixed types.
  it('inventory: boolean and null values are refused 400; lists of strings or numbers are fine [mender-server inventory model/device.go validateDeviceAttrVal]', async () => {
    await withSim({ profile }, async (sim) => {
      const dev = new SimDevice(sim.url, { mac: '02:00:00:00:0e:02', keyKind: 'rsa' });
      await dev.authenticate();
      expect((await dev.putInventory({ 'vancore.health.shore_power': true })).status).toBe(400);
      expect((await dev.putInventory({ flags: [true, false] })).status).toBe(400);
      expect((await dev.putInventory({ gone: null })).status).toBe(400);
      expect((await dev.putInventory({ mixed: ['a', 1] })).status).toBe(400);
      expect((await dev.putInventory({ none: [] })).status).toBe(200);
      expect(
        (await dev.putInventory({ 'vancore.health.shore_power': 'true', ifaces: ['wlan0'], soc: 80 })).status,
      ).toBe(200);
    });
  });

  // Tags, 4.1: mender-server backend/services/inventory/store/mongo/datastore_mongo.go
  // UpsertDevicesAttributesWithUpdated (`withUpdated := scope == model.AttrScopeInventory`), reached from
  // api/http/api_inventory.go UpdateDeviceTagsHandler. Groups, every version read (mender-server and
  // mendersoftware/inventory): UpdateDevicesGroup `$set`s the group attribute only. deviceauth, 4.1:
  // backend/services/deviceauth/devauth/devauth.go VerifyToken → updateCheckInTime → store UpdateDevice,
  // which sets UpdatedTs on every write (without the optional Redis cache). NOT confirmed for 3.7: tags —
  // the nearest stored mendersoftware/inventory datastore_mongo.go (DbVersion 1.0.2) sets updated_ts on
  // every UpsertDevicesAttributesWithUpdated, i.e. also on PATCH tags (PUT tags skips it). See
  // docs/simulator.md.
  it('inventory updated_ts moves only when the device reports, not on tag or group changes; deviceauth updated_ts follows check-ins [inventory store/mongo UpsertDevicesAttributesWithUpdated, UpdateDevicesGroup; deviceauth devauth.go updateCheckInTime]', async () => {
    const clock = new ManualClock('2026-11-22T10:00:00Z');
    await withSim({ profile, clock }, async (sim, mg) => {
      const dev = new SimDevice(sim.url, { mac: '02:00:00:00:0e:03', keyKind: 'rsa' });
      await dev.authenticate();
      await dev.putInventory({ soc: 80 });
      const id = ((await mg.get('/v2/devauth/devices')).json as Json[])[0]?.id as string;
      const invTs = async (): Promise<unknown> =>
        ((await mg.get(`/v1/inventory/devices/${id}`)).json as Json).updated_ts;
      const authTs = async (): Promise<unknown> =>
        ((await mg.get(`/v2/devauth/devices/${id}`)).json as Json).updated_ts;
      expect(await invTs()).toBe('2026-11-22T10:00:00.000Z');

      clock.advance(60_000);
      await mg.call('PATCH', `/v1/inventory/devices/${id}/tags`, [{ name: 'ring', value: 'pilot' }]);
      await mg.call('PUT', `/v1/inventory/devices/${id}/group`, { group: 'pilot' });
      expect(await invTs()).toBe('2026-11-22T10:00:00.000Z');

      clock.advance(60_000);
      expect((await dev.next()).status).toBe(204); // a check-in with the device token
      expect(await authTs()).toBe('2026-11-22T10:02:00.000Z');
      expect(await invTs()).toBe('2026-11-22T10:00:00.000Z');
      await dev.putInventory({ soc: 79 }, 'PATCH');
      expect(await invTs()).toBe('2026-11-22T10:02:00.000Z');
    });
  });

  // Confirmed on the nearest stored deviceauth utils/crypto.go of the 3.7 era (Copyright 2023 header;
  // ParsePubKey → x509.ParsePKIXPublicKey, any PKIX key type; VerifyAuthReqSign: RSA PKCS#1 v1.5 and
  // ECDSA over SHA256, `case ed25519.PublicKey: ed25519.Verify(key, content, sig)` over the raw body).
  // Ed25519 device keys were not 4.1-only: deviceauth verified them before the monorepo.
  it('Ed25519, ECDSA and RSA device keys are accepted and their signatures verified [deviceauth utils/crypto.go VerifyAuthReqSign]', async () => {
    for (const keyKind of ['ed25519', 'ec', 'rsa'] as const) {
      await withSim({ profile, verifySignatures: true }, async (sim) => {
        const dev = new SimDevice(sim.url, { keyKind });
        expect((await dev.authenticate({ badSignature: true })).status, keyKind).toBe(401);
        expect((await dev.authenticate()).status, keyKind).toBe(200);
      });
    }
  });
});

describe('4.1 only', () => {
  it('an unchanged inventory report on the same UTC day does not move updated_ts; a changed value, a removed attribute or a new day does [mender-server inventory inv/inventory.go needsUpsert]', async () => {
    const clock = new ManualClock('2026-11-22T10:00:00Z');
    await withSim({ profile: '4.1', clock }, async (sim, mg) => {
      const dev = new SimDevice(sim.url, { mac: '02:00:00:00:0e:04', keyKind: 'rsa' });
      await dev.authenticate();
      const id = ((await mg.get('/v2/devauth/devices')).json as Json[])[0]?.id as string;
      const invTs = async (): Promise<unknown> =>
        ((await mg.get(`/v1/inventory/devices/${id}`)).json as Json).updated_ts;
      expect((await dev.putInventory({ soc: 80, fw: '1.0' })).status).toBe(200);
      expect(await invTs()).toBe('2026-11-22T10:00:00.000Z');
      clock.advance(60_000);
      expect((await dev.putInventory({ soc: 80, fw: '1.0' })).status).toBe(200); // same values: no write
      expect((await dev.putInventory({ soc: 80 }, 'PATCH')).status).toBe(200);
      expect(await invTs()).toBe('2026-11-22T10:00:00.000Z');
      clock.advance(60_000);
      expect((await dev.putInventory({ soc: 80 })).status).toBe(200); // PUT drops fw: a write
      expect(await invTs()).toBe('2026-11-22T10:02:00.000Z');
      clock.advance(60_000);
      await dev.putInventory({ soc: 79 }, 'PATCH');
      expect(await invTs()).toBe('2026-11-22T10:03:00.000Z');
      clock.advance(24 * 3_600_000); // next UTC day: the same values are written again
      await dev.putInventory({ soc: 79 }, 'PATCH');
      expect(await invTs()).toBe('2026-11-23T10:03:00.000Z');
    });
  });

  it('GET /api/management/v2/deployments/deployments: id/name/status filters, sort, pagination [mender-server deployments api/http]; 3.7 has no such route', async () => {
    await withSim({ profile: '4.1' }, async (_sim, mg) => {
      await mg.upload(hwGen1);
      const ids: string[] = [];
      for (const name of ['a', 'b', 'c']) {
        ids.push(
          idOf(
            await mg.call('POST', '/v1/deployments/deployments', {
              name,
              artifact_name: 'app-1.0',
              devices: ['11111111-1111-4111-8111-111111111111'],
            }),
          ),
        );
      }
      const list = async (q: string): Promise<{ status: number; names: unknown[]; total: string | null }> => {
        const r = await mg.get(`/v2/deployments/deployments${q}`);
        const names = Array.isArray(r.json) ? (r.json as Json[]).map((d) => d.name) : [];
        return { status: r.status, names, total: r.headers.get('x-total-count') };
      };
      expect(await list('')).toEqual({ status: 200, names: ['c', 'b', 'a'], total: '3' });
      expect(await list('?sort=asc&per_page=2')).toEqual({ status: 200, names: ['a', 'b'], total: '3' });
      expect((await list(`?id=${ids[0] ?? ''}&id=${ids[2] ?? ''}`)).names).toEqual(['c', 'a']);
      expect((await list('?name=b')).names).toEqual(['b']);
      expect((await list('?status=pending')).names).toEqual(['c', 'b', 'a']);
      expect((await list('?status=finished')).names).toEqual([]);
      expect((await list('?per_page=501')).status).toBe(400);
    });
    await withSim({ profile: '3.7' }, async (_sim, mg) => {
      expect((await mg.get('/v2/deployments/deployments')).status).toBe(404);
    });
  });

  it('GET /api/management/v2/deployments/artifacts: exact or prefix* name, device_type, sorted by name [mender-server deployments model/image.go ImageFilter]; 3.7 has none', async () => {
    await withSim({ profile: '4.1' }, async (_sim, mg) => {
      await mg.upload(hwGen1);
      await mg.upload(withMeta);
      const names = async (q: string): Promise<unknown> => {
        const r = await mg.get(`/v2/deployments/artifacts${q}`);
        return r.status === 200 ? (r.json as Json[]).map((a) => a.name) : r.status;
      };
      expect(await names('')).toEqual(['app-1.0', 'platform-0.9.2']);
      expect(await names('?name=app-1.0')).toEqual(['app-1.0']);
      expect(await names('?name=app')).toEqual([]);
      expect(await names('?name=plat*')).toEqual(['platform-0.9.2']);
      expect(await names('?name=plat*&name=app-1.0')).toBe(400);
      expect(await names('?device_type=van*')).toEqual(['app-1.0', 'platform-0.9.2']);
      expect(await names('?per_page=1')).toEqual(['app-1.0']);
      expect(await names('?per_page=501')).toBe(400);
    });
    await withSim({ profile: '3.7' }, async (_sim, mg) => {
      expect((await mg.get('/v2/deployments/artifacts')).status).toBe(404);
    });
  });

  it('a JSON body over 1 MiB is 413 on 4.1 [mender-server services config SettingMaxRequestSizeDefault = 1 MiB]; 3.7 takes it', async () => {
    const devices = Array.from({ length: 30_000 }, (_v, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const body = { name: 'big', artifact_name: 'app-1.0', devices }; // ~1.4 MB
    expect(JSON.stringify(body).length).toBeGreaterThan(1024 * 1024);
    await withSim({ profile: '4.1' }, async (_sim, mg) => {
      await mg.upload(hwGen1);
      expect((await mg.call('POST', '/v1/deployments/deployments', body)).status).toBe(413);
      expect(
        (await mg.call('POST', '/v1/deployments/deployments', { ...body, devices: devices.slice(0, 1000) })).status,
      ).toBe(201);
    });
    await withSim({ profile: '3.7' }, async (_sim, mg) => {
      await mg.upload(hwGen1);
      expect((await mg.call('POST', '/v1/deployments/deployments', body)).status).toBe(201);
    });
  });
});
