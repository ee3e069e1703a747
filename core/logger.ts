// pino logger factory. Tokens, passwords and keys never reach a log line (CONVENTIONS §6).
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

const SECRET_KEYS = [
  'token',
  'password',
  'authorization',
  'authkey',
  'auth_key',
  'api_token',
  'api_tokens',
  'private_key',
  'secret',
  'cookie',
];

/** Redaction paths: each secret key at the top level and up to three levels down, plus request headers. */
export const REDACT_PATHS: string[] = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.Authorization',
  'config.headers.Authorization',
];

export interface LoggerSettings {
  name: string;
  level?: LoggerOptions['level'];
  /** Where to write; default stderr (stdout of hooks and state scripts belongs to Mender). */
  destination?: DestinationStream;
}

export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    name: settings.name,
    level: settings.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { name: settings.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return pino(options, settings.destination ?? pino.destination({ fd: 2, sync: true }));
}
