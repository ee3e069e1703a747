import { describe, expect, it } from 'vitest';
import { PayloadIndex, isSafeBundlePath, isSafeDevicePath } from '../../../core/schemas/payload-index.js';
import { issuesOf } from '../../helpers/parse.js';
import { createProgress } from '../../../mender-artifacts/progress.js';

function capture(isTTY: boolean) {
  let text = '';
  let t = 0;
  const stream = { write: (s: string) => (text += s), isTTY, columns: 100 };
  return { stream, text: () => text, tick: (ms: number) => (t += ms), now: () => t };
}

describe('progress', () => {
  it('prints one plain line per 10 % in CI, never backwards, and 100 % at the end', () => {
    const c = capture(false);
    const p = createProgress(c.stream, 'vancore-app-1.4.0', c.now);
    for (const f of [0, 0.05, 0.12, 0.11, 0.35, 0.99]) p.update(f, 'writing');
    p.done(true);
    expect(c.text()).toBe(
      [0, 10, 30, 90].map((n) => `progress: vancore-app-1.4.0 ${n}% (writing)\n`).join('') +
        'progress: vancore-app-1.4.0 100% (done)\n',
    );
  });

  it('redraws one bar in place on a terminal, at most ten times a second', () => {
    const c = capture(true);
    const p = createProgress(c.stream, 'x', c.now);
    c.tick(1000);
    p.update(0.5, 'writing');
    p.update(0.6, 'writing'); // same instant: skipped
    c.tick(200);
    p.update(0.7, 'hashing');
    p.done(true);
    const frames = c.text().split('\r').filter(Boolean);
    expect(frames).toHaveLength(3);
    expect(frames[0]?.startsWith('\u001b[2Kx [#')).toBe(true);
    expect(frames[0]?.endsWith('.]  50% writing')).toBe(true);
    expect(frames[2]).toMatch(/ 100% done\n$/);
  });

  it('ends a failed run without claiming 100 %', () => {
    const c = capture(false);
    const p = createProgress(c.stream, 'x', c.now);
    p.update(0.3, 'writing');
    p.done(false);
    expect(c.text()).not.toContain('100%');
  });
});

describe('payload index paths', () => {
  it.each([
    ['/etc/vancore/ota.yaml', true],
    ['/etc/vancore/.hidden', true],
    ['/', false],
    ['etc/x', false],
    ['/etc/../x', false],
    ['/etc/./x', false],
    ['/etc//x', false],
    ['/etc/x/', false],
    ['/etc/x\u0000', false],
    ['/etc/x\ny', false],
  ])('device path %j → %s', (p, ok) => {
    expect(isSafeDevicePath(p)).toBe(ok);
  });

  it.each([
    ['docker-compose.yml', true],
    ['images/app.tar', true],
    ['.env', true],
    ['/abs', false],
    ['../up', false],
    ['a/../b', false],
    ['', false],
  ])('bundle path %j → %s', (p, ok) => {
    expect(isSafeBundlePath(p)).toBe(ok);
  });

  it('rejects an index that would write outside its place, naming the field', () => {
    const index = {
      format: 1,
      type: 'vancore-config',
      component: 'config',
      version: '1.0.0',
      files: [{ name: '0000-x', dest: '/etc/../root/.ssh/authorized_keys', mode: '0644', size: 1 }],
    };
    expect(issuesOf(PayloadIndex, index)).toEqual([
      'files[0].dest: must be an absolute path without "..", "." or empty segments, NUL or control characters',
    ]);
  });
});
