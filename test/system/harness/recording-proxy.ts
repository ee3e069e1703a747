// A proxy in front of the simulator that keeps every request's method, path, body and user agent, the
// simulator's answer, and the HTTP bytes each way: the simulator's own request log has no bodies, and
// the tests assert the exact bodies the server received (the client's status reports, the size probe's
// update check) and what a request costs.
import { createServer, request, type Server } from 'node:http';

export interface Seen {
  method: string;
  path: string;
  /** The query string, without `?` ('' when none). */
  query: string;
  body: string;
  userAgent: string;
  /** The simulator's answer (set when it came back). */
  status?: number;
  /** HTTP/1.1 bytes of the request: request line, headers, body. */
  requestBytes: number;
  /** HTTP/1.1 bytes of the answer: status line, headers, body (set when it has been sent). */
  responseBytes?: number;
}

export interface RecordingProxy {
  url: string;
  seen: Seen[];
  server: Server;
}

const headerBytes = (raw: readonly string[]): number => {
  let n = 2; // the blank line
  for (let i = 0; i + 1 < raw.length; i += 2) n += Buffer.byteLength(`${raw[i]}: ${raw[i + 1]}\r\n`);
  return n;
};

/** `target` may be given late (a function), for a simulator whose public URL is this proxy. */
export async function recordingProxy(target: string | (() => string)): Promise<RecordingProxy> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const to = new URL(typeof target === 'string' ? target : target());
      const body = Buffer.concat(chunks);
      const [path = '', query = ''] = (req.url ?? '').split('?');
      const entry: Seen = {
        method: req.method ?? '',
        path,
        query,
        body: body.toString(),
        userAgent: req.headers['user-agent'] ?? '',
        requestBytes:
          Buffer.byteLength(`${req.method} ${req.url} HTTP/1.1\r\n`) + headerBytes(req.rawHeaders) + body.length,
      };
      seen.push(entry);
      const up = request(
        { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
        (r) => {
          entry.status = r.statusCode;
          let bytes = Buffer.byteLength(`HTTP/1.1 ${r.statusCode} ${r.statusMessage}\r\n`) + headerBytes(r.rawHeaders);
          r.on('data', (c: Buffer) => (bytes += c.length));
          r.on('end', () => (entry.responseBytes = bytes));
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.writeHead(502).end());
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return { url: `http://127.0.0.1:${addr.port}`, seen, server };
}
