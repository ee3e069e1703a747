// Fault suite, device half: kill -9 of the real mender-client 3.4 daemon — and of every process below
// it: a power cut — while it is in each deployment state, then a restart. The van must end on the old
// or on the new version, never between: the artifact name and provides in the client's store, our
// versions.json, and the files of the vancore-config payload all old, or all new; and the server's
// deployment status must agree (failure after a rollback, or success).
//
// The van runs the shipped vancore-config module (dist/device) wrapped by the harness's holding module
// (harness/power-cut.ts), which parks the client deterministically inside one module call; the
// artifacts are built by the real packaging command (`vancore-ota artifact build --type config`) and
// carry the marker probes as artifact state scripts, so the order of what ran is on record.
//
// What the real client 3.4 does after the restart (observed with this suite; RECIPE §5.2 has the
// kills in a Download_Enter / ArtifactInstall_Enter retry loop, docs/agent-hooks.md the kills inside
// the compose module's phases). "Loaded" is the state the client finds in its store (its log says
// `Handling loaded state: …`); M: are the update-module calls after the restart, in order.
//
// | killed while …                                     | loaded         | then                  | M: after the restart                   | van | server  |
// | -------------------------------------------------- | -------------- | --------------------- | -------------------------------------- | --- | ------- |
// | Download: in the module's Download call, the       | update-store   | cleanup [Error]       | Cleanup (nothing to roll back)         | old | failure |
// |   payload not stored yet                           |                |                       |                                        |     |         |
// | ArtifactInstall: the module has written the files  | update-install | rollback              | ArtifactRollback, NeedsArtifactReboot, | old | failure |
// |                                                    |                |                       |   ArtifactFailure, Cleanup             |     |         |
// | ArtifactReboot: the module "rebooting" the van     | reboot         | after-reboot          | ArtifactVerifyReboot, ArtifactCommit,  | new | success |
// |   (NeedsArtifactReboot = Yes, a rootfs-like update)|                | (ArtifactReboot_Leave)|   Cleanup                              |     |         |
// | ArtifactCommit_Enter: a state script running (where| update-commit  | rollback              | as for ArtifactInstall                 | old | failure |
// |   the commit gate's validation window runs)        |                |                       |                                        |     |         |
// | ArtifactCommit: the module has recorded the new    | update-commit  | rollback              | as for ArtifactInstall                 | old | failure |
// |   version (the client never heard it finish)       |                |                       |                                        |     |         |
//
// Every failure uploads the deployment log. Only a kill during the reboot goes forward: that is the
// one interruption the client expects. Every other cut before the commit is stored is reported as a
// failure, and the module must put the van back from wherever it was cut (for ArtifactCommit: after
// its own commit had already recorded the new version).
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { copyBuiltHooks } from '../integration/agent-hooks/support/bundles.js';
import { artifactCli } from '../unit/mender-artifacts/fixtures.js';
import { ALL_ARTIFACT_PROBES } from './harness/artifact.js';
import { systemTest } from './harness/bed.js';
import { runMender } from '../../mender-sim/real-client/mender.js';
import {
  HOLDING_SCRIPT,
  holdModule,
  holdScript,
  installHoldingModule,
  powerCut,
  waitForHold,
  type HoldWhen,
} from './harness/power-cut.js';
import { probeScript, type Sandbox } from '../../mender-sim/real-client/sandbox.js';

const OLD = { version: '1.0.0', hub: 'mode: old\n' };
const NEW = { version: '2.0.0', hub: 'mode: new\n', extra: 'added: true\n' };
const name = (v: string) => `vancore-config-${v}`;
const WINDOW = 'ArtifactCommit_Enter_60_window';

let work: string;
let module: string;
const artifacts: Record<'old' | 'new', string> = { old: '', new: '' };

