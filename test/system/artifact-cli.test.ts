// The built CLI (dist/cli.js): its help, the gate scripts it embeds from dist/device/mender-scripts, and
// what happens when mender-artifact fails or the build is interrupted: one line, non-zero, and no
// partial file in --out (nor a converted signing key in the temp dir). A stand-in
// mender-artifact first on PATH writes partial output the way the real one does (`<out>.tmp`, a data
// temp file in $TMPDIR), then fails or hangs.
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliPath, runCli } from '../helpers/cli.js';
import { GATE_SCRIPTS } from '../../mender-artifacts/build-facts.js';
import { entries, keyPair, menderArtifact, parseRead, tempDir } from '../unit/mender-artifacts/fixtures.js';

const FAKE = `#!/bin/sh
if [ "$1" = "--version" ]; then echo "mender-artifact version 3.9.0-fake"; exit 0; fi
out=""; prev=""
for a in "$@"; do [ "$prev" = "--output-path" ] && out="$a"; prev="$a"; done
head -c 100000 /dev/zero > "$out.tmp"
head -c 4096 /dev/zero > "$out"
head -c 4096 /dev/zero > "$TMPDIR/data0001"
if [ "$FAKE_MODE" = hang ]; then touch "$FAKE_READY"; exec sleep 30; fi
echo "Can not write artifact: disk on fire" >&2
exit 1
`;

async function setup() {
  const dir = await tempDir();
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'mender-artifact'), FAKE);
  await chmod(join(bin, 'mender-artifact'), 0o755);
  await writeFile(join(dir, 'ota.yaml'), 'a: 1\n');
  const key = await keyPair(dir, 'ec-pkcs8');
  const tmp = join(dir, 'tmp');
  await mkdir(tmp);
  const out = join(dir, 'out');
  const args = [
    'artifact', 'build', '--type', 'config', '--component', 'config', '--version', '1.0.0', '--device-type', 'vanpc',
    '--file', `${join(dir, 'ota.yaml')}:/etc/vancore/ota.yaml`, '--sign-key', key.priv, '--no-gate-scripts', '--out', out,
  ]; // prettier-ignore
  const env = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, TMPDIR: tmp };
  return { dir, out, tmp, args, env };
}

describe('artifact build: failures leave nothing behind', () => {
  it('mender-artifact fails: one line naming its error, --out and the temp dir empty', async () => {
    const s = await setup();
    const r = runCli(s.args, { env: s.env });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((l) => !l.startsWith('progress: '))).toEqual([
      'vancore-ota artifact build: mender-artifact write failed: Can not write artifact: disk on fire',
      '',
    ]);
    expect(await entries(s.out)).toEqual([]);
    expect(await entries(s.tmp)).toEqual([]);
  });

  it('interrupted (SIGINT) while mender-artifact writes: it is stopped and everything is removed', async () => {
    const s = await setup();
    const ready = join(s.dir, 'ready');
    const child = spawn(process.execPath, [cliPath, ...s.args], {
      env: { ...process.env, ...s.env, FAKE_MODE: 'hang', FAKE_READY: ready },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    for (let i = 0; i < 200 && !(await entries(s.dir)).includes('ready'); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(await entries(s.dir)).toContain('ready');
    // Partial output exists right now, in the work folder inside --out.
    expect((await entries(s.out)).some((e) => e.startsWith('.vancore-build-'))).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(1);
    expect(stderr).toMatch(/vancore-ota artifact build: mender-artifact was stopped \(interrupted\)\n$/);
    expect(await entries(s.out)).toEqual([]);
    expect(await entries(s.tmp)).toEqual([]);
    // The stand-in was killed, not left sleeping.
    expect(spawnSync('pgrep', ['-f', `${s.dir}/bin/mender-artifact`]).status).toBe(1);
  });
});

describe('dist/cli.js artifact', () => {
  it('embeds the gate scripts `npm run build` bundled next to the CLI, and only artifact-state ones', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'ota.yaml'), 'a: 1\n');
    const out = join(dir, 'out');
    const r = runCli([
      'artifact', 'build', '--type', 'config', '--component', 'config', '--version', '1.0.0', '--device-type', 'vanpc',
      '--file', `${join(dir, 'ota.yaml')}:/etc/vancore/ota.yaml`, '--out', out,
    ]); // prettier-ignore
    expect(r.code, r.stderr).toBe(0);
    const scripts = parseRead(
      menderArtifact(['read', '--no-progress', join(out, 'vancore-config-1.0.0.mender')]).out,
    ).scripts;
    for (const gate of GATE_SCRIPTS) expect(scripts).toContain(gate);
    expect(scripts.filter((s) => !s.startsWith('Artifact'))).toEqual([]);
  });

  it('--help lists the three commands, and build --help every flag of the issue', () => {
    const top = runCli(['artifact', '--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/build +Build \(and sign\)[\s\S]*verify +Verify[\s\S]*upload +Upload/);
    const build = runCli(['artifact', 'build', '--help']);
    expect(build.code).toBe(0);
    for (const flag of [
      '--type compose|config|vpn',
      '--component NAME',
      '--version SEMVER',
      '--device-type T',
      '--bundle DIR',
      '--file SRC:DEST',
      '--constraints FILE',
      '--validation-window SECONDS',
      '--no-require-cloud',
      '--requires COMPONENT=RANGE',
      '--sign-key FILE',
      '--out DIR',
    ]) {
      expect(build.stdout).toContain(flag);
    }
  });
});
