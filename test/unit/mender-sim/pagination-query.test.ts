import { describe, expect, it } from 'vitest';
import { gatewayReplaces, errorBody } from '../../../mender-sim/errors.js';
import {
  attributesOf,
  checkV2Filters,
  matchesV1,
  matchesV2,
  parseV1Query,
  project,
  sortDevices,
  type InventoryView,
} from '../../../mender-sim/inventory-query.js';
import { lastSegment, linkHeaders, parsePage, slicePage } from '../../../mender-sim/pagination.js';
import { SimHttpError } from '../../../mender-sim/errors.js';

const T = Date.parse('2026-11-22T10:00:00Z');

function view(over: Partial<InventoryView> & { id: string }): InventoryView {
  return {
    status: 'accepted',
    identity: { mac: '02:00:00:00:00:01' },
    inventory: {},
    tags: {},
    group: undefined,
    createdMs: T,
    updatedMs: T,
    ...over,
  };
}
const attr = (value: unknown) => ({ value: value as string, ts: T });

function errorOf(f: () => unknown): { status: number; message: string } {
  try {
    f();
  } catch (e) {
    if (e instanceof SimHttpError) return { status: e.status, message: e.message };
    throw e;
  }
  throw new Error('did not throw');
}

describe('parsePage (go-lib-micro bounds and messages)', () => {
  it.each([
    [{}, undefined, { page: 1, perPage: 20 }],
    [{ page: '3', per_page: '500' }, undefined, { page: 3, perPage: 500 }],
    [{ per_page: '20' }, { maxPerPage: 20 }, { page: 1, perPage: 20 }],
    [{ per_page: '100000' }, { maxPerPage: undefined }, { page: 1, perPage: 100000 }],
  ])('%j', (query, limits, want) => {
    expect(parsePage(query, limits)).toEqual(want);
  });

  it.each([
    [{ per_page: '501' }, undefined, 'Param per_page is out of bounds'],
    [{ per_page: '0' }, undefined, 'Param per_page is out of bounds'],
    [{ per_page: '21' }, { maxPerPage: 20 }, 'Param per_page is out of bounds'],
    [{ page: '0' }, undefined, 'Param page is out of bounds'],
    [{ page: '-1' }, undefined, "Can't parse param page"],
    [{ per_page: 'ten' }, undefined, "Can't parse param per_page"],
  ])('%j → 400 %s', (query, limits, message) => {
    expect(errorOf(() => parsePage(query, limits))).toEqual({ status: 400, message });
  });

  it('slices pages and past the end gives nothing', () => {
    const items = [1, 2, 3, 4, 5];
    expect(slicePage(items, { page: 2, perPage: 2 })).toEqual([3, 4]);
    expect(slicePage(items, { page: 4, perPage: 2 })).toEqual([]);
  });
});

describe('linkHeaders', () => {
  it('writes first, prev and next as separate lines and keeps other parameters', () => {
    expect(
      linkHeaders('/api/x', { status: 'pending', page: '2', per_page: '10' }, { page: 2, perPage: 10 }, true),
    ).toEqual([
      '</api/x?status=pending&page=1&per_page=10>; rel="first"',
      '</api/x?status=pending&page=1&per_page=10>; rel="prev"',
      '</api/x?status=pending&page=3&per_page=10>; rel="next"',
    ]);
  });

  it('has only first on a single page; inventory v1 uses the last segment', () => {
    expect(
      linkHeaders(lastSegment('/api/management/v1/inventory/devices?x=1'), {}, { page: 1, perPage: 20 }, false),
    ).toEqual(['<devices?page=1&per_page=20>; rel="first"']);
  });
});

describe('error shapes (GUIDE §0)', () => {
  it.each([
    ['/api/management/v1/deployments/deployments', 404, true],
    ['/api/management/v1/deployments/deployments', 401, true],
    ['/api/management/v1/deployments/deployments', 429, true],
    ['/api/management/v1/deployments/deployments', 400, false],
    ['/api/management/v1/deployments/deployments', 409, false],
    ['/api/management/v1/inventory/devices/x/tags', 412, false],
    ['/api/management/v1/deployments/deployments/x/status', 422, false],
    ['/api/management/v1/deployments/deployments', 500, false],
    ['/api/devices/v1/deployments/device/deployments/next', 500, true],
    ['/api/devices/v1/deployments/device/deployments/next', 408, true],
    ['/api/devices/v1/inventory/device/attributes', 503, true],
    ['/api/devices/v1/authentication/auth_requests', 401, false],
  ])('%s %i replaced by the gateway: %s', (path, status, want) => {
    expect(gatewayReplaces(path, status)).toBe(want);
  });

  it('renders both shapes', () => {
    const path = '/api/management/v1/deployments/deployments/x';
    expect(errorBody('service', path, 404, 'Resource not found', 'rid')).toEqual({
      error: 'Resource not found',
      request_id: 'rid',
    });
    expect(errorBody('gateway', path, 404, 'Resource not found', 'rid')).toEqual({
      error: { status_code: 404, message: 'Not Found' },
    });
    expect(errorBody('gateway', path, 400, 'bad', 'rid')).toEqual({ error: 'bad', request_id: 'rid' });
  });
});

