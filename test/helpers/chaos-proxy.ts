// An HTTP proxy on loopback that fails a seeded share of requests the ways a real network and a
// loaded Mender do: 5xx, 429 with Retry-After, connection resets and stalls (client timeouts).
import { type IncomingMessage, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChaosProxy {
  url: string;
  stats: { passed: number; failed: Record<string, number> };
  close(): Promise<void>;
}

/** Mulberry32: a small seeded PRNG so a chaos run is reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startChaosProxy(
  target: string,
  opts: { failShare: number; seed: number; stallMs?: number },
): Promise<ChaosProxy> {
  const rnd = seededRandom(opts.seed);
  const up = new URL(target);
  const stats = { passed: 0, failed: {} as Record<string, number> };
  const fail = (kind: string) => (stats.failed[kind] = (stats.failed[kind] ?? 0) + 1);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (rnd() < opts.failShare) {
      const r = rnd();
      if (r < 0.35) {
        fail('503');
        res
          .writeHead(503, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ error: { status_code: 503, message: 'Service Unavailable' } }));
      } else if (r < 0.6) {
        fail('429');
        res.writeHead(429, { 'Retry-After': '1' }).end();
      } else if (r < 0.85) {
        fail('reset');
        req.socket.destroy();
      } else {
        fail('stall');
        // Never answer: the client's timeout fires. The socket is closed when the proxy closes.
        setTimeout(() => req.socket.destroy(), opts.stallMs ?? 5_000).unref();
      }
      req.resume();
      return;
    }
    stats.passed++;
    const fwd = request(
      { host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
