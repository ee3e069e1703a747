// The HTTP layer under the Mender management client: auth (personal access token, or login with
// re-login on 401), timeouts, retries with backoff (honouring Retry-After), both error body shapes,
// and zod validation of every response body.
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import axios, { type AxiosInstance, isAxiosError } from 'axios';
import type * as z from 'zod';
import { VanError } from '../errors.js';
import type { Logger } from '../logger.js';
import { describeIssues } from '../validation.js';
import { MenderApiError, readErrorBody } from './errors.js';
import {
  type AttemptOutcome,
  type RetryPolicy,
  defaultRetryPolicy,
  parseRetryAfter,
  retryDelayMs,
  shouldRetry,
} from './retry.js';

export type MenderAuth = { kind: 'token'; token: string } | { kind: 'login'; user: string; password: string };

export interface MenderHttpOptions {
  baseUrl: string;
  auth: MenderAuth;
  /** Connect / idle timeout of one attempt (no byte for this long). */
  timeoutMs?: number;
  /**
   * Total deadline of one attempt, headers to last byte (issue #16 item 2): a server trickling one byte
   * every few seconds never trips the idle timeout. Default 4 × timeoutMs.
   */
  totalTimeoutMs?: number;
  retry?: RetryPolicy;
  /** Largest answer read into memory (default MAX_ANSWER_BYTES, 64 MB); lowered by tests. */
  maxAnswerBytes?: number;
  insecureTls?: boolean;
  logger?: Logger;
  /** Injected for tests and accelerated clocks. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => Date;
}

export interface MenderRequest<S extends z.ZodType | undefined = undefined> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | (string | number)[] | undefined>;
  body?: unknown;
  /** A streamed body (uploads): opened afresh for each attempt. */
  stream?: { open: () => Readable; length: number; contentType: string };
  headers?: Record<string, string>;
  /** Response body schema; absent = the body is not read. */
  schema?: S;
  /** Read the body as text (JWTs, logs) instead of JSON. */
  text?: boolean;
  /** Safe to resend after a timeout or 5xx; default true for GET/PUT/DELETE, false for POST/PATCH. */
  idempotent?: boolean;
  timeoutMs?: number;
  /** Statuses that are not errors (default: any 2xx). */
  accept?: number[];
}

export interface MenderResponse<T> {
  status: number;
  data: T;
  headers: Record<string, string | undefined>;
}

type Out<S> = S extends z.ZodType ? z.infer<S> : undefined;

const LOGIN_PATH = '/api/management/v1/useradm/auth/login';
/** Largest Mender answer read into memory; a larger one fails that call with a clear line. */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

const sizeText = (bytes: number): string =>
  bytes % (1024 * 1024) === 0 ? `${bytes / 1024 / 1024} MB` : `${bytes} bytes`;

export class MenderHttp {
  readonly baseUrl: string;
  readonly #axios: AxiosInstance;
  readonly #opts: Required<Pick<MenderHttpOptions, 'sleep' | 'random' | 'now'>> & MenderHttpOptions;
  readonly #retry: RetryPolicy;
  #jwt: string | undefined;
  #login: Promise<string> | undefined;

