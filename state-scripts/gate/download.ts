// The download gate: sense (config, readings, local time) → decideDownload → journal → exit code.
// One policy, run in the state where the van's client lets "not now" (exit 1) report nothing
// (core/schemas/client.ts NOT_NOW_STATE): Download_Enter on the Go client 3.x, Sync_Leave on the C++
// client ≥ 5.0.1 (RECIPE-current §0, §3.2 (c); on 5.x a failing Download_Enter is a deployment failure).
import { CLIENT_FILE, NOT_NOW_STATE, readInstalledClient } from '../../core/schemas/client.js';
import type { GateDecision } from '../../core/schemas/gate.js';
import { decideDownload, sizeProbeNeed, type DownloadFacts } from '../policy/download.js';
import { networkPolicyRestricts, type NetworkFacts } from '../policy/network.js';
import { nodeCommandRunner } from '../health.js';
import { senseLink } from '../sense/link.js';
import { readSizeHint, writeSizeHint } from '../sense/size-hint.js';
import { probeDownloadSize, probeSummary } from '../sense/size-probe.js';
import { readMenderServer } from '../../core/mender-conf.js';
import { loadSetup, type DeviceSetup } from '../env.js';
import { wallClock, windowZone } from '../local-time.js';
import { readReadings, readingsPath } from '../readings-file.js';
import { sensePresence } from '../ha/van-screen.js';
import { showDecision } from '../ha/gate-hooks.js';
import { finish, type GateOptions, type GateOutcome } from './common.js';

export type DownloadPhase = 'Download_Enter' | 'Sync_Leave';

/** The client recorded by device install (undefined when absent or unusable: the decision still stands). */
export function installedClient(setup: Pick<DeviceSetup, 'paths'>): GateDecision['client'] {
  const { client } = readInstalledClient(setup.paths.resolve(CLIENT_FILE));
  return client ? { ...client, not_now_state: NOT_NOW_STATE[client.flavour] } : undefined;
}

export async function runDownloadGate(o: GateOptions, phase: DownloadPhase = 'Download_Enter'): Promise<GateOutcome> {
  const setup = await loadSetup(o.env, {
    ...(o.configPath ? { configPath: o.configPath } : {}),
    cache: o.configCache !== false,
  });
  const now = o.clock.now();
  const policy = setup.config.download;
  const w = policy.maintenance_window;
  const presence = await sensePresence(setup.config.sensors.home_assistant, setup.stateDir, now);
  // Network policy (issue #17): the link is sensed only when a rule restricts it (no process otherwise).
  const network: { policy: typeof policy; facts: NetworkFacts } | undefined = networkPolicyRestricts(policy)
    ? {
        policy,
        facts: {
          link: await senseLink({
            runner: nodeCommandRunner,
            sysClassNet: setup.paths.resolve('/sys/class/net'),
            procNetRoute: setup.paths.resolve('/proc/net/route'),
            procNetIpv6Route: setup.paths.resolve('/proc/net/ipv6_route'),
            mmcli: setup.config.sensors.modem.mmcli,
            modemIndex: setup.config.sensors.modem.modem_index,
            nmcli: setup.config.sensors.network.nmcli,
          }),
          size_hint: readSizeHint(setup.stateDir),
        },
      }
    : undefined;
  const facts: DownloadFacts = {
    ...(presence ? { presence: presence.facts } : {}),
    ...(network ? { network } : {}),
    now,
    policy,
    staleness: setup.config.staleness,
    readings: readReadings(o.readingsFile ?? readingsPath(setup.stateDir)),
    wall_clock: w ? wallClock(now, windowZone(w.timezone, setup.config.timezone)) : null,
  };
  const client = installedClient(setup);
  // The size probe, when only the download's size decides (policy/download.ts sizeProbeNeed), and only in
  // a real run: `gate check` sends nothing. Its answer outranks a hint file, which may be another
  // deployment's; the file stays the fallback when the probe cannot answer.
  if (network && policy.size_probe) {
    const need = sizeProbeNeed(facts);
    if (need === 'held' || (need === 'ask' && !o.record)) {
      const problem = o.record
        ? 'not asked while other checks hold the download'
        : 'gate check does not ask the server';
      network.facts = { ...network.facts, size_probe: { outcome: 'not_asked', problem, steps: [] } };
    } else if (need === 'ask') {
      const probe = await probeDownloadSize({
        flavour: client?.flavour ?? null,
        menderDataDir: setup.menderDataDir,
        server: readMenderServer(setup.paths),
        dbusSend: setup.config.sensors.dbus.dbus_send,
        runner: nodeCommandRunner,
        timeoutMs: 10_000,
        now,
      });
      const { hint, ...summary } = probeSummary(probe);
      if (probe.outcome === 'sized') writeSizeHint(setup.stateDir, probe.hint, probe.deployment_id);
      network.facts = { ...network.facts, size_probe: summary, ...(hint !== undefined ? { size_hint: hint } : {}) };
    }
  }
  const verdict = decideDownload(facts);
  const out = finish(phase, verdict, now, setup.stateDir, o, undefined, client);
  if (o.record) {
    presence?.save();
    await showDecision(setup, out, o.log);
  }
  return out;
}
