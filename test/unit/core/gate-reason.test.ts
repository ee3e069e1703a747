// The reason codes of a `vancore.gate.reason` line (core/gate-reason.ts), as gateReasonLine writes them.
import { describe, expect, it } from 'vitest';
import { gateReasonCodes, gateReasonMessage } from '../../../core/gate-reason.js';
import { gateReasonLine } from '../../../core/gate-journal.js';

describe('gateReasonCodes', () => {
  it.each([
    ['moving: stationary 0 of 3 min', ['moving'], 'stationary 0 of 3 min'],
    ['signal_low, battery_low: a; b', ['signal_low', 'battery_low'], 'a; b'],
    ['signal_low,signal_low: twice', ['signal_low'], 'twice'],
    ['moving', ['unknown'], 'moving'],
    ['Moving: capitalised is not a code', ['unknown'], 'Moving: capitalised is not a code'],
    ['', ['none'], ''],
    [null, ['none'], ''],
  ])('%j → %j', (line, codes, message) => {
    expect(gateReasonCodes(line)).toEqual(codes);
    expect(gateReasonMessage(line)).toBe(message);
  });

  it('reads back what the hub writes', () => {
    const line = gateReasonLine({
      reasons: [
        { code: 'signal_low', message: 'signal 0.3 < 0.6' },
        { code: 'stale_readings', message: 'power reading 20 min old' },
      ],
    });
    expect(gateReasonCodes(line)).toEqual(['signal_low', 'stale_readings']);
    expect(gateReasonMessage(line)).toBe('signal 0.3 < 0.6; power reading 20 min old');
  });
});
