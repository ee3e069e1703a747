// ArtifactInstall_Enter: sense (config, the in-flight artifact's meta-data, installed versions,
// readings, local time, the wait so far) → decideInstall → journal + wait record → exit code.
import { join } from 'node:path';
import { inFlightHeaderDir, readInstalledVersions, readMetaFacts } from '../artifact-facts.js';
import { loadSetup } from '../env.js';
import { readInstallRuns } from '../install-durations.js';
import { clearInstallWait, nextInstallWait, readInstallWait, writeInstallWait } from '../install-wait.js';
import { wallClock, windowZone } from '../local-time.js';
import { decideInstall } from '../policy/install.js';
import { readReadings, readingsPath } from '../readings-file.js';
import { noticeFor, showDecision } from '../ha/gate-hooks.js';
import { sensePresence } from '../ha/van-screen.js';
import { finish, type GateOptions, type GateOutcome } from './common.js';

export async function runInstallGate(o: GateOptions): Promise<GateOutcome> {
  const setup = await loadSetup(o.env, {
    ...(o.configPath ? { configPath: o.configPath } : {}),
    cache: o.configCache !== false,
  });
  const now = o.clock.now();
  const header = inFlightHeaderDir(setup.menderDataDir);
  const meta = readMetaFacts(
    o.metaDataFile ?? join(header, 'meta-data'),
    o.metaDataFile ? null : join(header, 'artifact_name'),
  );
  const name = meta.status === 'ok' ? meta.artifact_name : null;
  const wait = nextInstallWait(readInstallWait(setup.stateDir), name, now);
  const w = meta.status === 'ok' ? meta.meta.vancore.constraints.maintenance_window : null;
  const presence = await sensePresence(setup.config.sensors.home_assistant, setup.stateDir, now);
  const v = meta.status === 'ok' ? meta.meta.vancore : null;
  const plan = noticeFor(setup, o.log, v && { name, component: v.component, version: v.version }, o.record);
  const facts = {
    now,
    meta,
    installed: await readInstalledVersions(setup.stateDir),
    readings: readReadings(o.readingsFile ?? readingsPath(setup.stateDir)),
    staleness: setup.config.staleness,
    wall_clock: w ? wallClock(now, windowZone(w.timezone, setup.config.timezone)) : null,
    first_attempt_at: new Date(wait.first_attempt_at),
    wait_budget_seconds: setup.config.install_wait_budget_seconds,
    ...(presence ? { presence: presence.facts } : {}),
    energy: { config: setup.config.energy, history: readInstallRuns(setup.stateDir) },
  };
  let verdict = decideInstall({ ...facts, ...(plan.notice ? { notice: plan.notice } : {}) });
  if (plan.notice) {
    // The notice is owed only when nothing else holds the install: told now, or (HA away) not owed.
    const notice = await plan.give(verdict, now);
    if (notice !== plan.notice) verdict = decideInstall({ ...facts, ...(notice ? { notice } : {}) });
  }
  if (o.record) {
    presence?.save();
    if (verdict.verdict === 'retry') writeInstallWait(setup.stateDir, wait);
    else clearInstallWait(setup.stateDir);
  }
  const artifact =
    meta.status === 'ok'
      ? {
          ...(name ? { name } : {}),
          component: meta.meta.vancore.component,
          version: meta.meta.vancore.version,
        }
      : undefined;
  const out = finish('ArtifactInstall_Enter', verdict, now, setup.stateDir, o, artifact);
  if (o.record) await showDecision(setup, out, o.log);
  return out;
}
