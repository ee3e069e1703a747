import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ManualClock, scaledClock } from '../../../core/clock.js';
import { createLogger } from '../../../core/logger.js';
import { hostPaths } from '../../../core/host-paths.js';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('createLogger', () => {
  it('redacts tokens, passwords and keys at any depth up to four levels', () => {
    const out = capture();
    const log = createLogger({ name: 'test', destination: out.stream });
    log.info(
      {
        token: 'tok-top',
        mender: { password: 'pw-1', url: 'http://x' },
        req: { headers: { authorization: 'Bearer abc.def' } },
        vpn: { step: { authkey: 'tskey-auth-xyz' } },
        config: { mender: { auth: { api_token: 'deep-secret' } } },
      },
      'hello',
    );
    const line = out.text();
    for (const secret of ['tok-top', 'pw-1', 'abc.def', 'tskey-auth-xyz', 'deep-secret'])
      expect(line).not.toContain(secret);
    expect(line).toContain('[redacted]');
    expect(JSON.parse(line)).toMatchObject({ name: 'test', msg: 'hello', mender: { url: 'http://x' } });
  });
});

describe('clocks', () => {
  it('ManualClock wakes sleepers only when advanced far enough', async () => {
    const clock = new ManualClock('2026-11-22T10:00:00Z');
    const order: string[] = [];
    const a = clock.sleep(1000).then(() => order.push('a'));
    const b = clock.sleep(5000).then(() => order.push('b'));
    clock.advance(999);
    await Promise.resolve();
    expect(order).toEqual([]);
    clock.advance(1);
    await a;
    expect(order).toEqual(['a']);
    clock.advance(4000);
    await b;
    expect(order).toEqual(['a', 'b']);
    expect(clock.now().toISOString()).toBe('2026-11-22T10:00:05.000Z');
  });

  it('scaledClock runs factor times faster than its real-time source', () => {
    let real = 1_000;
    const clock = scaledClock(60, new Date('2026-11-22T00:00:00Z'), () => real);
    real += 1_000;
    expect(clock.now().toISOString()).toBe('2026-11-22T00:01:00.000Z');
    expect(() => scaledClock(0)).toThrow(/factor/);
  });
});

describe('hostPaths', () => {
  it('puts every device path under the root', () => {
    expect(hostPaths('/tmp/van').vanIdFile).toBe('/tmp/van/etc/vancore/van-id');
    expect(hostPaths().menderModules).toBe('/usr/share/mender/modules/v3');
    expect(() => hostPaths('/r').resolve('relative')).toThrow(/absolute/);
  });
});
