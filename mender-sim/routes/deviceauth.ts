// deviceauth (deviceauth/*.yml, GUIDE §2.1, §6.1): the device auth request and the management v2 API.
// The auth_requests route sits in its own plugin scope with a parser that keeps the raw body: the
// X-MEN-Signature is a signature over the exact bytes.
/* eslint-disable @typescript-eslint/require-await -- Fastify's handler idiom: a handler is async so its
   return value is the reply and a throw reaches the one error handler, even when it has nothing to await. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { badRequest, notFound } from '../errors.js';
import {
  isJsonObject,
  isOptString,
  pageHeaders,
  paginate,
  param,
  parseBody,
  qAll,
  qOne,
  queryOf,
  requireManagement,
  type SimContext,
} from '../http.js';
import { DEVICE_AUTH_STATUSES, type DeviceRec } from '../model.js';
import { devauthDeviceJson } from '../views.js';
import { parseJsonBody } from '../app-parsers.js';

const BASE = '/api/management/v2/devauth';

const AuthRequest = z.object({
  id_data: z.string(),
  pubkey: z.string(),
  tenant_token: z.string().optional(),
});

/** The fast shape of an auth request (see parseBody): what AuthRequest accepts and returns. */
const fastAuthRequest = (b: unknown): z.infer<typeof AuthRequest> | undefined =>
  isJsonObject(b) && typeof b.id_data === 'string' && typeof b.pubkey === 'string' && isOptString(b.tenant_token)
    ? {
        id_data: b.id_data,
        pubkey: b.pubkey,
        ...(b.tenant_token === undefined ? {} : { tenant_token: b.tenant_token }),
      }
    : undefined;

const StatusBody = z.object({ status: z.string() });
const PreAuth = z.object({
  identity_data: z.record(z.string(), z.unknown()),
  pubkey: z.string(),
});
const Search = z.object({
  status: z.union([z.string(), z.array(z.string())]).optional(),
  id: z.union([z.string(), z.array(z.string())]).optional(),
});

function checkStatus(s: string): string {
  if (!(DEVICE_AUTH_STATUSES as readonly string[]).includes(s)) {
    throw badRequest(`status must be one of: ${DEVICE_AUTH_STATUSES.join(', ')}`);
  }
  return s;
}

export function deviceAuthRoutes(app: FastifyInstance, ctx: SimContext): void {
  const { store } = ctx;

  void app.register((scope: FastifyInstance, _opts, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (req, body: Buffer, cb) => {
      try {
        cb(null, { raw: body, json: parseJsonBody(body) });
      } catch (e) {
        cb(e as Error, undefined);
      }
    });
    scope.post('/api/devices/v1/authentication/auth_requests', async (req, reply) => {
      const { raw, json } = req.body as { raw: Buffer; json: unknown };
      const body = parseBody(AuthRequest, json, 'invalid auth request', fastAuthRequest);
      const sig = req.headers['x-men-signature'];
      const token = store.authRequest({
        idData: body.id_data,
        pubkey: body.pubkey,
        rawBody: raw,
        signature: typeof sig === 'string' ? sig : undefined,
      });
      return reply.code(200).type('application/jwt').send(token);
    });
    done();
  });

  const list = (status: string[], ids: string[]): DeviceRec[] => {
    for (const s of status) checkStatus(s);
    const idSet = new Set(ids);
    const out: DeviceRec[] = [];
    for (const d of store.devices()) {
      if (status.length && !status.includes(store.deviceStatus(d))) continue;
      if (idSet.size && !idSet.has(d.id)) continue;
      out.push(d);
    }
    return out;
  };

  // GUIDE §0: deviceauth lists send `Link` (full path) and no X-Total-Count.
  app.get(`${BASE}/devices`, async (req, reply) => {
    requireManagement(ctx, req);
    const q = queryOf(req);
    const p = paginate(list(qAll(q, 'status'), qAll(q, 'id')), q);
    pageHeaders(reply, req, p, { totalCount: false, link: 'full' });
    return p.items.map((d) => devauthDeviceJson(store, d));
  });

  app.post(`${BASE}/devices/search`, async (req, reply) => {
    requireManagement(ctx, req);
    const q = queryOf(req);
    const body = parseBody(Search, req.body ?? {}, 'failed to decode request body');
    const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
    const p = paginate(list(asList(body.status), asList(body.id)), q);
    pageHeaders(reply, req, p, { totalCount: false, link: 'full' });
    return p.items.map((d) => devauthDeviceJson(store, d));
  });

  app.get(`${BASE}/devices/count`, async (req) => {
    requireManagement(ctx, req);
    const status = qOne(queryOf(req), 'status');
    if (status === undefined) return { count: store.deviceCount };
    checkStatus(status);
    let count = 0;
    for (const d of store.devices()) if (store.deviceStatus(d) === status) count += 1;
    return { count };
  });

  app.post(`${BASE}/devices`, async (req, reply) => {
    requireManagement(ctx, req);
    const body = parseBody(PreAuth, req.body, 'failed to decode preauth request');
    const r = store.preauthorize(body.identity_data, body.pubkey);
    // GUIDE §2.1: 409 answers with the conflicting device.
    if ('existing' in r) return reply.code(409).send(devauthDeviceJson(store, r.existing));
    return reply.code(201).header('Location', `devices/${r.id}`).send();
  });

  app.get(`${BASE}/devices/:id`, async (req) => {
    requireManagement(ctx, req);
    const d = store.device(param(req, 'id'));
    if (!d) throw notFound('device not found');
    return devauthDeviceJson(store, d);
  });

  app.delete(`${BASE}/devices/:id`, async (req, reply) => {
    requireManagement(ctx, req);
    store.decommission(param(req, 'id'));
    return reply.code(204).send();
  });

  app.delete(`${BASE}/devices/:id/auth/:aid`, async (req, reply) => {
    requireManagement(ctx, req);
    store.deleteAuthSet(param(req, 'id'), param(req, 'aid'));
    return reply.code(204).send();
  });

  app.put(`${BASE}/devices/:id/auth/:aid/status`, async (req, reply) => {
    requireManagement(ctx, req);
    const body = parseBody(StatusBody, req.body, 'failed to decode status data');
    store.setAuthStatus(param(req, 'id'), param(req, 'aid'), body.status);
    return reply.code(204).send();
  });

  app.get(`${BASE}/devices/:id/auth/:aid/status`, async (req) => {
    requireManagement(ctx, req);
    return { status: store.authSetStatus(param(req, 'id'), param(req, 'aid')) };
  });

  app.delete(`${BASE}/tokens/:id`, async (req, reply) => {
    requireManagement(ctx, req);
    store.revokeDeviceToken(param(req, 'id'));
    return reply.code(204).send();
  });

  // OSS has no device limit: 0 means unlimited.
  app.get(`${BASE}/limits/max_devices`, async (req) => {
    requireManagement(ctx, req);
    return { limit: 0 };
  });
}
