// Retry policy for calls to Mender, as pure functions: what to retry and how long to wait.

export interface RetryPolicy {
  /** Attempts after the first one. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { retries: 4, baseDelayMs: 250, maxDelayMs: 8_000 };

/** What happened on one attempt, reduced to what the retry decision needs. */
export type AttemptOutcome =
  { kind: 'status'; status: number; retryAfter?: string | undefined } | { kind: 'network'; code: string };

/** Errors where the request surely never reached the server: safe to resend even a non-idempotent call. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Errors where the request may or may not have been processed. */
const MAYBE_SENT = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EPIPE',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ESOCKETTIMEDOUT',
]);

/**
 * Whether to try again. Non-idempotent requests (creating a deployment) are resent only when the
 * server cannot have acted on them: connection refused, or 429 (rate limited before processing).
 * Idempotent ones are also resent after resets, timeouts and 5xx.
 */
export function shouldRetry(outcome: AttemptOutcome, idempotent: boolean): boolean {
  if (outcome.kind === 'network') return NEVER_SENT.has(outcome.code) || (idempotent && MAYBE_SENT.has(outcome.code));
  if (outcome.status === 429) return true;
  return idempotent && [500, 502, 503, 504].includes(outcome.status);
}

/** Retry-After as seconds or an HTTP date → milliseconds to wait (undefined when absent or unreadable). */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/**
 * Delay before retry number `attempt` (1-based): the server's Retry-After when given (capped at 60 s),
 * else exponential backoff with full jitter (`random` in [0,1) is passed in to keep this pure).
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  retryAfterMs: number | undefined,
  random: number,
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, 60_000);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random * ceiling);
}
