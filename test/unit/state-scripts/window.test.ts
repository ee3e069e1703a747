import { describe, expect, it } from 'vitest';
import { Weekdays } from '../../../core/schemas/common.js';
import { windowStatus } from '../../../state-scripts/policy/window.js';
import { wall } from './builders.js';

const all = [...Weekdays];
const H = 3600;

describe('maintenance window (pure)', () => {
  it.each([
    ['daily 22–06 at 23:00', all, '22:00', '06:00', wall('mon', '23:00'), true, null],
    ['daily 22–06 at 05:59 (opened the day before)', all, '22:00', '06:00', wall('mon', '05:59'), true, null],
    ['daily 22–06 at 06:00: closed until 22:00', all, '22:00', '06:00', wall('mon', '06:00'), false, 16 * H],
    ['sat 22–04 on sun 03:00 (counted from sat)', ['sat'], '22:00', '04:00', wall('sun', '03:00'), true, null],
    ['sat 22–04 on sat 03:00 (fri did not open it)', ['sat'], '22:00', '04:00', wall('sat', '03:00'), false, 19 * H],
    ['sat 22–04 on mon 03:00: next sat', ['sat'], '22:00', '04:00', wall('mon', '03:00'), false, (5 * 24 + 19) * H],
    [
      'weekdays 09–17 on sat 10:00: monday 09:00',
      ['mon', 'tue', 'wed', 'thu', 'fri'],
      '09:00',
      '17:00',
      wall('sat', '10:00'),
      false,
      47 * H,
    ],
    [
      'weekdays 09–17 on wed 16:59',
      ['mon', 'tue', 'wed', 'thu', 'fri'],
      '09:00',
      '17:00',
      wall('wed', '16:59'),
      true,
      null,
    ],
    [
      'weekdays 09–17 on wed 17:00: closed',
      ['mon', 'tue', 'wed', 'thu', 'fri'],
      '09:00',
      '17:00',
      wall('wed', '17:00'),
      false,
      16 * H,
    ],
    ['start = end: 24 h from start', ['sun'], '12:00', '12:00', wall('mon', '11:59'), true, null],
    ['start = end: closes at start the next day', ['sun'], '12:00', '12:00', wall('mon', '12:00'), false, 6 * 24 * H],
    ['seconds count: 30 s before opening', all, '22:00', '06:00', wall('mon', '21:59', 30), false, 30],
  ] as const)('%s', (_name, days, start, end, now, open, opensIn) => {
    expect(windowStatus({ days: [...days], start, end }, now)).toEqual({ open, opens_in_s: opensIn });
  });
});
