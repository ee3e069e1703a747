// inventory (inventory/*.yml, GUIDE §2.2–2.4, §6.2, §7): device attributes (PUT replace / PATCH merge,
// exactly 200), the management v1 list with filters, tags with ETags, static groups, and the v2 search.
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
  qOne,
  queryOf,
  requireDevice,
  requireManagement,
  type SimContext,
} from '../http.js';
import {
  SCOPES,
  checkV2Filters,
  isAttrValue,
  matchesV1,
  matchesV2,
  parseV1Query,
  project,
  sortDevices,
  type InventoryView,
} from '../inventory-query.js';
import type { AttrValue, DeviceRec } from '../model.js';
import { inventoryDeviceJson } from '../views.js';

const DEV = '/api/devices/v1/inventory';
const V1 = '/api/management/v1/inventory';
const V2 = '/api/management/v2/inventory';

const DeviceAttrs = z.array(
  z.object({
    name: z.string().min(1),
    value: z.custom<AttrValue>((v) => isAttrValue(v), {
      message: 'must be a string, a number or a list of strings or numbers',
    }),
    description: z.string().optional(),
  }),
);
type DeviceAttrsT = z.infer<typeof DeviceAttrs>;
/** The fast shape of a device's attribute list (see parseBody): what DeviceAttrs accepts and returns. */
const fastDeviceAttrs = (b: unknown): DeviceAttrsT | undefined => {
  if (!Array.isArray(b)) return undefined;
  const out: DeviceAttrsT = [];
  for (const a of b as unknown[]) {
    if (!isJsonObject(a) || typeof a.name !== 'string' || a.name.length === 0) return undefined;
    if (!isAttrValue(a.value) || !isOptString(a.description)) return undefined;
    out.push({ name: a.name, value: a.value, ...(a.description === undefined ? {} : { description: a.description }) });
  }
  return out;
};
const Tags = z.array(z.object({ name: z.string().min(1), value: z.string(), description: z.string().optional() }));
const GroupBody = z.object({ group: z.string() });
const Ids = z.array(z.string());
const Search = z.object({
  page: z.number().int().optional(),
  per_page: z.number().int().optional(),
  text: z.string().optional(),
  filters: z
    .array(z.object({ scope: z.string(), attribute: z.string(), type: z.string(), value: z.unknown().optional() }))
    .optional(),
  sort: z.array(z.object({ scope: z.string(), attribute: z.string(), order: z.enum(['asc', 'desc']) })).optional(),
  attributes: z.array(z.object({ scope: z.string(), attribute: z.string() })).optional(),
  device_ids: z.array(z.string()).optional(),
});

/** [code] group names: [A-Za-z0-9_-], at most 1024 characters. */
function checkGroup(name: string): string {
  if (!/^[A-Za-z0-9_-]{1,1024}$/.test(name)) {
    throw badRequest('Group name can only contain: upper/lowercase alphanum, -(dash), _(underscore)');
  }
  return name;
}

