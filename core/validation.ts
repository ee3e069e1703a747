// Readable `path: message` lines for zod issues. The device-path schemas use zod/mini, which ships
// no locale (its messages are all "Invalid input"), so the wording lives here, once, for both flavours.
import type { core } from 'zod/mini';
import { VanError, type ErrorCode } from './errors.js';

type Issue = core.$ZodIssue;

export interface SafeParser<T> {
  safeParse(
    data: unknown,
    params?: { reportInput?: boolean },
  ): { success: true; data: T } | { success: false; error: { issues: Issue[] } };
}

const typeNames: Record<string, string> = {
  int: 'a whole number',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  record: 'an object',
  null: 'null',
};

function kindOf(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'number') return Number.isInteger(input) ? 'a whole number' : 'a fraction';
  return typeNames[typeof input] ?? typeof input;
}

function bound(issue: { origin?: string }, n: number | bigint, over: boolean, inclusive: boolean): string {
  switch (issue.origin) {
    case 'string':
      return `must have ${over ? 'at most' : 'at least'} ${n} character${n === 1 ? '' : 's'}`;
    case 'array':
    case 'set':
      return `must have ${over ? 'at most' : 'at least'} ${n} item${n === 1 ? '' : 's'}`;
    default:
      return `must be ${over ? (inclusive ? '≤' : '<') : inclusive ? '≥' : '>'} ${n}`;
  }
}

const formatText: Record<string, string> = {
  datetime: 'must be an ISO 8601 UTC date-time such as 2026-11-22T10:00:00Z',
  url: 'must be a URL',
  uuid: 'must be a UUID',
  email: 'must be an e-mail address',
};

/**
 * The wording is ours for every built-in check, so a message reads the same whether or not classic
 * zod (which installs an English locale globally) is loaded. Only messages our schemas set themselves
 * (refinements, regex checks) are taken from the issue.
 */
function messageOf(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type': {
      const want = typeNames[issue.expected] ?? issue.expected;
      // Only the input's kind is named, never its value (it may be a secret).
      return issue.input === undefined ? `is required (${want})` : `must be ${want}, not ${kindOf(issue.input)}`;
    }
    case 'too_big':
      return bound(issue, issue.maximum, true, issue.inclusive ?? true);
    case 'too_small':
      return bound(issue, issue.minimum, false, issue.inclusive ?? true);
    case 'invalid_format':
      if (issue.format === 'regex') return ownMessage(issue) ?? `must match ${String(issue.pattern)}`;
      return formatText[issue.format] ?? `must be a valid ${issue.format}`;
    case 'invalid_value':
      return `must be one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length === 1 ? '' : 's'}: ${issue.keys.join(', ')}`;
    case 'invalid_union':
      return 'does not match any allowed form';
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'invalid_key':
      return 'has an invalid key';
    case 'invalid_element':
      return 'has an invalid element';
    case 'custom':
      return ownMessage(issue) ?? 'is invalid';
    default:
      return ownMessage(issue) ?? 'is invalid';
  }
}

function ownMessage(issue: Issue): string | undefined {
  const m = issue.message;
  return m && m !== 'Invalid input' && !m.startsWith('Invalid string:') ? m : undefined;
}

function pathOf(issue: Issue): string {
  if (issue.path.length === 0) return '(root)';
  return issue.path
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');
}

/** One `path: message` line per issue. Never echoes input values (they may be secrets). */
export function describeIssues(issues: readonly Issue[]): string[] {
  return issues.map((i) => `${pathOf(i)}: ${messageOf(i)}`);
}

/**
 * Parse or throw a VanError whose message is one line: `<what>: <first issue>[ (+N more)]`,
 * with every issue in `details`.
 */
export function parseWith<T>(schema: SafeParser<T>, data: unknown, what: string, code: ErrorCode = 'INPUT_INVALID'): T {
  const r = schema.safeParse(data, { reportInput: true });
  if (r.success) return r.data;
  const lines = describeIssues(r.error.issues);
  const more = lines.length > 1 ? ` (+${lines.length - 1} more: ${lines.slice(1).join('; ')})` : '';
  throw new VanError(code, `${what}: ${lines[0] ?? 'invalid'}${more}`, { details: lines });
}
