// A tiny structured logger for the device executables. Gates are short-lived processes that must
// start fast (CONVENTIONS §8), so they do not load pino; the CLI passes core's pino logger instead,
// which satisfies the same interface. Lines are pino-shaped JSON on stderr (stdout belongs to Mender).
// Secrets never reach these calls: adapters log URLs and entity ids, never tokens.
import { writeSync } from 'node:fs';

export interface Log {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const LogLevels = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 } as const;
export type LogLevel = keyof typeof LogLevels;

export function lineLog(
  name: string,
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => {
    try {
      writeSync(2, line);
    } catch {
      // stderr closed
    }
  },
): Log {
  const min = LogLevels[level];
  const at =
    (n: number) =>
    (obj: object, msg: string): void => {
      if (n < min) return;
      write(`${JSON.stringify({ level: n, time: new Date().toISOString(), name, ...obj, msg })}\n`);
    };
  return { debug: at(20), info: at(30), warn: at(40), error: at(50) };
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * "Logged once per change": a sensor that stays broken logs one warning, not one per sample; it logs
 * again when the problem changes and once (info) when the source recovers.
 */
export class ChangeLog {
  readonly #log: Log;
  readonly #last = new Map<string, string | null>();

  constructor(log: Log) {
    this.#log = log;
  }

  /** Report a source's state: `problem` null = fine. */
  report(source: string, problem: string | null): void {
    const before = this.#last.get(source);
    if (before === problem) return;
    this.#last.set(source, problem);
    if (problem !== null) this.#log.warn({ source, problem }, `${source}: ${problem}`);
    else if (before !== undefined) this.#log.info({ source }, `${source}: recovered`);
  }
}