describe('inventory v1 filters (GUIDE §2.2)', () => {
  const devices = [
    view({ id: 'a', inventory: { artifact_name: attr('v1'), battery: attr(80), net: attr(['wlan0', 'wwan0']) } }),
    view({ id: 'b', inventory: { artifact_name: attr('v2'), battery: attr(30) }, group: 'pilot', status: 'pending' }),
    view({ id: 'c', tags: { ring: attr('fleet') }, identity: { mac: '02:00:00:00:00:03' } }),
  ];
  const ids = (query: Record<string, string | string[]>) =>
    devices.filter((d) => matchesV1(d, parseV1Query(query))).map((d) => d.id);

  it.each([
    [{ artifact_name: 'v1' }, ['a']],
    [{ artifact_name: 'eq:v2' }, ['b']],
    [{ 'inventory/battery': '80' }, ['a']],
    [{ 'identity/status': 'pending' }, ['b']],
    [{ 'identity/mac': '02:00:00:00:00:03' }, ['c']],
    [{ 'system/group': 'pilot' }, ['b']],
    [{ 'tags/ring': 'fleet' }, ['c']],
    [{ net: 'wwan0' }, ['a']],
    [{ has_group: 'true' }, ['b']],
    [{ has_group: 'false' }, ['a', 'c']],
    [{ group: 'pilot' }, ['b']],
    [{ artifact_name: ['v1', 'v2'] }, []],
    [{ page: '1', per_page: '5', sort: 'battery' }, ['a', 'b', 'c']],
  ])('%j → %j', (query, want) => {
    expect(ids(query)).toEqual(want);
  });

  it('sorts on one attribute, desc by default, missing values first when ascending', () => {
    const q = parseV1Query({ sort: 'inventory/battery' });
    expect(sortDevices(devices, q.sort ? [q.sort] : [], (d) => d).map((d) => d.id)).toEqual(['a', 'b', 'c']);
    const asc = parseV1Query({ sort: 'battery:asc' });
    expect(sortDevices(devices, asc.sort ? [asc.sort] : [], (d) => d).map((d) => d.id)).toEqual(['c', 'b', 'a']);
  });

  it('rejects Enterprise-only operators', () => {
    expect(errorOf(() => parseV1Query({ battery: 'gt:10' })).status).toBe(400);
  });
});

describe('inventory v2 search (GUIDE §2.3)', () => {
  const devices = [
    view({ id: 'a', inventory: { artifact_name: attr('v1') }, group: 'dev' }),
    view({ id: 'b', inventory: { artifact_name: attr('v2') }, group: 'pilot' }),
    view({ id: 'c', inventory: { artifact_name: attr('v1') }, status: 'pending' }),
  ];
  const ids = (filters: { scope: string; attribute: string; type: string; value?: unknown }[]) =>
    devices.filter((d) => matchesV2(d, checkV2Filters(filters))).map((d) => d.id);

  it.each([
    [[{ scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' }], ['a', 'b']],
    [[{ scope: 'identity', attribute: 'id', type: '$eq', value: 'c' }], ['c']],
    [[{ scope: 'system', attribute: 'group', type: '$nin', value: ['dev', 'pilot'] }], ['c']],
    [
      [
        { scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' },
        { scope: 'inventory', attribute: 'artifact_name', type: '$eq', value: 'v1' },
      ],
      ['a'],
    ],
  ])('%j → %j', (filters, want) => {
    expect(ids(filters)).toEqual(want);
  });

  it.each(['$ne', '$gt', '$in', '$regex', '$exists'])('%s is Enterprise: 400', (type) => {
    expect(errorOf(() => checkV2Filters([{ scope: 'inventory', attribute: 'x', type, value: 1 }])).status).toBe(400);
  });

  it('$nin needs a list', () => {
    expect(
      errorOf(() => checkV2Filters([{ scope: 'inventory', attribute: 'x', type: '$nin', value: 'a' }])).status,
    ).toBe(400);
  });

  it('projects attributes and always keeps system/updated_ts', () => {
    const attrs = attributesOf(devices[0] as InventoryView);
    expect(project(attrs, [{ scope: 'inventory', attribute: 'artifact_name' }])).toEqual([
      { name: 'artifact_name', value: 'v1', scope: 'inventory' },
      { name: 'updated_ts', value: '2026-11-22T10:00:00.000Z', scope: 'system' },
    ]);
  });
});
