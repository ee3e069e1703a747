// The vertical slice, end to end, with every part real except the Mender server (the simulator):
//
//   CI     `vancore-ota artifact build` (real mender-artifact, signed, the gates embedded, a 3 s
//          validation window) → `vancore-ota artifact upload` to the simulator
//   ops    the bridge (startBridge: SQLite in a temp dir, real sync against the simulator, the rollout
//          controller): the van put in the `internal` stage, a release, a rollout
//   van    the real mender-client 3.4 daemon in a sandbox with our Download_Enter gate, identity and
//          inventory scripts, the vancore-config module and the health runner; readings.json kept
//          fresh the way sensord does
//   support the bridge's van report: why the van waits, then the new version and the outcome
//
// The van first defers (driving: Download_Enter says "not now", nothing is reported as failed) and
// support sees the reason; then it parks, the client's next regular poll installs, the validation
// window passes, the client commits, and the bridge reports the new version, the last update's success
// and the rollout done. Time is short by configuration (5 s polls, a 3 s window, no soak for the
// internal stage), never faked.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { RolloutBody } from '../../bridge/api/rollouts.js';
import { VanDetail } from '../../bridge/api/schemas.js';
import type { VanDetail as VanReport } from '../../bridge/store/reports.js';
import { systemTest } from './harness/bed.js';
import { SUPPORT_TOKEN, runVancoreCli, secretFile, startTestBridge } from './harness/bridge.js';
import { managedConfig } from '../../mender-sim/real-client/sandbox.js';
import { copyVanKit, installVan, type VanKit } from './harness/van.js';

const VAN = 'van-e2e-0001';
const VERSION = '1.1.0';
const ARTIFACT = `vancore-config-${VERSION}`;
const HUB_OLD = 'mode: factory\n';
const HUB_NEW = 'mode: touring\nlights: warm\n';

let kitDir: string;
let kit: VanKit;

beforeAll(async () => {
  kitDir = await mkdtemp(join(tmpdir(), 'vc-sys-e2e-kit-'));
  kit = await copyVanKit(kitDir);
}, 60_000);

afterAll(async () => {
  if (kitDir) await rm(kitDir, { recursive: true, force: true });
});

