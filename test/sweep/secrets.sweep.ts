// Runs after the whole suite (`npm test`, vitest.sweep.config.ts): every output the run captured —
// CLI stdout/stderr, bridge process logs, API response bodies (test/helpers/output-capture.ts) — is
// grepped for every secret the test configs registered (issue #16 "Done when"). A leak names the secret,
// the capture file and the command or request that showed it.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CAPTURE_ROOT } from '../helpers/output-capture.js';

const latest = join(CAPTURE_ROOT, 'latest');

describe('no secret from the test configs in any output of the run (issue #16)', () => {
  it('the run captured outputs and secrets, and no output contains a secret', () => {
    expect(existsSync(latest), `${latest} is missing: run the suite first (npm test runs it before this)`).toBe(true);
    const dir = readFileSync(latest, 'utf8').trim();
    const secrets = [
      ...new Map(
        readFileSync(join(dir, 'secrets.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { name: string; value: string })
          .map((s) => [s.value, s.name] as const),
      ),
    ];
    const files = readdirSync(dir).filter((f) => f.startsWith('outputs-'));
    const entries = files.flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n=== ')
        .slice(1)
        .map((e) => ({ file: f, source: e.slice(0, e.indexOf('\n')), text: e.slice(e.indexOf('\n') + 1) })),
    );
    // A sweep over nothing proves nothing: the suite's CLI runs, bridge logs and API bodies are here.
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    expect(entries.length).toBeGreaterThanOrEqual(150);
    const leaks = entries.flatMap((e) =>
      secrets.filter(([value]) => e.text.includes(value)).map(([, name]) => `${name} in ${e.file}: ${e.source}`),
    );
    expect(leaks).toEqual([]);
    console.log(`swept ${entries.length} outputs (${files.length} files) for ${secrets.length} secrets: none found`);
  });
});
