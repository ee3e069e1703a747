// A minimal HTTP/1.1 client for the fleet's small device-API requests: one keep-alive connection carries
// one request at a time; the request goes out in a single write; the response is parsed from the socket
// bytes (status line, headers, a Content-Length or chunked body, or a body up to the close). node:http's
// client spends ~100 µs of CPU per request on this 2-core machine (agent bookkeeping, header objects,
// stream machinery) — for 140,000 requests that is more than the whole benchmark budget; this costs a
// fraction of it. Used for the API only; artifact downloads (any host, streamed) stay on node:http(s).
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Reply } from './http-pool.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');

interface Pending {
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  method: string;
}

/** Incremental response parser for one connection. */
class ResponseParser {
  #buf: Buffer = Buffer.alloc(0);
  #status = 0;
  #headerDone = false;
  /** Body bytes still expected (Content-Length), -1 chunked, -2 until close. */
  #left = 0;
  #chunks: Buffer[] = [];
  #close = false;
  #noBody = false;

  reset(method: string): void {
    this.#buf = Buffer.alloc(0);
    this.#status = 0;
    this.#headerDone = false;
    this.#left = 0;
    this.#chunks = [];
    this.#close = false;
    this.#noBody = method === 'HEAD';
  }

  /** Feed bytes; returns the finished response (and whether the connection must close) or undefined. */
  feed(data: Buffer): { status: number; body: string; close: boolean } | undefined {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, data]) : data;
    if (!this.#headerDone) {
      const end = this.#buf.indexOf(CRLFCRLF);
      if (end < 0) {
        if (this.#buf.length > 64 * 1024) throw new Error('response header too large');
        return undefined;
      }
      const head = this.#buf.subarray(0, end).toString('latin1');
      this.#buf = this.#buf.subarray(end + 4);
      const lines = head.split('\r\n');
      const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
      if (!m) throw new Error(`not an HTTP/1.x response: ${(lines[0] ?? '').slice(0, 80)}`);
      this.#status = Number(m[2]);
      if (this.#status >= 100 && this.#status < 200) {
        // An interim answer (100 Continue): the real one follows.
        return this.feed(Buffer.alloc(0));
      }
      let length = -2;
      let chunked = false;
      let close = m[1] === '0';
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i] as string;
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === 'content-length') length = Number(value);
        else if (name === 'transfer-encoding') chunked = /chunked/i.test(value);
        else if (name === 'connection') close = /close/i.test(value) ? true : /keep-alive/i.test(value) ? false : close;
      }
      this.#headerDone = true;
      this.#close = close;
      if (this.#noBody || this.#status === 204 || this.#status === 304) this.#left = 0;
      else if (chunked) this.#left = -1;
      else if (length >= 0 && Number.isFinite(length)) this.#left = length;
      else {
        this.#left = -2;
        this.#close = true;
      }
    }
    return this.#body();
  }

  /** The connection closed: a body read "until close" is complete now. */
  ended(): { status: number; body: string; close: boolean } | undefined {
    if (this.#headerDone && this.#left === -2) {
      this.#chunks.push(this.#buf);
      return { status: this.#status, body: Buffer.concat(this.#chunks).toString('utf8'), close: true };
    }
    return undefined;
  }

  #body(): { status: number; body: string; close: boolean } | undefined {
    if (this.#left >= 0) {
      if (this.#buf.length < this.#left) return undefined;
      const body = this.#buf.subarray(0, this.#left).toString('utf8');
      return { status: this.#status, body, close: this.#close };
    }
    if (this.#left === -2) {
      this.#chunks.push(this.#buf);
      this.#buf = Buffer.alloc(0);
      return undefined;
    }
    // chunked: <hex size>[;ext]\r\n<data>\r\n … 0\r\n[trailers]\r\n
    for (;;) {
      const eol = this.#buf.indexOf('\r\n');
      if (eol < 0) return undefined;
      const size = parseInt(this.#buf.subarray(0, eol).toString('latin1').split(';')[0] ?? '', 16);
      if (!Number.isFinite(size) || size < 0) throw new Error('bad chunk size');
      if (size === 0) {
        const end = this.#buf.indexOf(CRLFCRLF, eol - 2 >= 0 ? eol - 2 : 0);
        if (end < 0) return undefined;
        return { status: this.#status, body: Buffer.concat(this.#chunks).toString('utf8'), close: this.#close };
      }
      if (this.#buf.length < eol + 2 + size + 2) return undefined;
      this.#chunks.push(this.#buf.subarray(eol + 2, eol + 2 + size));
      this.#buf = this.#buf.subarray(eol + 2 + size + 2);
    }
  }
}

class Connection {
  readonly socket: Socket;
  readonly #parser = new ResponseParser();
  #pending: Pending | undefined;
  /** Bytes of the current response have arrived (a failure then is not a stale keep-alive). */
  #gotBytes = false;
  used = false;
  dead = false;

  constructor(socket: Socket, timeoutMs: number, onIdleClose: (c: Connection) => void) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(timeoutMs);
    socket.on('data', (d: Buffer) => this.#data(d));
    socket.on('timeout', () => this.#fail(new Error(`no answer in ${timeoutMs} ms`)));
    socket.on('error', (e) => this.#fail(e));
    socket.on('close', () => {
      const done = this.#pending ? this.#parser.ended() : undefined;
      if (done) this.#finish(done);
      this.#fail(Object.assign(new Error('socket closed'), { code: 'ECONNRESET' }));
      onIdleClose(this);
    });
  }

  send(method: string, head: string, body: string | undefined): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject, method };
      this.#gotBytes = false;
      this.#parser.reset(method);
      this.socket.write(body === undefined ? head : head + body);
    });
  }

  #data(d: Buffer): void {
    if (!this.#pending) return; // stray bytes on an idle connection: ignore
    this.#gotBytes = true;
    try {
      const done = this.#parser.feed(d);
      if (done) this.#finish(done);
    } catch (e) {
      this.#fail(e as Error);
    }
  }

  #finish(done: { status: number; body: string; close: boolean }): void {
    const p = this.#pending;
    this.#pending = undefined;
    this.used = true;
    if (done.close) {
      this.dead = true;
      this.socket.destroy();
    }
    p?.resolve({ status: done.status, body: done.body });
  }

  #fail(e: Error): void {
    this.dead = true;
    const p = this.#pending;
    this.#pending = undefined;
    if (!this.socket.destroyed) this.socket.destroy();
    if (p) p.reject(Object.assign(e, { reused: this.used && !this.#gotBytes }));
  }
}

/** Keep-alive connections to one origin, at most `max` open. */
export class RawHttp {
  readonly #host: string;
  readonly #hostHeader: string;
  readonly #port: number;
  readonly #tls: boolean;
  readonly #max: number;
  readonly #timeoutMs: number;
  readonly #idle: Connection[] = [];
  readonly #waiting: ((c: Connection) => void)[] = [];
  #open = 0;
  #closed = false;

  constructor(origin: URL, opts: { maxConnections: number; timeoutMs: number }) {
    this.#tls = origin.protocol === 'https:';
    this.#host = origin.hostname.replace(/^\[|\]$/g, '');
    this.#port = Number(origin.port) || (this.#tls ? 443 : 80);
    this.#hostHeader = origin.host;
    this.#max = opts.maxConnections;
    this.#timeoutMs = opts.timeoutMs;
  }

  /** `path` is the request target (path and query); `headers` are `Name: value` pairs without Host/Content-Length. */
  async request(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Reply> {
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.#hostHeader}\r\n`;
    for (const k in headers) head += `${k}: ${headers[k]}\r\n`;
    head += body === undefined ? '\r\n' : `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    for (let attempt = 0; ; attempt++) {
      const conn = await this.#acquire();
      try {
        const r = await conn.send(method, head, body);
        this.#release(conn);
        return r;
      } catch (e) {
        this.#release(conn);
        const err = e as NodeJS.ErrnoException & { reused?: boolean };
        // A keep-alive connection the server closed while idle: try once more on a fresh one.
        if (attempt === 0 && err.reused) continue;
        return { status: 0, body: '', error: err.code ? `${err.code}: ${err.message}` : err.message };
      }
    }
  }

  close(): void {
    this.#closed = true;
    for (const c of this.#idle.splice(0)) c.socket.destroy();
  }

  #acquire(): Promise<Connection> {
    if (this.#closed) return Promise.reject(new Error('client closed'));
    for (;;) {
      const c = this.#idle.pop();
      if (!c) break;
      if (!c.dead) return Promise.resolve(c);
    }
    if (this.#open < this.#max) {
      this.#open += 1;
      const socket = this.#tls
        ? tlsConnect({ host: this.#host, port: this.#port, servername: this.#host })
        : netConnect({ host: this.#host, port: this.#port });
      return Promise.resolve(new Connection(socket, this.#timeoutMs, () => this.#gone()));
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #gone(): void {
    this.#open -= 1;
    // A waiter may now open a fresh connection.
    const w = this.#waiting.shift();
    if (w) this.#acquire().then(w, () => undefined);
  }

  #release(c: Connection): void {
    if (c.dead || this.#closed) {
      if (this.#closed) c.socket.destroy();
      return;
    }
    const w = this.#waiting.shift();
    if (w) w(c);
    else this.#idle.push(c);
  }
}
