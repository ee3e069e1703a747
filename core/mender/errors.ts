// Mender's two error body shapes (GUIDE §0): the service's {"error": "msg", "request_id": "…"} and the
// 3.x gateway's {"error": {"status_code": 404, "message": "Not Found"}}. Both become one MenderApiError.
import { VanError, type ErrorCode } from '../errors.js';

export class MenderApiError extends VanError {
  readonly status: number;
  readonly requestId: string | undefined;
  readonly menderMessage: string;

  constructor(method: string, path: string, status: number, menderMessage: string, requestId: string | undefined) {
    super(codeFor(status), `Mender ${method} ${path}: ${status} ${menderMessage}`);
    this.status = status;
    this.requestId = requestId;
    this.menderMessage = menderMessage;
  }
}

function codeFor(status: number): ErrorCode {
  if (status === 401 || status === 403) return 'MENDER_UNAUTHORIZED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'CONFLICT';
  return 'MENDER_API';
}

/** The message and request id from either body shape (or from plain text, or nothing useful). */
export function readErrorBody(body: unknown, fallback: string): { message: string; requestId?: string } {
  let value: unknown = Buffer.isBuffer(body) ? body.toString('utf8') : body;
  if (typeof value === 'string') {
    const raw = value;
    try {
      value = JSON.parse(raw);
    } catch {
      const text = raw.trim().split('\n')[0]?.slice(0, 200);
      return { message: text || fallback };
    }
  }
  if (value && typeof value === 'object' && 'error' in value) {
    const { error, request_id } = value as { error: unknown; request_id?: unknown };
    const requestId = typeof request_id === 'string' ? request_id : undefined;
    if (typeof error === 'string') return { message: error, ...(requestId ? { requestId } : {}) };
    if (error && typeof error === 'object' && 'message' in error && typeof error.message === 'string') {
      return { message: error.message, ...(requestId ? { requestId } : {}) };
    }
  }
  return { message: fallback };
}
