// Deployments (deployments/management_api.yml, GUIDE §4) and the device side
// (deployments/devices_api.yml, GUIDE §6.3–6.5).
/* eslint-disable @typescript-eslint/require-await -- Fastify's handler idiom: a handler is async so its
   return value is the reply and a throw reaches the one error handler, even when it has nothing to await. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { statusFilter } from '../deployment-logic.js';
import { badRequest, notFound, type SimHttpError } from '../errors.js';
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
  requireDevice,
  requireManagement,
  requireUuid,
  type SimContext,
} from '../http.js';
import { REPORTABLE_STATUSES, type ArtifactRec, type DeviceDeploymentRec } from '../model.js';
import type { DeploymentView } from '../store.js';
import { deploymentJson, deviceWithImageJson, logText } from '../views.js';
import { downloadLinkAt } from './storage.js';

const V1 = '/api/management/v1/deployments';
const V2 = '/api/management/v2/deployments';
const DEV = '/api/devices/v1/deployments/device/deployments';
const DEV_V2 = '/api/devices/v2/deployments/device/deployments';
/** [code] device download links are valid 24 h. */
const DEVICE_LINK_SECONDS = 24 * 3600;

// Unknown fields (phases, retries, update_control_map, …) are dropped silently, as json.Unmarshal does.
const NewDeployment = z.object({
  name: z.string(),
  artifact_name: z.string(),
  devices: z.array(z.string()).optional(),
  all_devices: z.boolean().optional(),
  force_installation: z.boolean().optional(),
});
const NewGroupDeployment = NewDeployment.omit({ devices: true, all_devices: true });
const AbortBody = z.object({ status: z.string() });
const StatsList = z.object({ deployment_ids: z.array(z.string()) });
const StatusReport = z.object({ status: z.string(), substate: z.string().optional() });
const LogBody = z.object({
  messages: z.array(z.object({ timestamp: z.string(), level: z.string(), message: z.string() })),
});
const NextBody = z.object({
  artifact_name: z.string().optional(),
  device_type: z.string().optional(),
  device_provides: z.record(z.string(), z.unknown()).optional(),
});

// The fast shapes of the device bodies (see parseBody): exactly what the schemas above accept and return.
type StatusReportT = z.infer<typeof StatusReport>;
type NextBodyT = z.infer<typeof NextBody>;
const fastStatusReport = (b: unknown): StatusReportT | undefined =>
  isJsonObject(b) && typeof b.status === 'string' && isOptString(b.substate)
    ? { status: b.status, ...(b.substate === undefined ? {} : { substate: b.substate }) }
    : undefined;
const fastNextBody = (b: unknown): NextBodyT | undefined => {
  if (!isJsonObject(b) || !isOptString(b.artifact_name) || !isOptString(b.device_type)) return undefined;
  const provides = b.device_provides;
  if (provides !== undefined && !isJsonObject(provides)) return undefined;
  return {
    ...(b.artifact_name === undefined ? {} : { artifact_name: b.artifact_name }),
    ...(b.device_type === undefined ? {} : { device_type: b.device_type }),
    ...(provides === undefined ? {} : { device_provides: provides }),
  };
};

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Lower-case words as a MongoDB text index splits them (letters, digits, `_`; the rest delimits). */
const wordsOf = (text: string): string[] =>
  text
    .toLowerCase()
    .split(/[^\p{L}\p{N}_]+/u)
    .filter(Boolean);

/**
 * [code] deployments store/mongo `Find`: `{$text: {$search: SearchText}}`, the text NOT quoted — MongoDB
 * matches a document holding ANY of the search words (a whole, case-insensitive word; the real index
 * also stems and drops stop words, the simulator does not).
 */
function hasAnyWord(text: string, search: readonly string[]): boolean {
  const words = new Set(wordsOf(text));
  return search.some((w) => words.has(w));
}

function blank(field: string): SimHttpError {
  return badRequest(`Validating request body: ${field}: cannot be blank.`);
}