async function build(version: string, files: Record<string, string>, scripts: string): Promise<string> {
  const dir = await mkdtemp(join(work, `art-${version}-`));
  const args = ['build', '--type', 'config', '--component', 'config', '--version', version, '--device-type', 'vanpc'];
  for (const [dest, content] of Object.entries(files)) {
    const src = join(dir, dest.replace(/\//g, '_'));
    await writeFile(src, content);
    args.push('--file', `${src}:${dest}`);
  }
  // The gates are not under test here (they have their own suite): marker probes instead.
  const r = await artifactCli([...args, '--no-gate-scripts', '--scripts-dir', scripts, '--out', dir]);
  expect(r.code, r.stderr).toBe(0);
  return join(dir, `${name(version)}.mender`);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-sys-kill-'));
  module = (await copyBuiltHooks(join(work, 'hooks'), ['modules/vancore-config']))['modules/vancore-config'];
  const scripts = join(work, 'probes');
  await mkdir(scripts);
  for (const probe of ALL_ARTIFACT_PROBES) await writeFile(join(scripts, probe), await readFile(probeScript));
  // Stands where the commit gate's validation window runs (ArtifactCommit_Enter_50_vancore-validate).
  await writeFile(join(scripts, WINDOW), HOLDING_SCRIPT);
  artifacts.old = await build(OLD.version, { '/etc/vancore/hub.conf': OLD.hub }, scripts);
  artifacts.new = await build(
    NEW.version,
    { '/etc/vancore/hub.conf': NEW.hub, '/etc/vancore/extra.yaml': NEW.extra },
    scripts,
  );
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface VanState {
  artifact: string;
  provides: string[];
  versions: unknown;
  files: Record<string, string | null>;
}

const EXPECTED: Record<'old' | 'new', VanState> = {
  old: {
    artifact: name(OLD.version),
    provides: [`artifact_name=${name(OLD.version)}`, `vancore.config.version=${OLD.version}`],
    versions: { config: OLD.version },
    files: { 'etc/vancore/hub.conf': OLD.hub, 'etc/vancore/extra.yaml': null },
  },
  new: {
    artifact: name(NEW.version),
    provides: [`artifact_name=${name(NEW.version)}`, `vancore.config.version=${NEW.version}`],
    versions: { config: NEW.version },
    files: { 'etc/vancore/hub.conf': NEW.hub, 'etc/vancore/extra.yaml': NEW.extra },
  },
};

/** Everything that says which version the van is on, read with the daemon stopped. */
async function vanState(sb: Sandbox, root: string, env: NodeJS.ProcessEnv): Promise<VanState> {
  const artifact = await runMender(sb, ['show-artifact'], { env });
  const provides = await runMender(sb, ['show-provides'], { env });
  const files: Record<string, string | null> = {};
  for (const rel of Object.keys(EXPECTED.old.files))
    files[rel] = await readFile(join(root, rel), 'utf8').catch(() => null);
  return {
    artifact: artifact.stdout.trim(),
    provides: provides.stdout.split('\n').filter(Boolean).sort(),
    versions: JSON.parse(await readFile(join(root, 'var/lib/vancore-ota/versions.json'), 'utf8')) as unknown,
    files,
  };
}

type Hold =
  { module: 'Download' | 'ArtifactInstall' | 'ArtifactReboot' | 'ArtifactCommit'; when: HoldWhen } | { script: string };

interface Kill {
  /** Where the client is parked: in a module call (before or after the real module ran), or in a state script. */
  hold: Hold;
  /** The module asks for a reboot (a rootfs-like update): needed to reach ArtifactReboot. */
  reboot: boolean;
  ends: 'old' | 'new';
  status: 'success' | 'failure';
  /** The state the client finds in its store after the restart, and where it goes from there (its log). */
  resumes: { loaded: string; to: string };
  /** Module calls after the restart, in order (the markers of the second daemon). */
  after: string[];
  /** The module's last-update.json at the end. */
  lastUpdate: { status: string; version: string };
}

const ROLLBACK = ['ArtifactRollback', 'NeedsArtifactReboot', 'ArtifactFailure', 'Cleanup'];
const ROLLED_BACK = { status: 'rolled_back', version: NEW.version };

const KILLS: [string, Kill][] = [
  [
    'Download (the module called, the payload not stored yet)',
    {
      hold: { module: 'Download', when: 'before' },
      reboot: false,
      resumes: { loaded: 'update-store', to: 'cleanup [Error]' },
      ends: 'old',
      status: 'failure',
      after: ['Cleanup'],
      // The module never got to install: its record is still the old version's.
      lastUpdate: { status: 'success', version: OLD.version },
    },
  ],
  [
    'ArtifactInstall (the new files just written)',
    {
      hold: { module: 'ArtifactInstall', when: 'after' },
      reboot: false,
      resumes: { loaded: 'update-install', to: 'rollback [ArtifactRollback]' },
      ends: 'old',
      status: 'failure',
      after: ROLLBACK,
      lastUpdate: ROLLED_BACK,
    },
  ],
  [
    'ArtifactReboot (the module rebooting the van)',
    {
      hold: { module: 'ArtifactReboot', when: 'before' },
      reboot: true,
      resumes: { loaded: 'reboot', to: 'after-reboot [ArtifactReboot_Leave]' },
      ends: 'new',
      status: 'success',
      after: ['ArtifactVerifyReboot', 'ArtifactCommit', 'Cleanup'],
      lastUpdate: { status: 'success', version: NEW.version },
    },
  ],
  [
    'ArtifactCommit_Enter (the validation window running)',
    {
      hold: { script: WINDOW },
      reboot: false,
      resumes: { loaded: 'update-commit', to: 'rollback [ArtifactRollback]' },
      ends: 'old',
      status: 'failure',
      after: ROLLBACK,
      lastUpdate: ROLLED_BACK,
    },
  ],
  [
    'ArtifactCommit (the version just recorded)',
    {
      hold: { module: 'ArtifactCommit', when: 'after' },
      reboot: false,
      resumes: { loaded: 'update-commit', to: 'rollback [ArtifactRollback]' },
      ends: 'old',
      status: 'failure',
      after: ROLLBACK,
      lastUpdate: ROLLED_BACK,
    },
  ],
];

describe('kill -9 of the real mender-client at each deployment state', () => {
  systemTest.for(KILLS)(
    'killed in %s: the van ends all old or all new',
    { timeout: 60_000 },
    async ([, k], { bed }) => {
      const dev = await bed.managedDevice({ sim: { autoAccept: true } });
      const sb = dev.sb;
      await installHoldingModule(sb, 'vancore-config', module);
      const root = join(sb.root, 'van-root');
      await mkdir(join(root, 'etc/vancore'), { recursive: true });
      const env = { VANCORE_OTA_ROOT: root };

      // The old version, installed and committed standalone.
      const i = await runMender(sb, ['install', artifacts.old], { env });
      expect(i.rc, i.stderr).toBe(0);
      expect((await runMender(sb, ['commit'], { env })).rc).toBe(0);
      expect(await vanState(sb, root, env)).toEqual(EXPECTED.old);

      if (k.reboot) await writeFile(join(sb.ctlDir, 'module.reboot'), '1\n');
      const hold =
        'module' in k.hold ? await holdModule(sb, k.hold.module, k.hold.when) : await holdScript(sb, k.hold.script);
      await dev.mgmt.uploadArtifact(artifacts.new);
      const first = bed.startDaemon(sb, { env });
      const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon: first });
      const depId = await dev.mgmt.createDeployment({
        name: `kill ${hold}`,
        artifact_name: name(NEW.version),
        devices: [deviceId],
      });
      first.triggerUpdateCheck();
      const parked = await waitForHold(bed, sb, hold, first);
      const killed = await powerCut(first);
      expect(killed).toContain(parked);
      const cut = (await sb.markers()).length;

      const second = bed.startDaemon(sb, { env });
      const { status, statistics } = await bed.finalStatus(dev, depId, deviceId, { daemon: second, timeoutMs: 40_000 });
      // The client reports failure as its rollback starts: wait for the module's Cleanup (the end of
      // the run) and, after a failure, for the deployment log upload.
      await bed.waitFor(
        async () =>
          (await sb.markers()).slice(cut).some((m) => m.kind === 'MODULE' && m.name === 'Cleanup') &&
          (status === 'success' || (await dev.mgmt.deviceDeployments(depId)).find((d) => d.id === deviceId)?.log),
        {
          describe: 'the module Cleanup after the restart (and the log of a failure)',
          daemon: second,
          timeoutMs: 20_000,
        },
      );
      await second.stop();

      expect(second.logs()).toContain(`Handling loaded state: ${k.resumes.loaded}`);
      expect(second.logs()).toContain(`State transition: init [none] -> ${k.resumes.to}`);
      expect(status).toBe(k.status);
      expect(statistics).toMatchObject(
        k.status === 'success' ? { success: 1, failure: 0 } : { success: 0, failure: 1 },
      );
      const after = (await sb.markers()).slice(cut).filter((m) => m.kind === 'MODULE');
      expect(after.map((m) => `${m.name} ${m.rc}`)).toEqual(k.after.map((n) => `${n} 0`));
      expect(await vanState(sb, root, env)).toEqual(EXPECTED[k.ends]);
      // The module's own record agrees.
      const last = JSON.parse(await readFile(join(root, 'var/lib/vancore-ota/last-update.json'), 'utf8')) as unknown;
      expect(last).toMatchObject(k.lastUpdate);
    },
  );
});
