// Contract (Mender 4.1): every response of every simulator endpoint on the 4.1 profile is validated
// against the OpenAPI 3 files of mender-server v4.1.3 (../shared/mender-api-4.1, SOURCES.md), where the
// spec agrees with the code. The flows are the 3.7 contract's (flows.ts) plus the 4.1-only v2 lists; a
// last test proves every registered route was exercised. Code-over-spec places are listed below, each
// with the source file it follows; nothing else is exempt.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSimApp } from '../../mender-sim/app.js';
import { FaultInjector, RequestLog } from '../../mender-sim/faults.js';
import { startMenderSim, type MenderSim } from '../../mender-sim/index.js';
import { SimStore } from '../../mender-sim/store.js';
import { Mgmt, SimDevice, buildArtifact, type HttpResult, type Observer } from '../../mender-sim/testkit.js';
import { deploymentsFlow, deviceauthInventoryFlow, useradmFlow, type FlowEnv } from './flows.js';
import { OpenApiRouter, OpenApiValidator, assertMatchesOpenApi, type OpenApiPatch } from './openapi.js';
import type { Json } from './swagger.js';

const FILES = [
  'useradm/management_v1.yaml',
  'deviceauth/devices_v1.yaml',
  'deviceauth/management_v2.yaml',
  'inventory/devices_v1.yaml',
  'inventory/management_v1.yaml',
  'inventory/management_v2.yaml',
  'deployments/devices_v1.yaml',
  'deployments/management_v1.yaml',
  'deployments/management_v2.yaml',
];

interface Exempt {
  method: string;
  path: RegExp;
  reason: string;
  check: (r: HttpResult) => void;
}

const errorShape = (r: HttpResult): void => {
  const anyString: unknown = expect.any(String);
  expect(r.json).toMatchObject({ error: anyString });
};

/** Whole operations the 4.1 spec files do not describe. */
const EXEMPT_OPERATIONS: Exempt[] = [
  {
    method: 'POST',
    path: /^\/api\/devices\/v1\/deployments\/device\/deployments\/next$/,
    reason: '[code] deployments api/http routes POST v1 next too (client 3.x uses it); validated as GET next.',
    check: (r) =>
      assertMatchesOpenApi(
        validator,
        'deployments/devices_v1.yaml',
        'get',
        '/api/devices/v1/deployments/device/deployments/next',
        r.status,
        r.json,
      ),
  },
  {
    method: 'POST',
    path: /^\/api\/devices\/v2\/deployments\/device\/deployments\/next$/,
    reason: 'The v2 next is Enterprise; OSS answers 404 so clients fall back to v1.',
    check: (r) => {
      expect([401, 404]).toContain(r.status);
      errorShape(r);
    },
  },
  {
    method: 'GET',
    path: /^\/api\/devices\/v2\/deployments\/device\/deployments\/[^/]+\/update_control_map$/,
    reason: 'Update control maps are Enterprise; OSS answers 404.',
    check: (r) => {
      expect([401, 404]).toContain(r.status);
      errorShape(r);
    },
  },
  {
    method: '*',
    path: /^\/api\/storage\/v1\/artifacts\//,
    reason: 'Presigned artifact links stand in for S3/MinIO; not a Mender service API.',
    check: () => undefined,
  },
];

/** Statuses the code returns that an operation's spec does not list; the body must still be an error. */
const EXEMPT_STATUSES: { status: number; applies: (file: string, path: string) => boolean; reason: string }[] = [
  { status: 401, applies: () => true, reason: 'Authentication fails before the handler; several operations omit 401.' },
  {
    status: 400,
    applies: (file, path) => file.startsWith('deployments/') && /\{(id|deployment_id)\}/.test(path),
    reason: '[code] deployments api/http: a malformed UUID is 400 even where the spec omits 400.',
  },
  {
    status: 400,
    applies: (file, path) => file.startsWith('deployments/') && /\/artifacts(\/list)?$|\/releases/.test(path),
    reason: '[code] deployments api/http: bad query values (sort, pagination) are 400.',
  },
  {
    status: 404,
    applies: (file) => file.startsWith('inventory/') || file.startsWith('deviceauth/'),
    reason: 'Unknown device IDs are 404 in inventory/deviceauth even where the spec omits it.',
  },
  {
    status: 400,
    applies: (file, path) => file === 'useradm/management_v1.yaml' && path.endsWith('/settings/tokens'),
    reason: 'useradm validates the PAT body (name, expires_in ≤ 1 year) with 400.',
  },
];

