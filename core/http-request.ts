// A minimal HTTP(S) request on node:http/https (no axios on a gate's path, CONVENTIONS §8): one
// request, a hard timeout, a capped body. Never throws: failures come back as `error`.
import type { IncomingHttpHeaders } from 'node:http';

export interface HttpOptions {
  method?: 'GET' | 'HEAD' | 'POST';
  /** A request body (sent as given; set content-type in `headers`). */
  body?: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** CA certificates (PEM) to trust instead of Node's bundle; rejectUnauthorized false skips verification. */
  ca?: string | string[];
  rejectUnauthorized?: boolean;
  maxBodyBytes?: number;
  /** Resolve as soon as the status and headers are in and close the connection: no body is read. */
  headersOnly?: boolean;
  signal?: AbortSignal;
}

export type HttpResult =
  | { ok: true; status: number; headers: IncomingHttpHeaders; body: string; ms: number }
  | { ok: false; error: string; ms: number };

export async function httpFetch(url: string, o: HttpOptions): Promise<HttpResult> {
  const started = performance.now();
  let secure: boolean;
  try {
    secure = new URL(url).protocol === 'https:';
  } catch {
    return { ok: false, error: 'invalid URL', ms: 0 };
  }
  // Loaded on first use (node:https pulls in TLS): a gate that makes no request does not pay for it.
  const { request } = secure ? await import('node:https') : await import('node:http');
  const ms = () => Math.round(performance.now() - started);
  const max = o.maxBodyBytes ?? 256 * 1024;
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: HttpResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const req = request(
      new URL(url),
      {
        method: o.method ?? 'GET',
        headers: { 'user-agent': 'vancore-ota', ...o.headers },
        ...(secure && o.ca ? { ca: o.ca } : {}),
        ...(secure && o.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
      },
      (res) => {
        if (o.headersOnly) {
          finish({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body: '', ms: ms() });
          req.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= max) chunks.push(c);
        });
        res.on('end', () =>
          finish({
            ok: true,
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: ms(),
          }),
        );
        res.on('error', (e) => finish({ ok: false, error: e.message, ms: ms() }));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish({ ok: false, error: `no answer within ${o.timeoutMs} ms`, ms: ms() });
    }, o.timeoutMs);
    const onAbort = () => {
      req.destroy();
      finish({ ok: false, error: 'aborted', ms: ms() });
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, error: e.code ?? e.message, ms: ms() }));
    req.end(o.body);
  });
}
