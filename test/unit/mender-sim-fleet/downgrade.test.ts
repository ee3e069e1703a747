// The virtual van's no-downgrade check (mender-sim/fleet/machine.ts refusedDowngrade), the rule of
// agent-hooks/lib/downgrade.ts decideDowngrade for the cases a rollout's revert meets.
import { describe, expect, it } from 'vitest';
import { refusedDowngrade } from '../../../mender-sim/fleet/machine.js';

const on = { versions: { platform: '1.0.0', app: '1.5.0' } };
const facts = (versions: Record<string, string>, revertOf?: string) => ({
  name: 'x',
  versions,
  provides: {},
  ...(revertOf ? { revertOf } : {}),
});

describe('refusedDowngrade', () => {
  it.each([
    ['newer', facts({ app: '1.6.0' }), undefined],
    ['equal (a reinstall)', facts({ app: '1.5.0' }), undefined],
    ['a component the van lacks', facts({ maps: '0.1.0' }), undefined],
    ['the explicit revert of the installed version', facts({ app: '1.4.0' }, '1.5.0'), undefined],
    ['older, plain', facts({ app: '1.4.0' }), 'downgrade_refused: app 1.4.0 is older than the installed 1.5.0'],
    [
      'older, a revert of another version',
      facts({ app: '1.4.0' }, '1.6.0'),
      'downgrade_refused: app 1.4.0 is older than the installed 1.5.0',
    ],
  ])('%s', (_, f, expected) => {
    expect(refusedDowngrade(on, f)).toBe(expected);
  });
});