export function inventoryRoutes(app: FastifyInstance, ctx: SimContext): void {
  const { store } = ctx;

  // ------------------------------------------------------------------ device API
  for (const method of ['PUT', 'PATCH'] as const) {
    app.route({
      method,
      url: `${DEV}/device/attributes`,
      handler: async (req, reply) => {
        const id = requireDevice(ctx, req);
        const attrs = parseBody(DeviceAttrs, req.body, 'failed to parse request body', fastDeviceAttrs);
        store.putAttributes(id, attrs, method === 'PUT', ctx.profile === '4.1');
        // RECIPE §6.2: the client accepts exactly 200 here (204 breaks it).
        return reply.code(200).send();
      },
    });
  }

  // ------------------------------------------------------------------ management v1
  const views = (): { d: DeviceRec; v: InventoryView }[] =>
    [...store.devices()].map((d) => ({ d, v: store.inventoryView(d) }));

  app.get(`${V1}/devices`, async (req, reply) => {
    requireManagement(ctx, req);
    const q = queryOf(req);
    const query = parseV1Query(q);
    let rows = views().filter((x) => matchesV1(x.v, query));
    if (query.sort) rows = sortDevices(rows, [query.sort], (x) => x.v);
    // GUIDE §0: the spec says default 10, the code uses 20; Link carries only the last path segment.
    const p = paginate(rows, q);
    pageHeaders(reply, req, p, { totalCount: true, link: 'last-segment' });
    return p.items.map((x) => inventoryDeviceJson(store, x.d));
  });

  app.get(`${V1}/devices/:id`, async (req, reply) => {
    requireManagement(ctx, req);
    const d = store.device(param(req, 'id'));
    if (!d) throw notFound('Device not found');
    if (d.tagsEtag) reply.header('ETag', d.tagsEtag);
    return inventoryDeviceJson(store, d);
  });

  app.delete(`${V1}/devices/:id`, async (req, reply) => {
    requireManagement(ctx, req);
    store.deleteInventory(param(req, 'id'));
    return reply.code(204).send();
  });

  for (const method of ['PUT', 'PATCH'] as const) {
    app.route({
      method,
      url: `${V1}/devices/:id/tags`,
      handler: async (req, reply) => {
        requireManagement(ctx, req);
        const tags = parseBody(Tags, req.body, 'failed to parse request body');
        const ifMatch = req.headers['if-match'];
        store.setTags(param(req, 'id'), tags, method === 'PUT', typeof ifMatch === 'string' ? ifMatch : undefined);
        return reply.code(200).send();
      },
    });
  }

  app.get(`${V1}/devices/:id/group`, async (req) => {
    requireManagement(ctx, req);
    const d = store.device(param(req, 'id'));
    if (!d) throw notFound('Device not found');
    return { group: d.group ?? null };
  });

  app.put(`${V1}/devices/:id/group`, async (req, reply) => {
    requireManagement(ctx, req);
    const body = parseBody(GroupBody, req.body, 'failed to parse request body');
    store.setGroup(param(req, 'id'), checkGroup(body.group));
    return reply.code(204).send();
  });

  app.delete(`${V1}/devices/:id/group/:name`, async (req, reply) => {
    requireManagement(ctx, req);
    store.clearGroup(param(req, 'id'), param(req, 'name'));
    return reply.code(204).send();
  });

  app.get(`${V1}/groups`, async (req) => {
    requireManagement(ctx, req);
    const status = qOne(queryOf(req), 'status');
    return store.groupNames(status);
  });

  app.delete(`${V1}/groups/:name`, async (req) => {
    requireManagement(ctx, req);
    return store.deleteGroup(checkGroup(param(req, 'name')));
  });

  app.get(`${V1}/groups/:name/devices`, async (req, reply) => {
    requireManagement(ctx, req);
    const q = queryOf(req);
    const p = paginate(store.groupMembers(checkGroup(param(req, 'name'))), q);
    pageHeaders(reply, req, p, { totalCount: true, link: 'last-segment' });
    return p.items;
  });

  app.patch(`${V1}/groups/:name/devices`, async (req) => {
    requireManagement(ctx, req);
    const ids = parseBody(Ids, req.body, 'failed to parse request body');
    if (ids.length === 0) throw badRequest('no device IDs present in payload');
    return store.addToGroup(checkGroup(param(req, 'name')), ids);
  });

  app.delete(`${V1}/groups/:name/devices`, async (req) => {
    requireManagement(ctx, req);
    const ids = parseBody(Ids, req.body, 'failed to parse request body');
    if (ids.length === 0) throw badRequest('no device IDs present in payload');
    return store.removeFromGroup(checkGroup(param(req, 'name')), ids);
  });

  // ------------------------------------------------------------------ management v2
  app.post(`${V2}/filters/search`, async (req, reply) => {
    requireManagement(ctx, req);
    const body = parseBody(Search, req.body ?? {}, 'failed to parse request body');
    for (const f of body.filters ?? []) {
      if (!(SCOPES as readonly string[]).includes(f.scope)) throw badRequest(`filters: invalid scope ${f.scope}`);
    }
    const preds = checkV2Filters(body.filters ?? []);
    const ids = body.device_ids ? new Set(body.device_ids) : undefined;
    let rows = views().filter((x) => (!ids || ids.has(x.d.id)) && matchesV2(x.v, preds));
    if (body.sort?.length) {
      const keys = body.sort.map((s) => ({ scope: s.scope, name: s.attribute, desc: s.order === 'desc' }));
      rows = sortDevices(rows, keys, (x) => x.v);
    }
    // GUIDE §0: OSS enforces no per_page maximum here, and sets X-Total-Count but no Link.
    const page = body.page ?? 1;
    const perPage = body.per_page ?? 20;
    if (page < 1) throw badRequest('Param page is out of bounds');
    if (perPage < 1) throw badRequest('Param per_page is out of bounds');
    const start = (page - 1) * perPage;
    reply.header('X-Total-Count', String(rows.length));
    const select = body.attributes ?? [];
    return rows.slice(start, start + perPage).map((x) => inventoryDeviceJson(store, x.d, (a) => project(a, select)));
  });

  app.get(`${V2}/filters/attributes`, async (req) => {
    requireManagement(ctx, req);
    const counts = new Map<string, { name: string; scope: string; count: number }>();
    for (const { v } of views()) {
      const add = (scope: string, name: string): void => {
        const k = `${scope}/${name}`;
        const c = counts.get(k);
        if (c) c.count += 1;
        else counts.set(k, { name, scope, count: 1 });
      };
      for (const name of Object.keys(v.identity)) add('identity', name);
      add('identity', 'status');
      for (const name of Object.keys(v.inventory)) add('inventory', name);
      for (const name of Object.keys(v.tags)) add('tags', name);
      add('system', 'created_ts');
      add('system', 'updated_ts');
      if (v.group !== undefined) add('system', 'group');
    }
    // [master docs] at most 500 attributes.
    return [...counts.values()].sort((a, b) => b.count - a.count).slice(0, 500);
  });
}
