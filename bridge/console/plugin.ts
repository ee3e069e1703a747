// The support / ops console (issue #18): the built single-page app from dist/console, served at `/` by the
// bridge itself (no CDN: a workshop laptop may have no internet). The page talks to /api/v1 like the CLI;
// this plugin only serves files. Assets are read once at start, with their gzip twins from the build.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';

interface Asset {
  body: Buffer;
  gzip?: Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

// The page runs only our own script; styles set by the chart library through the CSSOM need no
// 'unsafe-inline'. The API is same-origin, so connect-src 'self' covers fetch and the SSE stream.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Where `npm run build` put the console: next to the bundle (dist/chunks → dist/console) or from sources. */
export function defaultAssetsDir(): string | undefined {
  const candidates = ['../console/', './console/', '../../dist/console/'].map((rel) =>
    fileURLToPath(new URL(rel, import.meta.url)),
  );
  return candidates.find((d) => existsSync(join(d, 'index.html')));
}

function loadAssets(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const ext = /\.[a-z]+$/.exec(f)?.[0] ?? '';
    const type = TYPES[ext];
    if (!type) continue;
    const body = readFileSync(join(dir, f));
    const gz = join(dir, `${f}.gz`);
    out.set(`/${f.split('\\').join('/')}`, { body, type, ...(existsSync(gz) ? { gzip: readFileSync(gz) } : {}) });
  }
  return out;
}

export function consolePlugin(opts: { assetsDir?: string }): FastifyPluginCallback {
  return (app, _opts, done) => {
    const dir = opts.assetsDir ?? defaultAssetsDir();
    const assets = dir ? loadAssets(dir) : new Map<string, Asset>();
    const send = (path: string, req: FastifyRequest, reply: FastifyReply) => {
      const a = assets.get(path);
      if (!a) return undefined;
      const gzip = a.gzip && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
      void reply
        .type(a.type)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('vary', 'accept-encoding')
        // Asset names carry a content hash; index.html must be revalidated to pick up a new build.
        .header('cache-control', path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      if (path.endsWith('.html')) void reply.header('content-security-policy', CSP).header('x-frame-options', 'DENY');
      if (gzip) void reply.header('content-encoding', 'gzip');
      return reply.send(gzip ? a.gzip : a.body);
    };
    app.get('/', { schema: { hide: true } }, (req, reply) => {
      if (assets.has('/index.html')) return send('/index.html', req, reply);
      return reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .send('The console is not built: run `npm run build` (it writes dist/console).\n');
    });
    app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, (req, reply) => {
      const r = send(`/assets/${req.params.file}`, req, reply);
      if (r) return r;
      return reply.status(404).type('text/plain; charset=utf-8').send(`no console asset ${req.params.file}\n`);
    });
    done();
  };
}
