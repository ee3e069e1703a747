import { describe, expect, it } from 'vitest';
import { defaultRetryPolicy, parseRetryAfter, retryDelayMs, shouldRetry } from '../../../../core/mender/retry.js';

describe('retry policy', () => {
  it.each([
    [{ kind: 'status', status: 429 }, false, true],
    [{ kind: 'status', status: 503 }, true, true],
    [{ kind: 'status', status: 503 }, false, false],
    [{ kind: 'status', status: 500 }, true, true],
    [{ kind: 'status', status: 400 }, true, false],
    [{ kind: 'status', status: 409 }, true, false],
    [{ kind: 'network', code: 'ECONNREFUSED' }, false, true],
    [{ kind: 'network', code: 'ECONNRESET' }, true, true],
    [{ kind: 'network', code: 'ECONNRESET' }, false, false],
    [{ kind: 'network', code: 'ECONNABORTED' }, true, true],
    [{ kind: 'network', code: 'ERR_BAD_REQUEST' }, true, false],
  ] as const)('%j idempotent=%s → retry %s', (outcome, idempotent, expected) => {
    expect(shouldRetry(outcome, idempotent)).toBe(expected);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = new Date('2026-11-22T10:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 10:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('backs off exponentially with full jitter, capped, and obeys Retry-After up to 60 s', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelayMs(defaultRetryPolicy, a, undefined, 0.999))).toEqual([
      249, 499, 999, 1998, 3996, 7992,
    ]);
    expect(retryDelayMs(defaultRetryPolicy, 9, undefined, 0.999)).toBe(7992);
    expect(retryDelayMs(defaultRetryPolicy, 1, undefined, 0)).toBe(0);
    expect(retryDelayMs(defaultRetryPolicy, 1, 2_000, 0.5)).toBe(2_000);
    expect(retryDelayMs(defaultRetryPolicy, 1, 600_000, 0.5)).toBe(60_000);
  });
});
