// Error bodies exactly as Mender 3.7 sends them (GUIDE §0): the services' `{"error": "...", "request_id"}`
// and, behind the reference Traefik gateway, `{"error": {"status_code", "message"}}` for some statuses.
import { STATUS_CODES } from 'node:http';

export type ErrorShape = 'service' | 'gateway';

/** A response the simulator answers on purpose (a Mender error), thrown from routes and the store. */
export class SimHttpError extends Error {
  readonly status: number;
  /** Extra fields of the service body (ErrorExt `metadata`, `active_deployments`). */
  readonly extra: Record<string, unknown> | undefined;

  constructor(status: number, message: string, options: { extra?: Record<string, unknown> } = {}) {
    super(message);
    this.name = 'SimHttpError';
    this.status = status;
    this.extra = options.extra;
  }
}

export const notFound = (message = 'Resource not found'): SimHttpError => new SimHttpError(404, message);
export const badRequest = (message: string): SimHttpError => new SimHttpError(400, message);

const MANAGEMENT = '/api/management/';
const DEVICE_GATEWAY_ROUTES = [
  '/api/devices/v1/deployments/',
  '/api/devices/v2/deployments/',
  '/api/devices/v1/inventory/',
];

/**
 * Whether the reference gateway replaces the body [code, integration 3.7 config/traefik]: 401–404 and 429
 * on management routes; those plus 408 and 500–504 on device deployments and device inventory routes
 * (never on auth_requests). 400, 409, 412 and 422 always pass through.
 */
export function gatewayReplaces(path: string, status: number): boolean {
  const base = (status >= 401 && status <= 404) || status === 429;
  if (path.startsWith(MANAGEMENT)) return base;
  if (DEVICE_GATEWAY_ROUTES.some((p) => path.startsWith(p))) {
    return base || status === 408 || (status >= 500 && status <= 504);
  }
  return false;
}

/** The JSON body for an error status on `path`, in the configured shape. */
export function errorBody(
  shape: ErrorShape,
  path: string,
  status: number,
  message: string,
  requestId: string,
  extra?: Record<string, unknown>,
): unknown {
  if (shape === 'gateway' && gatewayReplaces(path, status)) {
    return { error: { status_code: status, message: STATUS_CODES[status] ?? 'Error' } };
  }
  return { error: message, ...extra, request_id: requestId };
}
