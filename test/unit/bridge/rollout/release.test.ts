// Releases resolved against the known artifacts: accepted in dependency order, or rejected with the reason.
import { describe, expect, it } from 'vitest';
import { type ArtifactFact, resolveRelease } from '../../../../bridge/rollout/release.js';

function art(component: string, version: string, requires: Record<string, string> = {}, name?: string): ArtifactFact {
  return {
    id: `${component}-${version}-${name ?? ''}`,
    name: name ?? `vancore-${component}-${version}`,
    component,
    version,
    requires,
  };
}

const known = [
  art('platform', '1.0.0'),
  art('platform', '0.9.0'),
  art('app', '1.4.0', { platform: '^1.0.0' }),
  art('maps', '2.0.0', { app: '>=1.4.0', platform: '>=1.0.0' }),
  art('loop-a', '1.0.0', { 'loop-b': '*' }),
  art('loop-b', '1.0.0', { 'loop-a': '*' }),
  art('twin', '1.0.0', {}, 'twin-x'),
  art('twin', '1.0.0', {}, 'twin-y'),
  art('bad', '1.0.0', { platform: 'not a range!' }),
];

describe('resolveRelease', () => {
  it('orders components dependencies first and names their artifacts', () => {
    const v = resolveRelease({ maps: '2.0.0', app: '1.4.0', platform: '1.0.0' }, known);
    expect(v.ok).toBe(true);
    if (v.ok) {
      expect(v.components.map((c) => c.component)).toEqual(['platform', 'app', 'maps']);
      expect(v.components[1]).toMatchObject({ artifact_name: 'vancore-app-1.4.0', requires: { platform: '^1.0.0' } });
    }
  });

  it.each([
    [{}, /at least one component/],
    [{ app: '9.9.9', platform: '1.0.0' }, /app 9\.9\.9: no such artifact/],
    [{ app: 'latest' }, /not a semantic version/],
    [
      { app: '1.4.0', platform: '0.9.0' },
      /app 1\.4\.0 requires platform \^1\.0\.0, but the release has platform 0\.9\.0/,
    ],
    [{ app: '1.4.0' }, /requires platform \^1\.0\.0, which the release does not include/],
    [{ 'loop-a': '1.0.0', 'loop-b': '1.0.0' }, /cycle/],
    [{ twin: '1.0.0' }, /ambiguous/],
    [{ bad: '1.0.0', platform: '1.0.0' }, /not a valid range/],
  ])('rejects %j with the reason', (wanted, reason) => {
    const v = resolveRelease(wanted, known);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).toMatch(reason);
  });
});
