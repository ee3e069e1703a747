// Body parsing as the Go services do it: JSON whatever the Content-Type says (go-json-rest decodes the
// payload without looking at it), an empty body is "no body", malformed JSON is a 400 in the service shape.
import { badRequest } from './errors.js';

export function parseJsonBody(body: Buffer | string): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const why = e instanceof Error ? e.message : 'invalid JSON';
    throw badRequest(`failed to decode request body: ${why}`);
  }
}
