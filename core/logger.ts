// pino logger factory. Tokens, passwords and keys never reach a log line (CONVENTIONS §6): secret
// keys are redacted by path, and every finished line is scrubbed of URL credentials and
// Authorization values wherever they hide (an error message, a URL field) — issue #16 item 6.
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { SECRET_KEYS, redactText } from './redact.js';

export type { Logger } from 'pino';

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
  return pino(options, scrubbing(settings.destination ?? pino.destination({ fd: 2, sync: true })));
}

/** The destination, with each line passed through redactText (cheap: two regexes on one line). */
function scrubbing(dest: DestinationStream): DestinationStream {
  const flushable = dest as DestinationStream & { flushSync?: () => void };
  return Object.assign(Object.create(dest) as DestinationStream, {
    write: (line: string) => dest.write(redactText(line)),
    ...(typeof flushable.flushSync === 'function' ? { flushSync: () => flushable.flushSync?.() } : {}),
  });
}
