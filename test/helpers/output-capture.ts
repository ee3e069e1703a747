// Every output a test run shows a person or a log — CLI stdout/stderr, bridge process output, API
// response bodies — and every secret the test configs hold are written to one capture directory per
// run (issue #16 "Done when": a run of the whole suite leaves no secret from the test configs in any
// log, response body or CLI output). `npm test` runs the sweep (test/sweep/secrets.sweep.ts) after the
// suite: it greps every captured output for every registered secret.
//
// The directory is made by the global setup (test/helpers/pg-global.ts) and named in
// `.tmp/test-outputs/latest`. Outside a full run (no directory set) nothing is written.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

export const CAPTURE_ENV = 'VANCORE_TEST_CAPTURE_DIR';
export const CAPTURE_ROOT = join(import.meta.dirname, '../../.tmp/test-outputs');

function dir(): string | undefined {
  return process.env[CAPTURE_ENV] || undefined;
}

/** Record what `source` showed (one entry; empty texts are skipped). */
export function captureOutput(source: string, ...texts: (string | Buffer | undefined | null)[]): void {
  const d = dir();
  if (!d) return;
  const body = texts
    .map((t) => (t === undefined || t === null ? '' : t.toString()))
    .filter((t) => t !== '')
    .join('\n');
  if (body === '') return;
  appendFileSync(join(d, `outputs-${process.pid}.log`), `\n=== ${source}\n${body}\n`);
}

/** A secret a test config holds: the sweep fails if any captured output contains it. */
export function registerSecret(name: string, value: string): string {
  const d = dir();
  if (d) appendFileSync(join(d, 'secrets.jsonl'), `${JSON.stringify({ name, value })}\n`);
  return value;
}
