// useradm (useradm/management_api.yml, GUIDE §1): login with Basic auth → raw JWT, logout, the current
// user, personal access tokens.
/* eslint-disable @typescript-eslint/require-await -- Fastify's handler idiom: a handler is async so its
   return value is the reply and a throw reaches the one error handler, even when it has nothing to await. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { basicAuth } from '../auth.js';
import { SimHttpError, badRequest, notFound } from '../errors.js';
import { param, parseBody, requireManagement, type SimContext } from '../http.js';
import { MAX_PAT_SECONDS } from '../store.js';

const BASE = '/api/management/v1/useradm';

const LoginOptions = z.object({ no_expiry: z.boolean().optional() });
const PatRequest = z.object({
  name: z.string().min(1),
  expires_in: z.number().int().min(0).max(MAX_PAT_SECONDS).optional(),
});

export function useradmRoutes(app: FastifyInstance, ctx: SimContext): void {
  const { store } = ctx;

  app.post(`${BASE}/auth/login`, async (req, reply) => {
    const creds = basicAuth(req.headers.authorization);
    if (!creds) throw new SimHttpError(401, 'invalid or missing auth header');
    const opts = req.body === undefined ? {} : parseBody(LoginOptions, req.body, 'failed to decode request body');
    const token = store.login(creds.user, creds.password, opts.no_expiry === true);
    return reply.code(200).type('application/jwt').send(token);
  });

  app.post(`${BASE}/auth/logout`, async (req, reply) => {
    const jti = requireManagement(ctx, req);
    store.logout(jti);
    return reply.code(202).send();
  });

  app.get(`${BASE}/users`, async (req) => {
    requireManagement(ctx, req);
    return [store.userJson()];
  });

  // [code] `me` is accepted as an {id}.
  app.get(`${BASE}/users/:id`, async (req) => {
    requireManagement(ctx, req);
    const id = param(req, 'id');
    if (id !== 'me' && id !== store.userId) throw notFound('user not found');
    return store.userJson();
  });

  app.get(`${BASE}/settings/tokens`, async (req) => {
    requireManagement(ctx, req);
    return store.listPats();
  });

  app.post(`${BASE}/settings/tokens`, async (req, reply) => {
    requireManagement(ctx, req);
    const body = parseBody(PatRequest, req.body, 'failed to decode request body');
    if (body.name.trim() === '') throw badRequest('name: cannot be blank.');
    const token = store.createPat(body.name, body.expires_in ?? 0);
    return reply.code(200).type('application/jwt').send(token);
  });

  app.delete(`${BASE}/settings/tokens/:id`, async (req, reply) => {
    requireManagement(ctx, req);
    store.deletePat(param(req, 'id'));
    return reply.code(204).send();
  });
}
