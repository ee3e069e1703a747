// No downgrades (issue #20 item 4) on the real mender-client 3.4 in managed mode against the simulator,
// with artifacts built and signed by `vancore-ota artifact build` (the real mender-artifact 3.9) and a
// client that requires signatures (ArtifactVerifyKey). The van runs the bundled vancore-config module on
// a temp root: v1 then v2 installed; the old signed v1 offered again is refused — a deployment failure
// with one clear line in the deployment log, v2 still installed — and the explicit signed revert to v1
// (`--revert-of 2.0.0`) is accepted.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactMetaData } from '../../core/schemas/artifact-meta.js';
import { runMender } from '../../mender-sim/real-client/mender.js';
import type { Sandbox } from '../../mender-sim/real-client/sandbox.js';
import { copyBuiltHooks } from '../integration/agent-hooks/support/bundles.js';
import { artifactCli, keyPair } from '../unit/mender-artifacts/fixtures.js';
import { systemTest } from './harness/bed.js';

let work: string;
let module: string;
let key: { priv: string; pub: string };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-sys-downgrade-'));
  module = (await copyBuiltHooks(join(work, 'hooks'), ['modules/vancore-config']))['modules/vancore-config'];
  key = await keyPair(work, 'ec-pkcs8');
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** A signed config artifact for /etc/vancore/hub.conf (no gate scripts: the gates are not under test). */
async function hubArtifact(version: string, revertOf?: string): Promise<string> {
  const dir = await mkdtemp(join(work, 'art-'));
  await writeFile(join(dir, 'hub.conf'), `hub ${version}\n`);
  const r = await artifactCli([
    'build', '--type', 'config', '--component', 'config', '--version', version, '--device-type', 'vanpc',
    '--file', `${join(dir, 'hub.conf')}:/etc/vancore/hub.conf`, '--sign-key', key.priv,
    ...(revertOf ? ['--revert-of', revertOf] : []), '--no-gate-scripts', '--out', dir,
  ]); // prettier-ignore
  expect(r.code, r.stderr).toBe(0);
  return join(dir, `vancore-config-${version}${revertOf ? `-revert-${revertOf}` : ''}.mender`);
}

async function installStandalone(sb: Sandbox, file: string, env: NodeJS.ProcessEnv): Promise<void> {
  const i = await runMender(sb, ['install', file], { env });
  expect(i.rc, i.stderr).toBe(0);
  const c = await runMender(sb, ['commit'], { env });
  expect(c.rc, c.stderr).toBe(0);
}

describe('revert artifacts through the real mender-artifact 3.9', () => {
  it('carry vancore.revert_of in their meta-data and name; artifact verify prints it', async () => {
    const file = await hubArtifact('1.0.0', '2.0.0');
    const dump = join(work, 'dump-revert');
    execFileSync('mender-artifact', ['dump', '--meta-data', dump, file], { stdio: 'pipe' });
    const meta = ArtifactMetaData.parse(JSON.parse(await readFile(join(dump, '0000.meta-data'), 'utf8')));
    expect(meta.vancore).toMatchObject({ component: 'config', version: '1.0.0', revert_of: '2.0.0' });
    const read = execFileSync('mender-artifact', ['read', '--no-progress', '-k', key.pub, file], { encoding: 'utf8' });
    expect(read).toContain('Name: vancore-config-1.0.0-revert-2.0.0');
    expect(read).toContain('Signature: signed and verified correctly');
    expect(read).toContain('vancore.config.version: 1.0.0');
    const verify = await artifactCli(['verify', file, '--key', key.pub]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toContain('  revert    of 2.0.0 (an explicit, signed revert)\n');
    const plain = await artifactCli(['verify', await hubArtifact('2.0.0'), '--key', key.pub]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).not.toContain('revert');
  });
});

describe('no downgrades on the real mender-client 3.4 (managed)', () => {
  systemTest(
    'v2 installed: the replayed signed v1 is a deployment failure with one line, v2 stays; the signed revert to v1 lands',
    { timeout: 240_000 },
    async ({ bed }) => {
      const v1 = await hubArtifact('1.0.0');
      const v2 = await hubArtifact('2.0.0');
      const revert = await hubArtifact('1.0.0', '2.0.0');

      const dev = await bed.managedDevice({ sim: { autoAccept: true }, config: { ArtifactVerifyKey: key.pub } });
      await dev.sb.installModule('vancore-config', module);
      const root = await mkdtemp(join(work, 'van-'));
      await mkdir(join(root, 'etc/vancore'), { recursive: true });
      const env = { VANCORE_OTA_ROOT: root };
      const state = join(root, 'var/lib/vancore-ota');
      const onV2 = async () => {
        expect(await readFile(join(root, 'etc/vancore/hub.conf'), 'utf8')).toBe('hub 2.0.0\n');
        expect(JSON.parse(await readFile(join(state, 'versions.json'), 'utf8'))).toEqual({ config: '2.0.0' });
      };

      await installStandalone(dev.sb, v1, env);
      await installStandalone(dev.sb, v2, env);
      await onV2();

      await dev.mgmt.uploadArtifact(v1);
      await dev.mgmt.uploadArtifact(revert);
      const daemon = bed.startDaemon(dev.sb, { env });
      const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });

      const replay = await dev.mgmt.createDeployment({
        name: 'replay-v1',
        artifact_name: 'vancore-config-1.0.0',
        devices: [deviceId],
      });
      daemon.triggerUpdateCheck();
      expect((await bed.finalStatus(dev, replay, deviceId, { daemon })).status).toBe('failure');
      const log = (await dev.mgmt.deviceLog(replay, deviceId)).split('\n');
      const ours = log.filter((l) => l.includes('vancore-config:'));
      expect(ours).toHaveLength(1);
      expect(ours[0]).toContain(
        'vancore-config: Download failed: artifact_replayed: vancore-config-1.0.0 (config 1.0.0) was installed on this van at ',
      );
      expect(ours[0]).toContain(
        'superseded by 2.0.0; only a signed revert artifact (artifact build --revert-of 2.0.0) may take config back',
      );
      await onV2();

      const back = await dev.mgmt.createDeployment({
        name: 'revert-to-v1',
        artifact_name: 'vancore-config-1.0.0-revert-2.0.0',
        devices: [deviceId],
      });
      daemon.triggerUpdateCheck();
      expect((await bed.finalStatus(dev, back, deviceId, { daemon })).status).toBe('success');
      await daemon.stop();
      expect(await readFile(join(root, 'etc/vancore/hub.conf'), 'utf8')).toBe('hub 1.0.0\n');
      expect(JSON.parse(await readFile(join(state, 'versions.json'), 'utf8'))).toEqual({ config: '1.0.0' });
      expect((await runMender(dev.sb, ['show-artifact'], { env })).stdout).toBe('vancore-config-1.0.0-revert-2.0.0\n');
      expect((await runMender(dev.sb, ['show-provides'], { env })).stdout).toContain('vancore.config.version=1.0.0');
    },
  );
});
