// Artifact meta-data and depends as Mender's server code renders them (not as the spec says):
// * 3.7 — mendersoftware/deployments model/update.go: `MetaData interface{}` round-trips through MongoDB
//   and comes back as primitive.D, which encoding/json writes as a list of {"Key","Value"}, recursively.
// * 4.1 — mendersoftware/mender-server backend/docs/api deployments/schemas.yaml: `meta_data` is the
//   deprecated list (MetadataAnyDeprecated), `metadata` an object (MetadataAny).
// * depends — mender-server backend/services/deployments/model/image.go: `Depends map[string]interface{}`;
//   `mender-artifact -d key:value` stores a string, `device_type` a list.
import { describe, expect, it } from 'vitest';
import { parseEach } from '../../../../core/mender/management.js';
import { fromBsonJson, payloadMetaData, readVancoreMeta } from '../../../../core/mender/meta-data.js';
import { Artifact } from '../../../../core/mender/schemas.js';

const vancore = {
  component: 'app',
  version: '1.4.0',
  requires: { platform: '>=0.9.0' },
  constraints: { min_battery_soc: 40 },
  vpn: { step: 'add' },
};

/** What primitive.D looks like after encoding/json: every document a list of {Key, Value}. */
function asBsonD(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(asBsonD);
  if (v !== null && typeof v === 'object')
    return Object.entries(v as Record<string, unknown>).map(([Key, Value]) => ({ Key, Value: asBsonD(Value) }));
  return v;
}

describe('readVancoreMeta', () => {
  it.each([
    ['3.7: meta_data as a {Key, Value} list, nested documents too', { meta_data: asBsonD({ vancore }) }],
    ['4.1: the deprecated list and the metadata object', { meta_data: asBsonD({ vancore }), metadata: { vancore } }],
    ['4.1: metadata object only', { metadata: { vancore } }],
    ['4.1: metadata values as JSON text (map[string]string)', { metadata: { vancore: JSON.stringify(vancore) } }],
    ['spec / older simulator: an object', { meta_data: { vancore } }],
    ['an object whose inner documents are lists', { meta_data: { vancore: asBsonD(vancore) } }],
  ])('%s', (_name, update) => {
    const read = readVancoreMeta([{ type_info: { type: 'vancore-compose' }, ...update } as never]);
    expect(read.invalid).toBe(false);
    expect(read.meta).toMatchObject({
      component: 'app',
      version: '1.4.0',
      requires: { platform: '>=0.9.0' },
      vpn: { step: 'add' },
    });
    expect(read.meta?.constraints.min_battery_soc).toBe(40);
  });

  it('an empty document comes back as [] in the list shape and is read as {}', () => {
    const update = { meta_data: asBsonD({ vancore: { component: 'app', version: '1.0.0', requires: {} } }) };
    expect(JSON.stringify(update)).toContain('"Key":"requires","Value":[]');
    expect(readVancoreMeta([update]).meta?.requires).toEqual({});
  });

  it('a vancore key that does not fit the contract is flagged, not thrown', () => {
    const read = readVancoreMeta([{ meta_data: asBsonD({ vancore: { component: 'app', version: 'one' } }) }]);
    expect(read).toEqual({ invalid: true });
  });

  it('other tools’ meta-data and none at all are simply not VanCore’s', () => {
    expect(readVancoreMeta([{ meta_data: asBsonD({ other: { a: 1 } }) }, { meta_data: [] }, {}])).toEqual({
      invalid: false,
    });
    expect(readVancoreMeta(undefined)).toEqual({ invalid: false });
  });

  it('the second payload is read when the first carries no vancore key', () => {
    const read = readVancoreMeta([{ meta_data: [] }, { meta_data: asBsonD({ vancore }) }]);
    expect(read.meta?.component).toBe('app');
  });
});

describe('fromBsonJson', () => {
  it('keeps plain lists (primitive.A) and a list that is not all {Key, Value}', () => {
    expect(fromBsonJson([1, 'a'])).toEqual([1, 'a']);
    // Not every entry is a {Key, Value}: a plain list of objects, left as it is.
    expect(fromBsonJson([{ Key: 'a', Value: 1 }, { other: 1 }])).toEqual([{ Key: 'a', Value: 1 }, { other: 1 }]);
    expect(fromBsonJson([{ Key: 'days', Value: ['mon', 'tue'] }])).toEqual({ days: ['mon', 'tue'] });
  });
  it('never throws on strange input', () => {
    const deep: unknown[] = [];
    let cur = deep;
    for (let i = 0; i < 100; i++) cur.push((cur = []));
    expect(() => fromBsonJson(deep)).not.toThrow();
    expect(fromBsonJson(Number.NaN)).toBeNull();
    expect(payloadMetaData({ meta_data: 'text', metadata: 5 })).toEqual([]);
  });
});

describe('Artifact schema: depends and provides', () => {
  const base = {
    id: 'a1',
    name: 'app-1.4.0',
    device_types_compatible: ['vanpc'],
    modified: '2026-01-01T00:00:00Z',
  };
  it('a string depends value (mender-artifact -d key:value) is read as a one-item list', () => {
    const a = Artifact.parse({
      ...base,
      artifact_depends: { device_type: ['vanpc'], 'vancore.hw': 'gen2' },
      artifact_provides: { artifact_name: 'app-1.4.0', 'rootfs-image.vancore.app.version': '1.4.0' },
    });
    expect(a.artifact_depends).toEqual({ device_type: ['vanpc'], 'vancore.hw': ['gen2'] });
    expect(a.artifact_provides?.artifact_name).toEqual(['app-1.4.0']);
  });
  it('an empty description is omitted by 4.1 (image.go omitempty) and reads as ""', () => {
    expect(Artifact.parse(base).description).toBe('');
  });
  it('unknown fields are ignored', () => {
    expect(() =>
      Artifact.parse({ ...base, brand_new_field: { x: 1 }, updates: [{ files: null, x: 1 }] }),
    ).not.toThrow();
  });
});

describe('parseEach', () => {
  it('sets a malformed record aside with its id and reason; the others are kept', () => {
    const ok = { id: 'a1', name: 'n', device_types_compatible: ['x'], modified: 't' };
    const { items, rejected } = parseEach(
      Artifact,
      [ok, { id: 'a2', name: 'n', device_types_compatible: 'x', modified: 't' }, 42],
      'artifact',
    );
    expect(items.map((a) => a.id)).toEqual(['a1']);
    expect(rejected).toEqual([
      { kind: 'artifact', id: 'a2', reason: expect.stringContaining('device_types_compatible') as string },
      { kind: 'artifact', reason: expect.any(String) as string },
    ]);
  });
});
