import { describe, expect, it } from 'vitest';
import { jsonObject, jsonStrings, outcomesByName, parseJson } from '../../../../bridge/lib/records.js';

describe('stored records read back', () => {
  it('JSON columns: damaged or mistyped cells read as empty, never throw', () => {
    expect(parseJson(null)).toBeNull();
    expect(parseJson('{"a":1')).toBeNull();
    expect(parseJson('[1,"x"]')).toEqual([1, 'x']);
    expect(jsonStrings('["d1", 2, null, "d2"]')).toEqual(['d1', 'd2']);
    expect(jsonStrings('{"d1": true}')).toEqual([]);
    expect(jsonStrings('not json')).toEqual([]);
    expect(jsonObject('{"region": "north", "n": 3}')).toEqual({ region: 'north', n: 3 });
    expect(jsonObject('["north"]')).toEqual({});
    expect(jsonObject('null')).toEqual({});
  });

  it('outcomes are grouped per deployment name, then per device', () => {
    const by = outcomesByName([
      { name: 'w1 platform', device_id: 'd1', status: 'success', finished_at: 'T1' },
      { name: 'w1 platform', device_id: 'd2', status: 'failure', finished_at: 'T2' },
      { name: 'w2 platform', device_id: 'd3', status: 'downloading', finished_at: null },
    ]);
    expect(Object.fromEntries(by)).toEqual({
      'w1 platform': { d1: { status: 'success', finishedAt: 'T1' }, d2: { status: 'failure', finishedAt: 'T2' } },
      'w2 platform': { d3: { status: 'downloading', finishedAt: null } },
    });
  });
});
