// A recording forwarder between the virtual fleet and the simulator: the simulator's own request log
// (`requests()`) keeps method, path and status; this keeps what it cannot, the query and the exact body of
// each device-API request, so a contract test can compare the model's bytes with RECIPE-current's rows.
// Artifact downloads go straight to the simulator (the URI in the deployment), as on the real client.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WireRecord {
  method: string;
  /** Path and query as sent. */
  url: string;
  path: string;
  body: string;
  status: number;
}

export interface Wire {
  url: string;
  records(): WireRecord[];
  close(): Promise<void>;
}

export async function startWire(target: string): Promise<Wire> {
  const to = new URL(target);
  const records: WireRecord[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers = { ...req.headers, host: to.host };
      const fwd = httpRequest(
        { host: to.hostname, port: to.port, method: req.method, path: req.url, headers },
        (up) => {
          const out: Buffer[] = [];
          up.on('data', (c: Buffer) => out.push(c));
          up.on('end', () => {
            const url = req.url ?? '';
            records.push({
              method: req.method ?? '',
              url,
              path: url.split('?')[0] ?? '',
              body: body.toString('utf8'),
              status: up.statusCode ?? 0,
            });
            res.writeHead(up.statusCode ?? 502, up.headers);
            res.end(Buffer.concat(out));
          });
        },
      );
      fwd.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      fwd.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    records: () => [...records],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
