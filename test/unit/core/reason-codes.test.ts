// The one catalogue of gate reason codes (core/reason-codes.ts, issue #15).
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  REASON_CATALOGUE,
  ReasonCodes,
  codesKey,
  formatCodes,
  formatReasonLine,
  isReasonCode,
  parseCodes,
  reasonTitle,
} from '../../../core/reason-codes.js';
import { gateReasonCodes, gateReasonMessage } from '../../../core/gate-reason.js';
import { repoRoot } from '../../helpers/cli.js';

async function sources(dir: string): Promise<string[]> {
  const files = (await readdir(join(repoRoot, dir), { recursive: true })).filter((f) => f.endsWith('.ts'));
  return Promise.all(files.map((f) => readFile(join(repoRoot, dir, f), 'utf8')));
}

describe('the reason-code catalogue', () => {
  it('holds every code the device side gives (a scan of reason(…) / code: … in the sources)', async () => {
    const used = new Set<string>();
    for (const dir of ['state-scripts', 'agent-hooks', 'mender-sim/fleet'])
      for (const text of await sources(dir))
        for (const m of text.matchAll(/(?:\breason\(\s*|\bcode:\s*)'([a-z][a-z0-9_]*)'/g)) used.add(m[1]!);
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((c) => !isReasonCode(c))).toEqual([]);
  });

  it('every code has a title, a phase and a code-shaped name', () => {
    for (const code of ReasonCodes) {
      expect(code).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(REASON_CATALOGUE[code].title.length).toBeGreaterThan(5);
      expect(REASON_CATALOGUE[code].phases.length).toBeGreaterThan(0);
    }
  });

  it('the formatter writes the line the bridge parses back', () => {
    const line = formatReasonLine([{ code: 'moving', message: 'stationary 10 s of 3 min' }, { code: 'signal_low' }]);
    expect(line).toBe('moving, signal_low: stationary 10 s of 3 min; the signal is too weak for the download');
    expect(gateReasonCodes(line)).toEqual(['moving', 'signal_low']);
    expect(gateReasonMessage(line)).toBe('stationary 10 s of 3 min; the signal is too weak for the download');
    expect(formatReasonLine([])).toBe('');
  });

  it('codes keys: order-free, repeats and junk dropped; unknown codes are shown as themselves', () => {
    expect(formatCodes(['signal_low', 'moving', 'signal_low'])).toBe('signal_low,moving');
    expect(parseCodes(' moving , , Bad-Code,signal_low')).toEqual(['moving', 'signal_low']);
    expect(codesKey(['signal_low', 'moving'])).toBe(codesKey(['moving', 'signal_low']));
    expect(reasonTitle('from_a_newer_hub')).toBe('reason code from_a_newer_hub');
    expect(reasonTitle('none')).toBe('no reason reported');
  });
});
