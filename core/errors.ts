// Errors with stable codes, and the exit codes every executable uses.
// Only a top level (CLI main, a state script's main, the HTTP error handler) turns these into
// an exit code or a status; everything below throws VanError.
import { redactText } from './redact.js';

/** Exit codes of Mender state scripts (RECIPE §5.2): 0 proceed, 1 fail / "not now", 21 retry later. */
export const StateScriptExit = { proceed: 0, fail: 1, retryLater: 21 } as const;
export type StateScriptExitCode = (typeof StateScriptExit)[keyof typeof StateScriptExit];

/** Exit codes of CLI commands. */
export const CliExit = { ok: 0, failure: 1, usage: 2 } as const;

export const ErrorCodes = [
  'USAGE',
  'NOT_IMPLEMENTED',
  'CONFIG_INVALID',
  'CONFIG_UNREADABLE',
  'INPUT_INVALID',
  'META_DATA_INVALID',
  'READINGS_INVALID',
  'MENDER_API',
  'MENDER_UNAUTHORIZED',
  'NOT_FOUND',
  'CONFLICT',
  'TOOL_MISSING',
  'TOOL_FAILED',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ErrorCodes)[number];

const exitCodeFor: Record<ErrorCode, number> = {
  USAGE: CliExit.usage,
  NOT_IMPLEMENTED: CliExit.usage,
  CONFIG_INVALID: CliExit.failure,
  CONFIG_UNREADABLE: CliExit.failure,
  INPUT_INVALID: CliExit.failure,
  META_DATA_INVALID: CliExit.failure,
  READINGS_INVALID: CliExit.failure,
  MENDER_API: CliExit.failure,
  MENDER_UNAUTHORIZED: CliExit.failure,
  NOT_FOUND: CliExit.failure,
  CONFLICT: CliExit.failure,
  TOOL_MISSING: CliExit.failure,
  TOOL_FAILED: CliExit.failure,
  INTERNAL: CliExit.failure,
};

export class VanError extends Error {
  readonly code: ErrorCode;
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: readonly string[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VanError';
    this.code = code;
    this.details = options?.details ?? [];
  }

  get exitCode(): number {
    return exitCodeFor[this.code];
  }
}

export function isVanError(e: unknown): e is VanError {
  return e instanceof VanError;
}

/** One line for a human: the message of a VanError, or a generic line for anything unexpected (secrets redacted). */
export function oneLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return redactText(text.replace(/\s*\n\s*/g, '; ').trim());
}