export function deploymentRoutes(app: FastifyInstance, ctx: SimContext): void {
  const { store } = ctx;

  const created = (reply: FastifyReply, id: string): FastifyReply =>
    // GUIDE §0: relative Location with an odd prefix; the last segment is the ID.
    reply.code(201).header('Location', `./management/v1/deployments/deployments/${id}`).send();

  const byId = (req: FastifyRequest, name = 'id'): DeploymentView => {
    const d = store.deployment(requireUuid(param(req, name)));
    if (!d) throw notFound();
    return d;
  };

  // ------------------------------------------------------------------ management
  app.post(`${V1}/deployments`, async (req, reply) => {
    requireManagement(ctx, req);
    const body = parseBody(NewDeployment, req.body, 'Validating request body');
    if (body.name === '') throw blank('name');
    if (body.artifact_name === '') throw blank('artifact_name');
    if (body.all_devices && body.devices?.length) {
      throw badRequest('Validating request body: devices: cannot be set together with all_devices.');
    }
    if (!body.all_devices && !body.devices?.length) throw blank('devices');
    const id = store.createDeployment({
      name: body.name,
      artifactName: body.artifact_name,
      ...(body.all_devices ? { allDevices: true } : { devices: body.devices ?? [] }),
      force: body.force_installation === true,
    });
    return created(reply, id);
  });

  app.post(`${V1}/deployments/group/:name`, async (req, reply) => {
    requireManagement(ctx, req);
    const group = param(req, 'name');
    if (group === '') throw badRequest('Missing group name');
    const body = parseBody(NewGroupDeployment, req.body, 'Validating request body');
    if (body.name === '') throw blank('name');
    if (body.artifact_name === '') throw blank('artifact_name');
    const id = store.createDeployment({
      name: body.name,
      artifactName: body.artifact_name,
      group,
      force: body.force_installation === true,
    });
    return created(reply, id);
  });

  /**
   * The deployment list filters of v1 (and 4.1's v2). [code] mender-server
   * backend/services/deployments/api/http/api_deployments.go ParseLookupQuery (shared by v1 and v2; the
   * 3.7-era deployments api/http has the same switch): `status` pending|inprogress|finished|aborted, else
   * 400 "unknown status X"; `sort` case-insensitive, empty = desc; `type` software|configuration, else 400
   * "unknown deployment type X". `search` is v1 only (ParseDeploymentLookupQueryV1). deployments
   * store/mongo datastore_mongo.go `Find`: pending and inprogress select that status, any other status
   * query — `aborted` included — selects `status: finished`, so `?status=aborted` lists every finished
   * deployment, aborted or not; `search` is an unquoted `$text` (any word, see hasAnyWord).
   */
  const listDeployments = (q: ReturnType<typeof queryOf>, v2: boolean): DeploymentView[] => {
    const status = qOne(q, 'status');
    if (status && !['pending', 'inprogress', 'finished', 'aborted'].includes(status)) {
      throw badRequest(`unknown status ${status}`);
    }
    const sort = (qOne(q, 'sort') || 'desc').toLowerCase();
    if (sort !== 'asc' && sort !== 'desc') throw badRequest('invalid form value: must be one of "asc" or "desc"');
    const unix = (name: string): number | undefined => {
      const v = qOne(q, name);
      if (v === undefined || v === '') return undefined;
      if (!/^\d+$/.test(v)) throw badRequest(`Can't parse param ${name}`);
      return Number(v) * 1000;
    };
    const after = unix('created_after');
    const before = unix('created_before');
    const search = v2 ? undefined : wordsOf(qOne(q, 'search') ?? '');
    const ids = v2 ? new Set(qAll(q, 'id')) : undefined;
    const names = v2 ? new Set(qAll(q, 'name')) : undefined;
    const type = qOne(q, 'type');
    if (type && type !== 'software' && type !== 'configuration') throw badRequest(`unknown deployment type ${type}`);
    return store
      .deployments()
      .filter(
        (d) =>
          (!status || d.status === (status === 'aborted' ? 'finished' : status)) &&
          (after === undefined || d.rec.createdMs >= after) &&
          (before === undefined || d.rec.createdMs <= before) &&
          (!search?.length || hasAnyWord(d.rec.name, search) || hasAnyWord(d.rec.artifactName, search)) &&
          (!ids?.size || ids.has(d.rec.id)) &&
          (!names?.size || names.has(d.rec.name)) &&
          (!type || type === 'software'),
      )
      .sort((a, b) => (a.rec.seq - b.rec.seq) * (sort === 'asc' ? 1 : -1));
  };

  app.get(`${V1}/deployments`, async (req, reply) => {
    requireManagement(ctx, req);
    const q = queryOf(req);
    const p = paginate(listDeployments(q, false), q);
    pageHeaders(reply, req, p, { totalCount: true, link: 'full' });
    return p.items.map(deploymentJson);
  });

  // 4.1 only: mender-server deployments api/http (routes `GET /api/management/v2/deployments/deployments`):
  // filters id[], name[] (exact), status, type, created_before/after, sort; X-Total-Count and Link.
  if (ctx.profile === '4.1') {
    app.get(`${V2}/deployments`, async (req, reply) => {
      requireManagement(ctx, req);
      const q = queryOf(req);
      const p = paginate(listDeployments(q, true), q);
      pageHeaders(reply, req, p, { totalCount: true, link: 'full' });
      return p.items.map(deploymentJson);
    });
  }

  // [code] deployments api/http GetDeploymentsStats (both lines): an empty id list is 200 `{}`; then every
  // id must be a UUID (400), at most 100 of them; unknown ids are 404.
  app.post(`${V1}/deployments/statistics/list`, async (req, reply) => {
    requireManagement(ctx, req);
    const body = parseBody(StatsList, req.body, 'Validating request body');
    if (body.deployment_ids.length === 0) return reply.code(200).send({});
    if (body.deployment_ids.length > 100) throw badRequest('deployment_ids: the length must be no more than 100.');
    for (const id of body.deployment_ids) requireUuid(id);
    const found = body.deployment_ids.map((id) => store.deployment(id)).filter((d): d is DeploymentView => !!d);
    if (found.length === 0) throw notFound();
    return found.map((d) => ({ id: d.rec.id, stats: { ...d.stats } }));
  });

  app.get(`${V1}/deployments/:id`, async (req) => {
    requireManagement(ctx, req);
    return deploymentJson(byId(req));
  });

  app.put(`${V1}/deployments/:id/status`, async (req, reply) => {
    requireManagement(ctx, req);
    const id = requireUuid(param(req, 'id'));
    const body = parseBody(AbortBody, req.body, 'Validating request body');
    if (body.status !== 'aborted') throw badRequest('Unexpected deployment status');
    store.abort(id);
    return reply.code(204).send();
  });

  app.get(`${V1}/deployments/:id/statistics`, async (req) => {
    requireManagement(ctx, req);
    return { ...byId(req).stats };
  });

  const deviceList = (d: DeploymentView, status: string | undefined): DeviceDeploymentRec[] => {
    const all = store.deviceDeployments(d.rec.id);
    if (status === undefined) return all;
    const keep = statusFilter(status);
    if (!keep) throw badRequest(`invalid status query: ${status}`);
    return all.filter((dd) => keep(dd.status));
  };

  // Deprecated unpaginated list.
  app.get(`${V1}/deployments/:id/devices`, async (req) => {
    requireManagement(ctx, req);
    const d = byId(req);
    return deviceList(d, qOne(queryOf(req), 'status')).map((dd) => deviceWithImageJson(store, dd, ctx.profile));
  });

  app.get(`${V1}/deployments/:id/devices/list`, async (req, reply) => {
    requireManagement(ctx, req);
    const q = queryOf(req);
    const d = byId(req);
    const p = paginate(deviceList(d, qOne(q, 'status')), q);
    pageHeaders(reply, req, p, { totalCount: true, link: 'full' });
    return p.items.map((dd) => deviceWithImageJson(store, dd, ctx.profile));
  });

  app.get(`${V1}/deployments/:id/device_list`, async (req) => {
    requireManagement(ctx, req);
    return byId(req).rec.targets;
  });

  app.get(`${V1}/deployments/:id/devices/:device/log`, async (req, reply) => {
    requireManagement(ctx, req);
    const d = byId(req);
    const dd = store.deviceDeployment(d.rec.id, param(req, 'device'));
    if (!dd?.log) throw notFound();
    return reply.code(200).type('text/plain; charset=utf-8').send(logText(dd));
  });

  app.get(`${V1}/deployments/devices/:id`, async (req, reply) => {
    requireManagement(ctx, req);
    const q = queryOf(req);
    const status = qOne(q, 'status');
    let history = store.deviceHistory(param(req, 'id'));
    if (status !== undefined) {
      const keep = statusFilter(status);
      if (!keep) throw badRequest(`invalid status query: ${status}`);
      history = history.filter((dd) => keep(dd.status));
    }
    // GUIDE §0: a device's history has per_page at most 20.
    const p = paginate(history, q, { maxPerPage: 20 });
    pageHeaders(reply, req, p, { totalCount: true, link: 'full' });
    return p.items.map((dd) => {
      const dep = store.deployment(dd.deploymentId);
      return {
        id: dd.id,
        ...(dep ? { deployment: deploymentJson(dep) } : {}),
        device: deviceWithImageJson(store, dd, ctx.profile),
      };
    });
  });

  app.delete(`${V1}/deployments/devices/:id`, async (req, reply) => {
    requireManagement(ctx, req);
    store.abortDeviceDeployments(param(req, 'id'));
    return reply.code(204).send();
  });

  app.delete(`${V1}/deployments/devices/:id/history`, async (req, reply) => {
    requireManagement(ctx, req);
    store.deleteHistory(param(req, 'id'));
    return reply.code(204).send();
  });

  // ------------------------------------------------------------------ device side
  // Each artifact's last device link: every 200 on `next` in the same millisecond (same expiry, same base
  // URL) gets the identical link, so it is built once (ISO time, HMAC, URL) and copied.
  const lastLink = new WeakMap<
    ArtifactRec,
    { expireMs: number; base: string; link: { uri: string; expire: string } }
  >();
  const deviceLink = (a: ArtifactRec): { uri: string; expire: string } => {
    const expireMs = store.now + DEVICE_LINK_SECONDS * 1000;
    const base = ctx.publicUrl();
    let last = lastLink.get(a);
    if (last?.expireMs !== expireMs || last.base !== base) {
      last = { expireMs, base, link: downloadLinkAt(ctx, a, expireMs) };
      lastLink.set(a, last);
    }
    return { ...last.link };
  };

  const next = (deviceId: string, artifactName: string | undefined, deviceType: string | undefined) => {
    if (!artifactName || !deviceType) {
      const missing = [!artifactName && 'artifact_name', !deviceType && 'device_type'].filter(Boolean);
      throw badRequest(missing.map((m) => `${String(m)}: cannot be blank`).join('; ') + '.');
    }
    const got = store.next(deviceId, { artifactName, deviceType });
    if (!got) return undefined;
    return {
      id: got.deployment.id,
      artifact: {
        id: got.artifact.id,
        artifact_name: got.artifact.name,
        source: deviceLink(got.artifact),
        device_types_compatible: got.artifact.deviceTypes,
      },
    };
  };

  // GUIDE §6.3: the v2 POST is Enterprise; OSS answers 404 and the client falls back to v1. Every update
  // check hits it, so one immutable error is thrown each time instead of building a new one (its stack
  // capture was ~1 % of the fleet's server CPU); nothing reads or changes its stack.
  const enterpriseOnly = notFound();
  app.post(`${DEV_V2}/next`, async (req) => {
    requireDevice(ctx, req);
    throw enterpriseOnly;
  });
  app.get(`${DEV_V2}/:id/update_control_map`, async (req) => {
    requireDevice(ctx, req);
    throw enterpriseOnly;
  });

  app.get(`${DEV}/next`, async (req, reply) => {
    const id = requireDevice(ctx, req);
    const q = queryOf(req);
    const r = next(id, qOne(q, 'artifact_name'), qOne(q, 'device_type'));
    return r ? reply.code(200).send(r) : reply.code(204).send();
  });

  // [code] POST v1 exists in OSS 3.7 (not in its spec): artifact_name and device_type come from the body
  // (flat, or inside device_provides); other keys are ignored.
  app.post(`${DEV}/next`, async (req, reply) => {
    const id = requireDevice(ctx, req);
    const body = parseBody(NextBody, req.body, 'failed to decode request body', fastNextBody);
    const provides = body.device_provides ?? {};
    const r = next(
      id,
      body.artifact_name ?? str(provides.artifact_name),
      body.device_type ?? str(provides.device_type),
    );
    return r ? reply.code(200).send(r) : reply.code(204).send();
  });

  app.put(`${DEV}/:id/status`, async (req, reply) => {
    const deviceId = requireDevice(ctx, req);
    const body = parseBody(StatusReport, req.body, 'failed to decode request body', fastStatusReport);
    const status = REPORTABLE_STATUSES.find((s) => s === body.status);
    if (!status) throw badRequest(`status: must be a valid value.`);
    store.reportStatus(param(req, 'id'), deviceId, status, body.substate);
    // RECIPE §6.2: exactly 204 (200 makes the client fail the deployment).
    return reply.code(204).send();
  });

  app.put(`${DEV}/:id/log`, async (req, reply) => {
    const deviceId = requireDevice(ctx, req);
    const body = parseBody(LogBody, req.body, 'failed to decode request body');
    if (body.messages.length === 0) throw badRequest('Invalid deployment log: messages: cannot be blank.');
    store.saveLog(param(req, 'id'), deviceId, body.messages);
    return reply.code(204).send();
  });
}