describe('the vertical slice: build → upload → rollout → a real van defers, parks, installs, commits → reports', () => {
  systemTest(
    'a signed config release reaches an internal van through the bridge',
    { timeout: 90_000 },
    async ({ bed }) => {
      const dev = await bed.managedDevice({ sim: { autoAccept: true } });
      const { sim, sb } = dev;
      const work = await mkdtemp(join(sb.root, 'ci-'));

      // --- CI: build and sign with the real packaging command, upload it -------------------------------
      const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const signKey = join(work, 'signing.pem');
      const verifyKey = join(work, 'artifact-verify.pub');
      await writeFile(signKey, keys.privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });
      await writeFile(verifyKey, keys.publicKey.export({ type: 'spki', format: 'pem' }));
      // The van trusts only artifacts signed with that key (RECIPE §2.3).
      await sb.writeConfig(managedConfig(sim.url, { ArtifactVerifyKey: verifyKey, StateScriptTimeoutSeconds: 30 }));
      await writeFile(join(work, 'hub.conf'), HUB_NEW);
      const built = await runVancoreCli(bed.processes, [
        'artifact', 'build', '--type', 'config', '--component', 'config', '--version', VERSION,
        '--device-type', 'vanpc', '--file', `${join(work, 'hub.conf')}:/etc/vancore/hub.conf`,
        '--validation-window', '3', '--sign-key', signKey, '--out', join(work, 'out'),
      ]); // prettier-ignore
      expect(built.code, built.stderr).toBe(0);
      expect(built.stdout).toMatch(/signed\s+ecdsa-p256/);
      expect(built.stdout).toMatch(/ArtifactCommit_Enter_50_vancore-validate/);
      expect(built.stdout).toMatch(/ArtifactInstall_Enter_50_vancore-gate/);
      const file = join(work, 'out', `${ARTIFACT}.mender`);
      const uploaded = await runVancoreCli(bed.processes, [
        'artifact', 'upload', file, '--server', sim.url, '--user', sim.user,
        '--password-file', await secretFile(work, 'mender-password', sim.password),
      ]); // prettier-ignore
      expect(uploaded.code, uploaded.stderr).toBe(0);

      // --- the van: our hooks and gates on a real client, driving -----------------------------------
      const van = await installVan(sb, kit, {
        vanId: VAN,
        otaYaml: [
          'download: { stationary_minutes: 2 }',
          'validation:',
          `  cloud_url: "${sim.url}"`,
          '  check_interval_seconds: 1',
          '  health_checks:',
          '    - { name: hub-config, command: [/bin/sh, -c, "test -s \\"$VANCORE_OTA_ROOT/etc/vancore/hub.conf\\""] }',
          '',
        ].join('\n'),
        files: { 'etc/vancore/hub.conf': HUB_OLD, 'var/lib/vancore-ota/versions.json': '{ "config": "1.0.0" }\n' },
      });
      let parked = false;
      const stopReadings = van.keepReadings(() => ({ stationaryForMinutes: parked ? 10 : null }));
      // One internal van: its wave may close as soon as it succeeded (no 24 h soak).
      const bridge = await startTestBridge(sim, work, { rollout: { soak_hours: { internal: 0 } } });
      try {
        const daemon = bed.startDaemon(sb, { env: van.env });
        const deviceId = await bed.deviceId(dev, { status: 'accepted', daemon });

        /** The van report after a fresh sync (the sync joins a scheduled one that may be running). */
        const report = async () => {
          await bridge.running.sync.syncNow('incremental');
          const res = await bridge.call('GET', `/api/v1/vans/${VAN}`, undefined, SUPPORT_TOKEN);
          return res.status === 200 ? VanDetail.parse(res.body) : undefined;
        };
        const reportWhen = (what: string, ok: (v: VanReport) => boolean) =>
          bed.waitFor(
            async () => {
              const v = await report();
              return v && ok(v) ? v : undefined;
            },
            { describe: `the bridge's report of ${VAN}: ${what}`, daemon, timeoutMs: 30_000, intervalMs: 500 },
          );

        // --- ops: the van into the internal stage, a release, a rollout ------------------------------
        const before = await reportWhen('known, on config 1.0.0', (v) => v.components.config === '1.0.0');
        expect(before).toMatchObject({ device_id: deviceId, stage: 'fleet', artifact_name: 'factory-image' });
        const staged = await bridge.call('PATCH', `/api/v1/vans/${VAN}`, { stage: 'internal', reason: 'e2e van' });
        expect(staged).toMatchObject({ status: 200, body: { stage: 'internal' } });
        const release = await bridge.call('POST', '/api/v1/releases', {
          name: 'e2e-2026.11',
          components: { config: VERSION },
        });
        expect(release.status, JSON.stringify(release.body)).toBe(201);
        const created = await bridge.call('POST', '/api/v1/rollouts', { release: 'e2e-2026.11', reason: 'e2e' });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        const rollout = RolloutBody.parse(created.body);
        expect(rollout.waves).toMatchObject([
          { label: 'internal', vans: 1, deployments: [{ component: 'config', targets: 1 }] },
        ]);
        const menderId = rollout.waves[0]?.deployments[0]?.mender_id;
        expect(menderId).toEqual(expect.any(String));

        // --- driving: Download_Enter defers, support sees why, nothing failed -------------------------
        daemon.triggerUpdateCheck();
        const deferred = await bed.waitFor(
          () => {
            const d = van.journal()?.phases.Download_Enter;
            return d?.verdict === 'defer' ? d : undefined;
          },
          { describe: 'Download_Enter deferring', daemon },
        );
        expect(deferred).toMatchObject({ state: 'deferred', exit_code: 1 });
        expect(deferred.reasons.map((r) => r.code)).toEqual(['moving']);
        // The client sends the gate's verdict with its next inventory (every 5 s).
        const waiting = await reportWhen('gate deferred', (v) => v.gate.state === 'deferred');
        expect(waiting.gate).toMatchObject({ phase: 'Download_Enter', reason: 'moving: the van is moving (imu)' });
        // 3.4 reports `downloading` substates while its gate defers (RECIPE-current §6); support sees the
        // van waiting for the gate's reason, never downloading (issue #13).
        expect(waiting.updates).toMatchObject([
          { deployment_id: menderId, artifact_name: ARTIFACT, status: 'waiting', mender_status: 'downloading' },
        ]);
        expect(waiting.components.config).toBe('1.0.0');
        expect(await dev.mgmt.statistics(menderId!)).toMatchObject({ success: 0, failure: 0 });

        // --- parked: the next regular poll installs, the window passes, the client commits ------------
        parked = true;
        await van.writeReadings({ stationaryForMinutes: 10 });
        const { status } = await bed.finalStatus(dev, menderId!, deviceId, { daemon, timeoutMs: 30_000 });
        expect(status).toBe('success');
        const journal = van.journal();
        expect(journal?.phases.Download_Enter).toMatchObject({ verdict: 'proceed', state: 'open' });
        expect(journal?.phases.ArtifactInstall_Enter).toMatchObject({
          verdict: 'proceed',
          artifact: { name: ARTIFACT },
        });
        // The artifact's 3 s window, sampled every second: the health runner (our ota.yaml check) and the cloud.
        expect(journal?.phases.ArtifactCommit_Enter).toMatchObject({
          verdict: 'proceed',
          artifact: { name: ARTIFACT },
        });
        const validated = journal?.phases.ArtifactCommit_Enter?.reasons ?? [];
        expect(validated.map((r) => r.code)).toEqual(['validation_passed']);
        expect(validated[0]?.message).toMatch(/^vancore-ota-health, cloud held for 3 s \(\d+ samples\)$/);
        expect(await readFile(join(van.root, 'etc/vancore/hub.conf'), 'utf8')).toBe(HUB_NEW);
        expect(await van.readState('versions.json')).toEqual({ config: VERSION });

        // --- support: the new version and the outcome; ops: the rollout done ---------------------------
        const done = await reportWhen(
          `on ${ARTIFACT} with the update's success`,
          (v) => v.components.config === VERSION && v.health.last_update_status === 'success',
        );
        expect(done).toMatchObject({
          stage: 'internal',
          artifact_name: ARTIFACT,
          gate: { state: 'open', phase: 'ArtifactCommit_Enter' },
          updates: [{ deployment_id: menderId, artifact_name: ARTIFACT, status: 'success' }],
          attention: [],
        });
        expect(done.gate.reason).toMatch(/^validation_passed: /);
        expect(done.gate_history.map((g) => g.state)).toContain('deferred');
        const finished = await bed.waitFor(
          async () => {
            await bridge.running.rollouts.tick();
            const r = RolloutBody.parse((await bridge.call('GET', `/api/v1/rollouts/${rollout.id}`)).body);
            return r.status === 'completed' ? r : undefined;
          },
          { describe: `rollout ${rollout.id} completed`, daemon, timeoutMs: 20_000, intervalMs: 500 },
        );
        expect(finished.vans).toMatchObject({ eligible: 1, done: 1, failed: 0 });
        expect(finished.waves).toMatchObject([
          { label: 'internal', deployments: [{ mender_id: menderId, status: 'finished', outcomes: { success: 1 } }] },
        ]);
        expect(finished.events.map((e) => e.action)).toEqual(
          expect.arrayContaining(['create', 'open_wave', 'deploy', 'close_wave', 'complete']),
        );
      } finally {
        await stopReadings();
        await bridge.stop();
      }
    },
  );
});
