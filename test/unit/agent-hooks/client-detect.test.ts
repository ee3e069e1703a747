// Which Mender client a van runs (core/schemas/client.ts) and how device install finds it
// (agent-hooks/installer/install.ts detectClient): `--version` output of each client as it really
// prints it — Debian's mender 3.4 `3.4.0+ds1-5+b1\truntime: go1.19.8` (this host), mender-update
// `5.1.0` (RECIPE-current §3.1 first row) — and the versions refused (MEN-7900, RECIPE-current §0).
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectClient } from '../../../agent-hooks/installer/install.js';
import type { CommandRunner } from '../../../agent-hooks/lib/runner.js';
import { hostPaths } from '../../../core/host-paths.js';
import {
  classifyClientVersion,
  formatClientAttribute,
  parseClientAttribute,
  parseVersionOutput,
  readInstalledClient,
} from '../../../core/schemas/client.js';

describe('client versions', () => {
  it.each([
    ['mender', '3.4.0', { ok: true, flavour: 'mender-3' }],
    ['mender', '3.5.2', { ok: true, flavour: 'mender-3' }],
    ['mender-update', '5.0.1', { ok: true, flavour: 'mender-update-5' }],
    ['mender-update', '5.1.0', { ok: true, flavour: 'mender-update-5' }],
    ['mender-update', '6.0.0', { ok: true, flavour: 'mender-update-5' }],
    ['mender-update', '5.0.0', { ok: false }],
    ['mender-update', '4.0.6', { ok: false }],
    ['mender', '2.6.0', { ok: false }],
    ['mender-update', 'garbage', { ok: false }],
  ] as const)('%s %s → %o', (binary, version, want) => {
    expect(classifyClientVersion(binary, version)).toMatchObject(want);
  });

  it('refuses 4.0.x–5.0.0 naming MEN-7900', () => {
    const r = classifyClientVersion('mender-update', '4.0.0');
    expect(r.ok ? '' : r.reason).toMatch(/MEN-7900.*≥ 5\.0\.1/);
  });

  it.each([
    ['3.4.0+ds1-5+b1\truntime: go1.19.8\n', '3.4.0+ds1-5+b1'],
    ['5.1.0\n', '5.1.0'],
    ['mender-update version unknown\n', undefined],
  ])('--version output %j → %s', (text, want) => {
    expect(parseVersionOutput(text)).toBe(want);
  });

  it('vancore.client round-trips, and untrusted values are refused', () => {
    expect(formatClientAttribute({ flavour: 'mender-3', version: '3.4.0+ds1-5+b1' })).toBe('mender/3.4.0+ds1-5+b1');
    expect(parseClientAttribute('mender-update/5.1.0')).toEqual({ flavour: 'mender-update-5', version: '5.1.0' });
    for (const bad of ['mender-update', 'mender/3.4', 'mender-auth/5.1.0', 'mender/3.4.0 ; rm -rf /', '']) {
      expect(parseClientAttribute(bad), bad).toBeUndefined();
    }
  });

  it('reads the client record; absent is null, broken is null with the problem', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vc-client-'));
    expect(readInstalledClient(join(dir, 'none.json'))).toEqual({ client: null });
    await writeFile(join(dir, 'ok.json'), '{"flavour":"mender-update-5","version":"5.1.0"}');
    expect(readInstalledClient(join(dir, 'ok.json'))).toEqual({
      client: { flavour: 'mender-update-5', version: '5.1.0' },
    });
    await writeFile(join(dir, 'bad.json'), '{"flavour":"mender-4","version":"4.0.0"}');
    expect(readInstalledClient(join(dir, 'bad.json')).problem).toMatch(/not a client record/);
    await writeFile(join(dir, 'junk.json'), '{');
    expect(readInstalledClient(join(dir, 'junk.json')).problem).toMatch(/not JSON/);
  });
});

/** A runner where only the listed programs exist, printing the given --version output. */
function runnerFor(versions: Record<string, string>): CommandRunner {
  return {
    run: (cmd) => {
      const name = cmd.split('/').pop() ?? cmd;
      const out = versions[name];
      return Promise.resolve(
        out === undefined
          ? { code: null, signal: null, stdout: '', stderr: '', timedOut: false, spawnError: 'ENOENT' }
          : { code: 0, signal: null, stdout: out, stderr: '', timedOut: false },
      );
    },
  };
}

describe('detectClient', () => {
  const paths = hostPaths('/nonexistent-van-root');
  it.each([
    [
      'auto, only mender 3.4',
      'auto',
      { mender: '3.4.0+ds1-5+b1\truntime: go1.19.8\n' },
      { flavour: 'mender-3', version: '3.4.0+ds1-5+b1' },
    ],
    [
      'auto, both: mender-update wins',
      'auto',
      { mender: '3.4.0\n', 'mender-update': '5.1.0\n' },
      { flavour: 'mender-update-5', version: '5.1.0' },
    ],
    [
      '--client 3 with both',
      'mender-3',
      { mender: '3.4.0\n', 'mender-update': '5.1.0\n' },
      { flavour: 'mender-3', version: '3.4.0' },
    ],
  ] as const)('%s', async (_name, want, versions, client) => {
    expect(await detectClient(paths, want, runnerFor(versions))).toEqual(client);
  });

  it.each([
    [
      'no client at all',
      'auto',
      {},
      /no mender-update or mender found under \/nonexistent-van-root or on this host's PATH/,
    ],
    [
      'auto, mender-update 5.0.0 (not falling back to mender)',
      'auto',
      { mender: '3.4.0\n', 'mender-update': '5.0.0\n' },
      /MEN-7900/,
    ],
    ['--client 5 with only mender', 'mender-update-5', { mender: '3.4.0\n' }, /no mender-update found/],
    [
      'unreadable version',
      'auto',
      { 'mender-update': 'oops\n' },
      /cannot read the version of mender-update from 'oops'/,
    ],
  ] as const)('refuses: %s', async (_name, want, versions, message) => {
    await expect(detectClient(paths, want, runnerFor(versions))).rejects.toThrow(message);
  });
});
