// The fleet's lean HTTP/1.1 client against a raw TCP server that writes exact bytes: body framings,
// keep-alive reuse, a server closing an idle connection, errors and time-outs.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RawHttp } from '../../../mender-sim/fleet/raw-http.js';

let server: Server | undefined;
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A server that answers each request (once its head and Content-Length body are in) with `answer(n, head)`. */
async function rawServer(answer: (n: number, head: string, socket: Socket) => string | undefined): Promise<URL> {
  let n = 0;
  server = createServer((socket) => {
    sockets.add(socket);
    let buf = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      buf += d;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end);
        const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        buf = buf.slice(end + 4 + len);
        const out = answer(n++, head, socket);
        if (out !== undefined) socket.write(out);
      }
    });
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  return new URL(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`);
}

describe('RawHttp', () => {
  it('sends one well-formed request and reads a Content-Length body; reuses the connection', async () => {
    const heads: string[] = [];
    const peers = new Set<number>();
    const url = await rawServer((_n, head, socket) => {
      heads.push(head);
      peers.add(socket.remotePort ?? 0);
      return 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}';
    });
    const c = new RawHttp(url, { maxConnections: 1, timeoutMs: 2_000 });
    for (let i = 0; i < 3; i++) {
      expect(
        await c.request(
          'PUT',
          '/a/b?x=1',
          { Authorization: 'Bearer t', 'Content-Type': 'application/json' },
          '{"é":1}',
        ),
      ).toEqual({
        status: 200,
        body: '{"ok":true}',
      });
    }
    c.close();
    expect(heads[0]).toBe(
      `PUT /a/b?x=1 HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nContent-Length: 8`,
    );
    expect(peers.size).toBe(1);
  });

  it.each([
    ['204 without a body', 'HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n', 204, ''],
    [
      'a chunked body with an extension and a trailer',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n',
      200,
      'hello world',
    ],
    [
      'an interim 100 Continue first',
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
      201,
      'ok',
    ],
    [
      'a body read until the server closes',
      'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close',
      200,
      'until close',
    ],
  ])('reads %s', async (_n, raw, status, body) => {
    const url = await rawServer((_i, _h, socket) => {
      if (raw.includes('until close')) socket.end(raw);
      else return raw;
      return undefined;
    });
    const c = new RawHttp(url, { maxConnections: 2, timeoutMs: 2_000 });
    expect(await c.request('GET', '/', {})).toEqual({ status, body });
    c.close();
  });

  it('responses split into many small packets are put together', async () => {
    const url = await rawServer((_n, _h, socket) => {
      const raw = 'HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz';
      let i = 0;
      const t = setInterval(() => {
        socket.write(raw.slice(i, i + 7));
        i += 7;
        if (i >= raw.length) clearInterval(t);
      }, 2);
      return undefined;
    });
    const c = new RawHttp(url, { maxConnections: 1, timeoutMs: 2_000 });
    expect(await c.request('GET', '/', {})).toEqual({ status: 200, body: 'abcdefghijklmnopqrstuvwxyz' });
    c.close();
  });

  it('retries once on a fresh connection when the server closed the idle keep-alive one', async () => {
    const url = await rawServer((n, _h, socket) => {
      if (n === 1) {
        socket.destroy(); // the second request arrives on a connection the server drops
        return undefined;
      }
      return 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n' + String(n);
    });
    const c = new RawHttp(url, { maxConnections: 1, timeoutMs: 2_000 });
    expect((await c.request('GET', '/', {})).body).toBe('0');
    expect((await c.request('GET', '/', {})).body).toBe('2');
    c.close();
  });

  it('reports no answer as status 0: refused, garbage, time-out', async () => {
    const refused = new RawHttp(new URL('http://127.0.0.1:1'), { maxConnections: 1, timeoutMs: 2_000 });
    const r1 = await refused.request('GET', '/', {});
    expect(r1.status).toBe(0);
    expect(r1.error).toMatch(/ECONNREFUSED/);
    const url = await rawServer((n) => (n === 0 ? 'SSH-2.0-OpenSSH\r\n\r\n' : undefined));
    const c = new RawHttp(url, { maxConnections: 1, timeoutMs: 300 });
    const r2 = await c.request('GET', '/', {});
    expect([r2.status, r2.error]).toEqual([0, expect.stringMatching(/not an HTTP/) as unknown]);
    const r3 = await c.request('GET', '/', {});
    expect([r3.status, r3.error]).toEqual([0, expect.stringMatching(/no answer in 300 ms/) as unknown]);
    c.close();
  });

  it('queues requests beyond maxConnections and serves them as connections free up', async () => {
    const open = new Set<Socket>();
    const url = await rawServer((n, _h, socket) => {
      open.add(socket);
      return `HTTP/1.1 200 OK\r\nContent-Length: ${String(n).length}\r\n\r\n${n}`;
    });
    const c = new RawHttp(url, { maxConnections: 3, timeoutMs: 2_000 });
    const all = await Promise.all(Array.from({ length: 20 }, () => c.request('GET', '/', {})));
    expect(all.map((r) => Number(r.body)).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(open.size).toBeLessThanOrEqual(3);
    c.close();
  });
});
