// Plain HTTP for thousands of small device requests: node:http(s) with keep-alive agents sized to the
// fleet's concurrency (no fetch: its per-request overhead is several times higher), small bodies read
// into one string, downloads streamed. A request that fails on a reused keep-alive socket (the server
// closed it while idle) is retried once, as Node's docs advise.
import * as http from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import * as https from 'node:https';

export interface Reply {
  /** 0 = no HTTP answer (connection error, timeout). */
  status: number;
  body: string;
  error?: string;
}

export class HttpPool {
  readonly #http: http.Agent;
  readonly #https: https.Agent;
  readonly #timeoutMs: number;

  constructor(opts: { maxSockets: number; timeoutMs: number }) {
    const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets, maxFreeSockets: opts.maxSockets };
    this.#http = new http.Agent(agentOpts);
    this.#https = new https.Agent(agentOpts);
    this.#timeoutMs = opts.timeoutMs;
  }

  /** A request with a small body in and out. */
  async request(url: URL, method: string, headers: OutgoingHttpHeaders, body?: string): Promise<Reply> {
    try {
      return await this.#once(url, method, headers, body);
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { reused?: boolean };
      if (err.reused && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        try {
          return await this.#once(url, method, headers, body);
        } catch (e2) {
          return { status: 0, body: '', error: errorText(e2) };
        }
      }
      return { status: 0, body: '', error: errorText(e) };
    }
  }

  /** Start a GET and hand over the response stream (the caller consumes or destroys it). */
  get(url: URL, headers: OutgoingHttpHeaders = {}): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      const req = mod.request(url, { method: 'GET', headers, agent: this.#agent(url) }, (res) => {
        res.setTimeout(this.#timeoutMs, () => res.destroy(new Error(`no data for ${this.#timeoutMs} ms`)));
        resolve(res);
      });
      req.setTimeout(this.#timeoutMs, () => req.destroy(new Error(`no answer in ${this.#timeoutMs} ms`)));
      req.once('error', reject);
      req.end();
    });
  }

  destroy(): void {
    this.#http.destroy();
    this.#https.destroy();
  }

  #agent(url: URL): http.Agent {
    return url.protocol === 'https:' ? this.#https : this.#http;
  }

  #once(url: URL, method: string, headers: OutgoingHttpHeaders, body: string | undefined): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      const h = body === undefined ? headers : { ...headers, 'Content-Length': Buffer.byteLength(body) };
      const req = mod.request(url, { method, headers: h, agent: this.#agent(url) }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.once('error', reject);
      });
      req.setTimeout(this.#timeoutMs, () => req.destroy(new Error(`no answer in ${this.#timeoutMs} ms`)));
      req.once('error', (e: NodeJS.ErrnoException & { reused?: boolean }) => {
        e.reused = req.reusedSocket;
        reject(e);
      });
      req.end(body);
    });
  }
}

function errorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(e);
}
