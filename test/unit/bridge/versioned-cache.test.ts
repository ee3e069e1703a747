import { describe, expect, it } from 'vitest';
import { VersionedCache } from '../../../bridge/api/app.js';

describe('VersionedCache', () => {
  it('recomputes on a new version or when too old, shares concurrent misses, forgets failures', async () => {
    let now = 0;
    let computed = 0;
    const cache = new VersionedCache<number>(1000, () => now);
    const compute = () => Promise.resolve(++computed);
    expect(await Promise.all([cache.get(1, compute), cache.get(1, compute)])).toEqual([1, 1]);
    expect(await cache.get(1, compute)).toBe(1);
    expect(await cache.get(2, compute)).toBe(2);
    now = 999;
    expect(await cache.get(2, compute)).toBe(2);
    now = 1000;
    expect(await cache.get(2, compute)).toBe(3);
    await expect(cache.get(3, () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    expect(await cache.get(3, compute)).toBe(4);
  });
});
