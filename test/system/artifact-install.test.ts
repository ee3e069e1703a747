// A vancore-config artifact built by `vancore-ota artifact build` installs on the real mender-client
// 3.4 (standalone, sandboxed per RECIPE §3 with the system-test harness): the client accepts its
// format and signature, runs the embedded artifact scripts around the update module, and records the
// provides. The update module here is a small stand-in that follows the payload index contract
// (docs/packaging.md); the real vancore-config module comes with the agent-hooks issue.
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { GATE_SCRIPTS } from '../../mender-artifacts/build-facts.js';
import { runMender } from '../../mender-sim/real-client/mender.js';
import { ProcessGroup } from '../../mender-sim/real-client/processes.js';
import { createSandbox, standaloneConfig, type Sandbox } from '../../mender-sim/real-client/sandbox.js';
import { artifactCli, gateScriptsDir, keyPair, tempDir } from '../unit/mender-artifacts/fixtures.js';

/** Update module stand-in (protocol v3): installs each file of the index under $VC_SB_DEPLOY. */
const CONFIG_MODULE = `#!/usr/bin/env node
const fs = require('node:fs');
const path = require('node:path');
const [state, tree] = process.argv.slice(2);
fs.appendFileSync(process.env.VC_SB_MARKERS, (Date.now() / 1000) + ' MODULE ' + state + ' 0\\n');
if (state === 'SupportsRollback') console.log('Yes');
if (state === 'NeedsArtifactReboot') console.log('No');
if (state === 'ArtifactInstall') {
  const files = path.join(tree, 'files');
  const index = JSON.parse(fs.readFileSync(path.join(files, 'vancore-index.json'), 'utf8'));
  if (index.format !== 1 || index.type !== 'vancore-config') process.exit(1);
  for (const f of index.files) {
    const dest = path.join(process.env.VC_SB_DEPLOY, f.dest);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(path.join(files, f.name), dest);
    fs.chmodSync(dest, parseInt(f.mode, 8));
  }
}
`;

async function sandboxWith(verifyKey: string): Promise<Sandbox> {
  const processes = new ProcessGroup();
  const sb = await createSandbox(processes, { config: standaloneConfig({ ArtifactVerifyKey: verifyKey }) });
  onTestFinished(async () => {
    await processes.close();
    await sb.remove();
  });
  const module = join(sb.root, 'vancore-config.module');
  await writeFile(module, CONFIG_MODULE);
  await chmod(module, 0o755);
  await sb.installModule('vancore-config', module);
  return sb;
}

async function buildConfigArtifact(dir: string, keyFile: string): Promise<string> {
  await writeFile(join(dir, 'ota.yaml'), 'download:\n  min_battery_soc: 45\n');
  const out = join(dir, 'out');
  const r = await artifactCli([
    'build', '--type', 'config', '--component', 'config', '--version', '1.0.0', '--device-type', 'vanpc',
    '--file', `${join(dir, 'ota.yaml')}:/etc/vancore/ota.yaml`, '--sign-key', keyFile,
    '--scripts-dir', await gateScriptsDir(dir), '--out', out,
  ]); // prettier-ignore
  expect(r.code, r.stderr).toBe(0);
  return join(out, 'vancore-config-1.0.0.mender');
}

describe('a built vancore-config artifact on the real mender-client (standalone)', () => {
  it('installs and commits: signature checked, gate scripts around the module, files placed, provides recorded', async () => {
    const dir = await tempDir();
    const key = await keyPair(dir, 'ec-pkcs8');
    const file = await buildConfigArtifact(dir, key.priv);
    const sb = await sandboxWith(key.pub);

    const install = await runMender(sb, ['install', file]);
    expect(install.rc, install.stderr).toBe(0);
    const commit = await runMender(sb, ['commit']);
    expect(commit.rc, commit.stderr).toBe(0);

    const order = (await sb.markers()).map((m) => `${m.kind} ${m.name}`);
    const at = (s: string) => order.indexOf(s);
    const [installGate, commitGate] = GATE_SCRIPTS.map((g) => `SCRIPT ${g}`) as [string, string];
    expect(at(installGate)).toBeGreaterThan(at('MODULE Download'));
    expect(at(installGate)).toBeLessThan(at('MODULE ArtifactInstall'));
    expect(at(commitGate)).toBeGreaterThan(at('MODULE ArtifactInstall'));
    expect(at(commitGate)).toBeLessThan(at('MODULE ArtifactCommit'));

    const deployed = join(sb.deployDir, 'etc/vancore/ota.yaml');
    expect(await readFile(deployed, 'utf8')).toBe('download:\n  min_battery_soc: 45\n');
    expect((await stat(deployed)).mode & 0o777).toBe(0o644);
    expect((await runMender(sb, ['show-artifact'])).stdout.trim()).toBe('vancore-config-1.0.0');
    expect((await runMender(sb, ['show-provides'])).stdout).toContain('vancore.config.version=1.0.0');
  });

  it('is refused by a client that trusts another key', async () => {
    const dir = await tempDir();
    const key = await keyPair(dir, 'rsa-pkcs8');
    const other = await keyPair(dir, 'rsa-pkcs1', 'other');
    const file = await buildConfigArtifact(dir, key.priv);
    const sb = await sandboxWith(other.pub);

    const install = await runMender(sb, ['install', file]);
    expect(install.rc).toBe(1);
    expect(install.stderr).toMatch(/verification error|verification failed/);
    expect((await sb.markers()).filter((m) => m.name === 'ArtifactInstall')).toEqual([]);
    expect((await runMender(sb, ['show-artifact'])).stdout.trim()).toBe('factory-image');
  });
});
