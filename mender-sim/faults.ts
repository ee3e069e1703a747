// Test instruments: a bounded log of every request, and fault rules that fail the next N matching requests.

export interface RequestRecord {
  method: string;
  /** URL path without the query string. */
  path: string;
  status: number;
  /** ISO time on the simulator's clock. */
  at: string;
}

/** A request as kept: the time as epoch ms, made ISO only when listed (most records are never read). */
type Kept = Omit<RequestRecord, 'at'> & { atMs: number };

/** A ring buffer: the newest `capacity` requests. */
export class RequestLog {
  readonly #buf: Kept[] = [];
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
  }

  /** Record a request answered at `atMs` (epoch ms on the simulator's clock). */
  add(r: Kept): void {
    this.#buf.push(r);
    // Trim in batches: shifting a large array on every request would cost O(n) per request.
    if (this.#buf.length > this.#capacity * 1.25) this.#buf.splice(0, this.#buf.length - this.#capacity);
  }

  list(): readonly RequestRecord[] {
    const kept = this.#buf.length > this.#capacity ? this.#buf.slice(-this.#capacity) : this.#buf;
    return kept.map((r) => ({ method: r.method, path: r.path, status: r.status, at: new Date(r.atMs).toISOString() }));
  }

  clear(): void {
    this.#buf.length = 0;
  }
}

export interface FaultRule {
  match: RegExp;
  status: number;
  count: number;
  retryAfterSeconds?: number;
}

export class FaultInjector {
  readonly #rules: FaultRule[] = [];

  add(rule: FaultRule): void {
    if (!Number.isInteger(rule.status) || rule.status < 100 || rule.status > 599) {
      throw new RangeError(`fault status must be an HTTP status, got ${rule.status}`);
    }
    if (rule.count > 0) this.#rules.push({ ...rule });
  }

  /** The rule that fails this request (its count is used up), or undefined. */
  take(path: string): FaultRule | undefined {
    if (this.#rules.length === 0) return undefined;
    const i = this.#rules.findIndex((r) => {
      r.match.lastIndex = 0; // a /g regex keeps state between tests
      return r.match.test(path);
    });
    if (i < 0) return undefined;
    const rule = this.#rules[i];
    if (!rule) return undefined;
    rule.count -= 1;
    if (rule.count <= 0) this.#rules.splice(i, 1);
    return rule;
  }
}
