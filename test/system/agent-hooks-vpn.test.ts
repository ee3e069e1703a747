// vancore-vpn on the real mender-client 3.4 (standalone, sandboxed per RECIPE §3): artifacts built by
// the real `vancore-ota artifact build --type vpn`, the bundled module installed as
// /usr/share/mender/modules/v3/vancore-vpn, the tailscale stand-in (test/fixtures/tailscale) on a temp
// van root, Headscale's control URL served over HTTPS with a self-signed certificate. One van walks
// add → verify → cutover → retire; a failing support probe after cut-over brings SaaS back (deadman);
// a cut-over whose control URL fails is rolled back by the client itself.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { VpnStep } from '../../core/schemas/payload-index.js';
import {
  deadmanRound,
  exists,
  newVan,
  startHeadscale,
  tsStatus,
  vpnJson,
  type Headscale,
  type Van,
} from '../fixtures/tailscale/van.js';
import { copyBuiltHooks } from '../integration/agent-hooks/support/bundles.js';
import { artifactCli } from '../unit/mender-artifacts/fixtures.js';
import { systemTest } from './harness/bed.js';
import { runMender } from '../../mender-sim/real-client/mender.js';
import type { Sandbox } from '../../mender-sim/real-client/sandbox.js';

const AUTHKEY = 'hskey-auth-system-0123456789-SECRET';

let work: string;
let module: string;
let hs: Headscale;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-sys-vpn-'));
  module = (await copyBuiltHooks(join(work, 'hooks'), ['modules/vancore-vpn']))['modules/vancore-vpn'];
  hs = await startHeadscale(work);
}, 60_000);

afterAll(async () => {
  await hs?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** `vancore-ota artifact build --type vpn` (no gate scripts: the gates are not under test here). */
async function vpnArtifact(step: VpnStep, version: string): Promise<string> {
  const dir = await mkdtemp(join(work, 'art-'));
  const args = ['build', '--type', 'vpn', '--component', 'vpn', '--version', version, '--device-type', 'vanpc'];
  args.push('--vpn-step', step, '--login-server', hs.url);
  if (step === 'add') {
    await writeFile(join(dir, 'authkey.txt'), `${AUTHKEY}\n`, { mode: 0o600 });
    args.push('--authkey-file', join(dir, 'authkey.txt'));
  }
  const r = await artifactCli([...args, '--no-gate-scripts', '--out', dir]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout + r.stderr).not.toContain('SECRET');
  return join(dir, `vancore-vpn-${version}.mender`);
}

async function setup(bed: { sandbox: () => Promise<Sandbox> }): Promise<{ sb: Sandbox; van: Van }> {
  const sb = await bed.sandbox();
  await sb.installModule('vancore-vpn', module);
  return { sb, van: await newVan(work, hs) };
}

async function installCommit(sb: Sandbox, van: Van, step: VpnStep, version: string): Promise<void> {
  const art = await vpnArtifact(step, version);
  const install = await runMender(sb, ['install', art], { env: van.env });
  expect(install.rc, install.stderr).toBe(0);
  expect(install.stdout + install.stderr).not.toContain('SECRET');
  const commit = await runMender(sb, ['commit'], { env: van.env });
  expect(commit.rc, commit.stderr).toBe(0);
  expect((await runMender(sb, ['show-artifact'], { env: van.env })).stdout).toBe(`vancore-vpn-${version}\n`);
}

describe('vancore-vpn on the real mender-client (standalone)', () => {
  systemTest(
    'one van through add, verify, cutover and retire',
    async ({ bed }) => {
      const { sb, van } = await setup(bed);
      await installCommit(sb, van, 'add', '1.0.0');
      expect(await vpnJson(van)).toMatchObject({ state: 'dual', step: 'add' });
      expect((await tsStatus(van.hsSock)).doc).toMatchObject({ BackendState: 'Running', Self: { Online: true } });
      expect((await tsStatus(van.saasSock)).doc?.BackendState).toBe('Running');

      await installCommit(sb, van, 'verify', '1.1.0');
      expect(await vpnJson(van)).toMatchObject({ state: 'dual', step: 'verify' });

      await installCommit(sb, van, 'cutover', '1.2.0');
      expect(await vpnJson(van)).toMatchObject({ state: 'headscale', step: 'cutover' });
      expect((await tsStatus(van.saasSock)).code).toBe(1);
      expect(await exists(join(van.saasDir, 'tailscaled.state'))).toBe(true);

      await installCommit(sb, van, 'retire', '1.3.0');
      expect(await vpnJson(van)).toMatchObject({ state: 'retired', step: 'retire' });
      expect(await exists(van.saasDir)).toBe(false);
      expect((await runMender(sb, ['show-provides'], { env: van.env })).stdout).toContain('vancore.vpn.version=1.3.0');
    },
    120_000,
  );

  systemTest(
    'a failing support probe after cut-over brings SaaS access back (deadman)',
    async ({ bed }) => {
      const { sb, van } = await setup(bed);
      await installCommit(sb, van, 'add', '1.0.0');
      await installCommit(sb, van, 'verify', '1.1.0');
      await installCommit(sb, van, 'cutover', '1.2.0');
      expect((await tsStatus(van.saasSock)).code).toBe(1);
      await writeFile(van.supportBroken, '');
      expect((await deadmanRound(module, van)).kind).toBe('revert');
      expect((await tsStatus(van.saasSock)).doc).toMatchObject({ BackendState: 'Running', Self: { Online: true } });
      expect(await vpnJson(van)).toMatchObject({ state: 'reverted', step: 'verify' });
      // The van runs verify (1.1.0) again: the bridge's migration rollback, that step's artifact, is a
      // reinstall, not a downgrade the module refuses (lib/downgrade.ts). Support reaches the van again first.
      await rm(van.supportBroken);
      await installCommit(sb, van, 'verify', '1.1.0');
      expect(await vpnJson(van)).toMatchObject({ step: 'verify' });
    },
    120_000,
  );

  systemTest(
    'a cut-over whose control URL fails is rolled back by the client: SaaS keeps running',
    async ({ bed }) => {
      const { sb, van } = await setup(bed);
      await installCommit(sb, van, 'add', '1.0.0');
      await installCommit(sb, van, 'verify', '1.1.0');
      hs.healthStatus = 502;
      try {
        const install = await runMender(sb, ['install', await vpnArtifact('cutover', '1.2.0')], { env: van.env });
        expect(install.rc).toBe(1);
        expect(install.stdout + install.stderr).toContain('vancore-vpn: ArtifactInstall failed');
      } finally {
        hs.healthStatus = 200;
      }
      expect((await tsStatus(van.saasSock)).doc?.BackendState).toBe('Running');
      expect(await vpnJson(van)).toMatchObject({ state: 'dual', step: 'verify' });
      expect((await runMender(sb, ['show-artifact'], { env: van.env })).stdout).toBe('vancore-vpn-1.1.0\n');
    },
    120_000,
  );
});
