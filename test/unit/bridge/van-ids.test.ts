import { describe, expect, it } from 'vitest';
import { assignVanIds } from '../../../bridge/store/van-ids.js';

const none = () => undefined;

describe('assignVanIds', () => {
  it.each([
    ['a new device takes its claim', [{ deviceId: 'd1', claim: 'van-1' }], none, { d1: { vanId: 'van-1' } }],
    ['no claim falls back to the device id', [{ deviceId: 'd1' }], none, { d1: { vanId: 'd1' } }],
    ['no claim keeps the stored id', [{ deviceId: 'd1', current: 'van-1' }], none, { d1: { vanId: 'van-1' } }],
    [
      'a claim held outside the batch is refused',
      [{ deviceId: 'd2', claim: 'van-1' }],
      (v: string) => (v === 'van-1' ? 'd1' : undefined),
      { d2: { vanId: 'd2', refused: 'van id van-1 is already used by device d1' } },
    ],
    [
      'a refused claim keeps the current id',
      [{ deviceId: 'd2', current: 'van-2', claim: 'van-1' }],
      (v: string) => (v === 'van-1' ? 'd1' : undefined),
      { d2: { vanId: 'van-2', refused: 'van id van-1 is already used by device d1' } },
    ],
    [
      'two new devices claiming one id: the first wins',
      [
        { deviceId: 'd1', claim: 'van-1' },
        { deviceId: 'd2', claim: 'van-1' },
      ],
      none,
      { d1: { vanId: 'van-1' }, d2: { vanId: 'd2', refused: 'van id van-1 is already used by device d1' } },
    ],
    [
      'the current holder wins over a newcomer',
      [
        { deviceId: 'd2', claim: 'van-1' },
        { deviceId: 'd1', current: 'van-1', claim: 'van-1' },
      ],
      (v: string) => (v === 'van-1' ? 'd1' : undefined),
      { d1: { vanId: 'van-1' }, d2: { vanId: 'd2', refused: 'van id van-1 is already used by device d1' } },
    ],
    [
      'a swap inside one batch settles',
      [
        { deviceId: 'd1', current: 'A', claim: 'B' },
        { deviceId: 'd2', current: 'B', claim: 'A' },
      ],
      (v: string) => ({ A: 'd1', B: 'd2' })[v],
      { d1: { vanId: 'B' }, d2: { vanId: 'A' } },
    ],
    [
      'a three-way rotation settles',
      [
        { deviceId: 'd1', current: 'A', claim: 'B' },
        { deviceId: 'd2', current: 'B', claim: 'C' },
        { deviceId: 'd3', current: 'C', claim: 'A' },
      ],
      (v: string) => ({ A: 'd1', B: 'd2', C: 'd3' })[v],
      { d1: { vanId: 'B' }, d2: { vanId: 'C' }, d3: { vanId: 'A' } },
    ],
  ])('%s', (_name, batch, owner, expected) => {
    const got = Object.fromEntries(assignVanIds(batch, owner));
    expect(got).toEqual(expected);
    const ids = Object.values(got).map((a) => a.vanId);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
