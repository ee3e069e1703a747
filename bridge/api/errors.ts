// One error shape for every answer that is not a success: `{error, code, request_id}`. Only here does an
// error become an HTTP status (CONVENTIONS §6); routes throw VanErrors with a stable code.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isVanError } from '../../core/errors.js';

const statusFor: Record<string, number> = {
  NOT_FOUND: 404,
  INPUT_INVALID: 400,
  USAGE: 400,
  CONFLICT: 409,
  MENDER_API: 502,
  MENDER_UNAUTHORIZED: 502,
};

const codeForStatus: Record<number, string> = {
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  500: 'INTERNAL',
};

export function errorHandler(
  err: Error & { statusCode?: number },
  req: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const request_id = req.id;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const first = err.validation[0];
    // instancePath is `/a/0/b`, or `/` (or empty) for the body itself: `body.a.0.b` / `body`.
    const path = first?.instancePath.split('/').filter(Boolean) ?? [];
    const where = first ? [err.validationContext ?? 'request', ...path].join('.') : 'request';
    return reply
      .status(400)
      .send({ error: `${where}: ${first?.message ?? 'invalid'}`, code: 'INPUT_INVALID', request_id });
  }
  if (isVanError(err))
    return reply.status(statusFor[err.code] ?? 500).send({ error: err.message, code: err.code, request_id });
  const status =
    typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
  if (status === 500) req.log.error({ err }, 'request failed');
  const code = codeForStatus[status] ?? 'INPUT_INVALID';
  const error =
    status === 500
      ? 'internal error'
      : status === 415
        ? `unsupported Content-Type ${req.headers['content-type'] ?? '(none)'}: send application/json`
        : err.message;
  return reply.status(status).send({ error, code, request_id });
}

export function notFoundHandler(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply
    .status(404)
    .send({ error: `no route ${req.method} ${req.url.split('?')[0]}`, code: 'NOT_FOUND', request_id: req.id });
}

/** A URL Fastify cannot decode (`%E0%A4%A`) answers in our error shape, not Fastify's (#16 item 9). */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  void reply.code(400).send({ error: `malformed URL: ${err.message}`, code: 'INPUT_INVALID', request_id: req.id });
}
