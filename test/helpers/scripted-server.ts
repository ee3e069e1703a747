// A real HTTP server on loopback whose answers a test scripts per request: for testing HTTP clients
// against statuses, headers, bodies and dropped connections without mocking the client's stack.
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export type Reply =
  | { status: number; body?: string | object; headers?: Record<string, string> }
  | { destroy: true }
  | ((req: SeenRequest) => { status: number; body?: string | object; headers?: Record<string, string> });

export interface ScriptedServer {
  url: string;
  seen: SeenRequest[];
  /** Queue replies for requests whose path starts with `prefix` (first queued, first used); the last one repeats. */
  on(method: string, prefix: string, ...replies: Reply[]): void;
  close(): Promise<void>;
}

export async function startScriptedServer(): Promise<ScriptedServer> {
  const routes: { method: string; prefix: string; replies: Reply[] }[] = [];
  const seen: SeenRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      seen.push(r);
      const route = routes.find((x) => x.method === r.method && r.url.startsWith(x.prefix));
      if (!route) {
        res.writeHead(599).end('no scripted reply');
        return;
      }
      const reply = route.replies.length > 1 ? route.replies.shift()! : route.replies[0]!;
      if (typeof reply !== 'function' && 'destroy' in reply) {
        req.socket.destroy();
        return;
      }
      const out = typeof reply === 'function' ? reply(r) : reply;
      const body = out.body === undefined ? '' : typeof out.body === 'string' ? out.body : JSON.stringify(out.body);
      res.writeHead(out.status, {
        'Content-Type': typeof out.body === 'object' ? 'application/json' : 'text/plain',
        ...out.headers,
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    on(method, prefix, ...replies) {
      routes.push({ method, prefix, replies });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