function withProp(schema: Json, prop: string, replacement: Json): Json {
  const s = schema as { properties: Record<string, Json> };
  return { ...s, properties: { ...s.properties, [prop]: replacement } };
}
const dependsValue: Json = {
  type: 'object',
  additionalProperties: { anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'string' }] },
};
const inventoryValue: Json = {
  anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'array', items: { type: ['string', 'number'] } }],
};

/** Schema patches: places where mender-server v4.1's code is wider than its spec. */
const PATCHES: OpenApiPatch[] = [
  {
    file: 'deployments/schemas.yaml',
    schema: 'MetadataAny',
    reason:
      "[code] backend/services/deployments/model/update.go: `metadata` is the artifact's meta-data object " +
      'as written (nested objects stay objects); the spec says a map of strings.',
    apply: () => ({ type: 'object' }),
  },
  ...(
    [
      ['deployments/management_v1.yaml', 'ArtifactV1'],
      ['deployments/management_v2.yaml', 'ArtifactV2'],
    ] as const
  ).map(([file, schema]) => ({
    file,
    schema,
    reason:
      '[code] deployments model/image.go: `description` is omitempty (absent when empty; the spec requires it), ' +
      'and mender-artifact MergeArtifactDepends keeps `-d key:value` depends as a string (the spec says lists).',
    apply: (s: Json) => {
      const a = withProp(s, 'artifact_depends', dependsValue) as { required?: string[] };
      return { ...a, required: (a.required ?? []).filter((r) => r !== 'description') };
    },
  })),
  {
    file: 'deployments/schemas.yaml',
    schema: 'DeviceWithImage',
    reason:
      '[code] deployments model/device_deployment.go: `image` is the stored Image, flat like an artifact ' +
      '(no meta/meta_artifact), and no `device_type` is sent.',
    apply: (s: Json) => withProp(s, 'image', { $ref: './management_v1.yaml#/components/schemas/ArtifactV1' }),
  },
  ...(
    [
      ['inventory/schemas.yaml', 'Attribute'],
      ['inventory/management_v1.yaml', 'AttributeV1'],
    ] as const
  ).map(([file, schema]) => ({
    file,
    schema,
    reason: '[code] inventory values are strings, numbers or lists of them; the spec says string.',
    apply: (s: Json) => withProp(s, 'value', inventoryValue),
  })),
];

const validator = new OpenApiValidator({ patches: PATCHES });
const router = new OpenApiRouter(validator, FILES);
const covered = new Set<string>();
const checked: string[] = [];

const check: Observer = (req, res) => {
  const path = new URL(req.url).pathname;
  const method = req.method.toUpperCase();
  const exempt = EXEMPT_OPERATIONS.find((e) => (e.method === '*' || e.method === method) && e.path.test(path));
  if (exempt) {
    exempt.check(res);
    covered.add(`exempt ${method} ${exempt.path.source}`);
    return;
  }
  const m = router.match(method, path);
  if (!m) throw new Error(`${method} ${path}: no operation in the Mender 4.1 specs (and no exemption)`);
  covered.add(`${m.file} ${method} ${m.path}`);
  const documented = validator.response(m.file, method, m.path, res.status);
  if (!documented) {
    const ex = EXEMPT_STATUSES.find((e) => e.status === res.status && e.applies(m.file, m.path));
    if (!ex) throw new Error(`${method} ${m.path} (${m.file}) answered ${res.status}, not in its spec: ${res.text}`);
    errorShape(res);
  } else {
    const isJson = (res.headers.get('content-type') ?? '').startsWith('application/json');
    assertMatchesOpenApi(validator, m.file, method, m.path, res.status, isJson ? res.json : res.text);
    // An error must carry its message (the 409 of a preauthorization answers with the device instead).
    if (res.status >= 400 && JSON.stringify(documented.schema ?? {}).includes('schemas/Error')) errorShape(res);
  }
  checked.push(`${method} ${path} ${res.status}`);
};

