// buildSimApp(deps): the simulator's Fastify app, not listening. Routes are plugins per Mender service,
// registered explicitly; one error handler renders every error in the configured body shape.
//
// Response bodies are not re-validated with zod here on purpose: their contract is Mender's own specs,
// and test/contract validates every implemented endpoint against those (a second copy of the schemas
// would only drift). Request bodies are parsed with zod at each route.
import { randomUUID } from 'node:crypto';
import multipart from '@fastify/multipart';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { parseJsonBody } from './app-parsers.js';
import { SimHttpError, errorBody } from './errors.js';
import type { FaultInjector, RequestLog } from './faults.js';
import { pathOf, type SimContext } from './http.js';
import { artifactRoutes } from './routes/artifacts.js';
import { deploymentRoutes } from './routes/deployments.js';
import { deviceAuthRoutes } from './routes/deviceauth.js';
import { inventoryRoutes } from './routes/inventory.js';
import { storageRoutes } from './routes/storage.js';
import { useradmRoutes } from './routes/useradm.js';

export interface SimAppDeps extends SimContext {
  faults: FaultInjector;
  requestLog: RequestLog;
  /**
   * JSON body limit (→ 413); default 16 MiB. startMenderSim passes 1 MiB on the 4.1 profile: mender-server's
   * services default `request_size_limit` to 1 MiB (e.g. backend/services/deviceauth/config, SettingMaxRequestSizeDefault).
   */
  bodyLimit?: number;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export function buildSimApp(deps: SimAppDeps): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    // No per-request log lines: at thousands of requests per second they would cost more than the work.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit ?? 16 * 1024 * 1024,
    // Group names may be up to 1024 characters [code].
    routerOptions: { maxParamLength: 2048 },
    forceCloseConnections: true,
    // A per-request child of a silent logger can never print: skip making one (a pino child per request).
    childLoggerFactory: (logger, bindings, opts) => (logger.level === 'silent' ? logger : logger.child(bindings, opts)),
    genReqId: (req) => {
      // The gateway passes a caller's X-MEN-RequestID through, else makes one.
      const given = req.headers['x-men-requestid'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });

  const sendError = (
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    message: string,
    extra?: Record<string, unknown>,
  ): FastifyReply =>
    reply
      .code(status)
      .type('application/json; charset=utf-8')
      .send(errorBody(deps.errorShape, pathOf(req), status, message, req.id, extra));

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    try {
      done(null, parseJsonBody(body));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  void app.register(multipart);

  // Both hooks are callback-style, not async: on every request an async hook costs a promise and a
  // microtask hop in Fastify's hook runner. An injected fault answers at once and ends the chain (no done).
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('X-MEN-RequestID', req.id);
    const fault = deps.faults.take(pathOf(req));
    if (fault) {
      if (fault.retryAfterSeconds !== undefined) reply.header('Retry-After', String(fault.retryAfterSeconds));
      sendError(req, reply, fault.status, 'injected fault');
      return;
    }
    done();
  });

  app.addHook('onResponse', (req, reply, done) => {
    deps.requestLog.add({ method: req.method, path: pathOf(req), status: reply.statusCode, atMs: deps.store.now });
    done();
  });

  app.setErrorHandler((err: FastifyError | SimHttpError, req, reply) => {
    if (err instanceof SimHttpError) return sendError(req, reply, err.status, err.message, err.extra);
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      const message =
        err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'request body too large' : err.message || 'bad request';
      return sendError(req, reply, status, message);
    }
    req.log.error({ err, method: req.method, path: pathOf(req) }, 'mender-sim: internal error');
    return sendError(req, reply, 500, 'internal error');
  });

  app.setNotFoundHandler((req, reply) => sendError(req, reply, 404, 'Resource not found'));

  void app.register((scope: FastifyInstance, _o, done) => {
    useradmRoutes(scope, deps);
    deviceAuthRoutes(scope, deps);
    inventoryRoutes(scope, deps);
    artifactRoutes(scope, deps);
    deploymentRoutes(scope, deps);
    storageRoutes(scope, deps);
    done();
  });

  return app;
}
