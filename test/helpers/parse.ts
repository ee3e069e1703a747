import { describeIssues, type SafeParser } from '../../core/validation.js';

/** `path: message` lines of a failed parse ([] when it parses). */
export function issuesOf(schema: SafeParser<unknown>, data: unknown): string[] {
  const r = schema.safeParse(data, { reportInput: true });
  return r.success ? [] : describeIssues(r.error.issues);
}