  constructor(options: MenderHttpOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#opts = {
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      random: Math.random,
      now: () => new Date(),
      ...options,
    };
    this.#retry = options.retry ?? defaultRetryPolicy;
    if (options.auth.kind === 'token') this.#jwt = options.auth.token;
    this.#axios = axios.create({
      baseURL: this.baseUrl,
      timeout: options.timeoutMs ?? 15_000,
      // Statuses are ours to judge; bodies are read as text and parsed here (JWTs and logs are text).
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(d: unknown) => d],
      maxBodyLength: Infinity,
      // A bounded answer (issue #16 item 7): Mender's largest page (500 devices) stays far below this.
      maxContentLength: options.maxAnswerBytes ?? MAX_ANSWER_BYTES,
      ...(options.insecureTls ? { httpsAgent: new HttpsAgent({ rejectUnauthorized: false }) } : {}),
    });
  }

  async request<S extends z.ZodType | undefined = undefined>(req: MenderRequest<S>): Promise<MenderResponse<Out<S>>> {
    let reauthed = false;
    for (;;) {
      const token = await this.#token();
      try {
        return await this.#withRetries(req, token);
      } catch (e) {
        // A login session can expire (or be evicted past 10 sessions): log in again, once.
        if (e instanceof MenderApiError && e.status === 401 && this.#opts.auth.kind === 'login' && !reauthed) {
          reauthed = true;
          if (this.#jwt === token) this.#jwt = undefined;
          continue;
        }
        throw e;
      }
    }
  }

  async #token(): Promise<string> {
    if (this.#jwt) return this.#jwt;
    const auth = this.#opts.auth;
    if (auth.kind === 'token') return auth.token;
    // Single-flight: concurrent requests share one login.
    this.#login ??= (async () => {
      try {
        const basic = Buffer.from(`${auth.user}:${auth.password}`).toString('base64');
        const res = await this.#withRetries(
          {
            method: 'POST',
            path: LOGIN_PATH,
            text: true,
            idempotent: true,
            headers: { Authorization: `Basic ${basic}` },
          },
          undefined,
        );
        const jwt = typeof res.data === 'string' ? res.data.trim() : '';
        if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(jwt))
          throw new VanError('MENDER_API', `Mender login: the server did not answer with a JWT`);
        this.#jwt = jwt;
        return jwt;
      } finally {
        this.#login = undefined;
      }
    })();
    return this.#login;
  }

  async #withRetries<S extends z.ZodType | undefined>(
    req: MenderRequest<S>,
    token: string | undefined,
  ): Promise<MenderResponse<Out<S>>> {
    const idempotent = req.idempotent ?? !['POST', 'PATCH'].includes(req.method);
    for (let attempt = 0; ; attempt++) {
      let outcome: AttemptOutcome;
      try {
        const res = await this.#once(req, token);
        if (this.#accepted(req, res.status)) return this.#decode(req, res);
        outcome = { kind: 'status', status: res.status, retryAfter: res.headers['retry-after'] };
        if (attempt >= this.#retry.retries || !shouldRetry(outcome, idempotent)) {
          const { message, requestId } = readErrorBody(res.body, statusText(res.status));
          throw new MenderApiError(
            req.method,
            req.path,
            res.status,
            message,
            requestId ?? res.headers['x-men-requestid'],
          );
        }
      } catch (e) {
        if (!isAxiosError(e)) throw e;
        // The total deadline aborts the request (ERR_CANCELED): a timeout like any other.
        const raw = e.code ?? (e.cause as { code?: string } | undefined)?.code ?? 'ERR_NETWORK';
        const code = raw === 'ERR_CANCELED' ? 'ECONNABORTED' : raw;
        outcome = { kind: 'network', code };
        if (attempt >= this.#retry.retries || !shouldRetry(outcome, idempotent)) {
          throw new VanError(
            'MENDER_API',
            `Mender ${req.method} ${req.path}: ${
              code === 'ECONNABORTED'
                ? 'timed out'
                : code === 'ERR_BAD_RESPONSE' && /maxContentLength/.test(e.message)
                  ? `answer larger than ${sizeText(this.#opts.maxAnswerBytes ?? MAX_ANSWER_BYTES)} (lower mender.page_size)`
                  : code
            } (${this.baseUrl})`,
            { cause: e },
          );
        }
      }
      const retryAfter = outcome.kind === 'status' ? parseRetryAfter(outcome.retryAfter, this.#opts.now()) : undefined;
      const delay = retryDelayMs(this.#retry, attempt + 1, retryAfter, this.#opts.random());
      this.#opts.logger?.debug({ path: req.path, attempt: attempt + 1, delay, outcome }, 'retrying Mender call');
      await this.#opts.sleep(delay);
    }
  }

  async #once(
    req: MenderRequest<z.ZodType | undefined>,
    token: string | undefined,
  ): Promise<{ status: number; body: string; headers: Record<string, string | undefined> }> {
    const headers: Record<string, string> = { Accept: 'application/json', ...req.headers };
    if (token && !headers.Authorization) headers.Authorization = `Bearer ${token}`;
    let data: unknown;
    if (req.stream) {
      headers['Content-Type'] = req.stream.contentType;
      headers['Content-Length'] = String(req.stream.length);
      data = req.stream.open();
    } else if (req.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      data = JSON.stringify(req.body);
    }
    const res = await this.#axios.request<string>({
      method: req.method,
      url: req.path,
      params: req.query,
      paramsSerializer: { indexes: null },
      data,
      headers,
      ...(req.timeoutMs !== undefined ? { timeout: req.timeoutMs } : {}),
      signal: AbortSignal.timeout(this.#opts.totalTimeoutMs ?? 4 * (req.timeoutMs ?? this.#opts.timeoutMs ?? 15_000)),
    });
    const out: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(res.headers as Record<string, unknown>))
      out[k.toLowerCase()] = Array.isArray(v)
        ? v.join(', ')
        : typeof v === 'string' || typeof v === 'number'
          ? String(v)
          : undefined;
    return { status: res.status, body: typeof res.data === 'string' ? res.data : '', headers: out };
  }

  #accepted(req: MenderRequest<z.ZodType | undefined>, status: number): boolean {
    return req.accept ? req.accept.includes(status) : status >= 200 && status < 300;
  }

  #decode<S extends z.ZodType | undefined>(
    req: MenderRequest<S>,
    res: { status: number; body: string; headers: Record<string, string | undefined> },
  ): MenderResponse<Out<S>> {
    let value: unknown;
    if (req.text) value = res.body;
    else if (req.schema) {
      try {
        value = res.body === '' ? undefined : JSON.parse(res.body);
      } catch {
        throw new VanError('MENDER_API', `Mender ${req.method} ${req.path}: the answer is not JSON`);
      }
    }
    if (req.schema) {
      const parsed = req.schema.safeParse(value);
      if (!parsed.success) {
        const first = describeIssues(parsed.error.issues)[0] ?? 'invalid';
        throw new VanError('MENDER_API', `Mender ${req.method} ${req.path}: unexpected answer (${first})`);
      }
      value = parsed.data;
    }
    return { status: res.status, data: value as Out<S>, headers: res.headers };
  }
}

function statusText(status: number): string {
  return (
    {
      400: 'Bad Request',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'Not Found',
      409: 'Conflict',
      412: 'Precondition Failed',
      422: 'Unprocessable Entity',
      429: 'Too Many Requests',
      500: 'Internal Server Error',
      502: 'Bad Gateway',
      503: 'Service Unavailable',
      504: 'Gateway Timeout',
    }[status] ?? `HTTP ${status}`
  );
}
