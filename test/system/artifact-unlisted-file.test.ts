// Issue #16 item 10 (MEN-9109) with the real tools: a signed vancore-config artifact built by
// `vancore-ota artifact build --key`, then tampered with mender-artifact's own container format and
// plain tar — one extra payload file that the signed manifest does not list. `artifact verify` refuses
// it, and the real mender-client 3.4 (with ArtifactVerifyKey) leaves the van unchanged. Before
// mender-update 5.0.4 the C++ client did not refuse such a file (research/anchors-2026.md), so the module's own check (agent-hooks/lib/payload.ts, test/integration/agent-hooks/
// unlisted-payload-file.test.ts) is what holds on every client.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { copyBuiltHooks } from '../integration/agent-hooks/support/bundles.js';
import { artifactCli, keyPair } from '../unit/mender-artifacts/fixtures.js';
import { systemTest } from './harness/bed.js';
import { runMender } from '../../mender-sim/real-client/mender.js';
import { standaloneConfig } from '../../mender-sim/real-client/sandbox.js';

const run = promisify(execFile);
let work: string;
let module: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-sys-unlisted-'));
  module = (await copyBuiltHooks(join(work, 'hooks'), ['modules/vancore-config']))['modules/vancore-config'];
}, 60_000);
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Outer tar: version, manifest, manifest.sig, header.tar.gz, data/0000.tar.gz — add one file to the data tar. */
async function smuggle(art: string, out: string): Promise<void> {
  const x = await mkdtemp(join(work, 'x-'));
  await run('tar', ['-C', x, '-xf', art]);
  const order = (await run('tar', ['-tf', art])).stdout.trim().split('\n');
  const data = order.find((n) => n.startsWith('data/'));
  if (!data?.endsWith('.tar.gz')) throw new Error(`unexpected artifact layout: ${order.join(' ')}`);
  const d = await mkdtemp(join(work, 'd-'));
  await run('tar', ['-C', d, '-xzf', join(x, data)]);
  const names = (await run('tar', ['-tzf', join(x, data)])).stdout.trim().split('\n');
  await writeFile(join(d, 'zz-smuggled.sh'), '#!/bin/sh\ntouch /pwned\n');
  await run('tar', ['-C', d, '-czf', join(x, data), ...names, 'zz-smuggled.sh']);
  await run('tar', ['-C', x, '-cf', out, ...order]);
}

describe('a signed artifact with a payload file outside its signed manifest (MEN-9109)', () => {
  systemTest(
    'artifact verify refuses it; mender-client 3.4 + vancore-config leave the van unchanged',
    async ({ bed }) => {
      const keys = await keyPair(work, 'ec-sec1', 'signer');
      const src = join(work, 'hub.conf');
      await writeFile(src, 'mode: new\n');
      const dir = join(work, 'out');
      await mkdir(dir);
      const build = await artifactCli([
      'build', '--type', 'config', '--component', 'config', '--version', '1.7.0', '--device-type', 'vanpc',
      '--file', `${src}:/etc/vancore/hub.conf`, '--no-gate-scripts', '--sign-key', keys.priv, '--out', dir,
      '--compression', 'gzip', // the test rewrites the gzip'd payload by hand
    ]); // prettier-ignore
      expect(build.code, build.stderr).toBe(0);
      const art = join(dir, 'vancore-config-1.7.0.mender');
      const good = await artifactCli(['verify', art, '--key', keys.pub]);
      expect(good.code, good.stderr).toBe(0);

      const bad = join(work, 'tampered.mender');
      await smuggle(art, bad);
      const verify = await artifactCli(['verify', bad, '--key', keys.pub]);
      expect(verify.code).not.toBe(0);
      expect(verify.stderr).toMatch(/zz-smuggled\.sh/);

      const sb = await bed.sandbox({ config: standaloneConfig({ ArtifactVerifyKey: keys.pub }) });
      await sb.installModule('vancore-config', module);
      const root = await mkdtemp(join(work, 'van-'));
      await mkdir(join(root, 'etc/vancore'), { recursive: true });
      await writeFile(join(root, 'etc/vancore/hub.conf'), 'mode: old\n');
      const env = { VANCORE_OTA_ROOT: root };
      const install = await runMender(sb, ['install', bad], { env });
      expect(install.rc).not.toBe(0);
      // Measured here: the Go client 3.4 is not affected by MEN-9109, it refuses the unlisted file itself
      // while downloading (before any module state runs). The C++ client < 5.0.4 is; the module refuses it there.
      expect(`${install.stdout}\n${install.stderr}`).toContain('can not find data file: zz-smuggled.sh');
      expect(await readFile(join(root, 'etc/vancore/hub.conf'), 'utf8')).toBe('mode: old\n');
      expect((await runMender(sb, ['show-artifact'], { env })).stdout).toBe('factory-image\n');
      // The untampered artifact installs under the same key (the setup is able to install at all).
      const ok = await runMender(sb, ['install', art], { env });
      expect(ok.rc, ok.stderr).toBe(0);
      expect(await readFile(join(root, 'etc/vancore/hub.conf'), 'utf8')).toBe('mode: new\n');
    },
  );
});