let dir: string;
let sim: MenderSim;
let env: FlowEnv;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-contract41-'));
  const art1 = await readFile(
    await buildArtifact(dir, { name: 'release-1.0', metaData: { vancore: { version: '1.0', nested: { a: 1 } } } }),
  );
  const art2 = await readFile(
    await buildArtifact(dir, {
      name: 'release-2.0',
      deviceTypes: ['vanpc', 'vanpc-v2'],
      depends: { 'vancore.hw': 'gen2' },
      provides: { 'vancore.channel': 'stable' },
      scripts: ['ArtifactInstall_Enter_00_gate'],
      signed: true,
    }),
  );
  sim = await startMenderSim({ port: 0, profile: '4.1' });
  const mg = new Mgmt(sim.url, await sim.managementToken(), check);
  env = {
    sim,
    mg,
    a: new SimDevice(sim.url, { mac: '02:00:00:00:00:0a', observe: check }),
    b: new SimDevice(sim.url, { mac: '02:00:00:00:00:0b', keyKind: 'ec', observe: check }),
    art1,
    art2,
    check,
  };
});
afterAll(async () => {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

describe('Mender 4.1 API contract (../shared/mender-api-4.1, OpenAPI 3)', () => {
  it('useradm: login, who am I, PATs, logout', async () => {
    await useradmFlow(env);
  });

  it('deviceauth + inventory: auth, accept, reject, preauthorize, attributes, tags, groups, search', async () => {
    await deviceauthInventoryFlow(env);
  });

  it('deployments: artifacts, releases, the full device lifecycle, abort, history', async () => {
    await deploymentsFlow(env);
  });

  it('4.1 v2 lists: deployments and artifacts with filters', async () => {
    const { mg } = env;
    expect((await mg.upload(env.art1)).status).toBe(201);
    await mg.get('/v2/deployments/artifacts');
    await mg.get('/v2/deployments/artifacts?name=release*&device_type=vanpc&per_page=1');
    await mg.get('/v2/deployments/artifacts?per_page=501');
    const dep = await mg.call('POST', '/v1/deployments/deployments', {
      name: 'v2 listed',
      artifact_name: 'release-1.0',
      devices: ['11111111-1111-4111-8111-111111111111'],
    });
    await mg.get('/v2/deployments/deployments');
    await mg.get('/v2/deployments/deployments?status=pending&sort=asc&per_page=1&name=v2%20listed');
    await mg.get('/v2/deployments/deployments?status=bogus');
    const depId = (dep.headers.get('location') ?? '').split('/').pop() ?? '';
    expect((await mg.call('PUT', `/v1/deployments/deployments/${depId}/status`, { status: 'aborted' })).status).toBe(
      204,
    );
    await mg.get('/v2/deployments/deployments?status=aborted');
  });

  it('exercised every endpoint the 4.1 simulator registers, each against its spec or a listed exemption', async () => {
    const store = new SimStore({
      now: () => Date.now(),
      email: 'x',
      password: 'y',
      autoAccept: false,
      verifySignatures: true,
      onChange: () => undefined,
    });
    const app = buildSimApp({
      store,
      profile: '4.1',
      dataDir: dir,
      errorShape: 'service',
      publicUrl: () => 'http://x',
      logger: pino({ level: 'silent' }),
      maxArtifactBytes: 1,
      faults: new FaultInjector(),
      requestLog: new RequestLog(1),
    });
    const routes: { method: string; url: string }[] = [];
    app.addHook('onRoute', (r) => {
      for (const m of Array.isArray(r.method) ? r.method : [r.method]) routes.push({ method: m, url: r.url });
    });
    await app.ready();
    await app.close();
    const uncovered: string[] = [];
    for (const r of routes) {
      if (r.method === 'HEAD' || r.method === 'OPTIONS') continue;
      const sample = r.url.replace(/:[^/]+/g, 'x');
      const exempt = EXEMPT_OPERATIONS.find((e) => (e.method === '*' || e.method === r.method) && e.path.test(sample));
      const m = exempt ? undefined : router.match(r.method, sample);
      const key = exempt
        ? `exempt ${r.method} ${exempt.path.source}`
        : m
          ? `${m.file} ${r.method} ${m.path}`
          : `UNMAPPED ${r.method} ${r.url}`;
      if (!covered.has(key)) uncovered.push(key);
    }
    expect(routes.length).toBeGreaterThan(60);
    expect(uncovered).toEqual([]);
    expect(checked.length).toBeGreaterThan(150);
    expect([...validator.droppedFormats]).toEqual([]);
  });
});
