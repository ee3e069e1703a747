// Shared by the fault suite: the release under test, the rollout settings and scenario every fault run
// uses, and the normalized end state a faulty run is compared with a clean run by.
import { readFile } from 'node:fs/promises';
import { type IncomingMessage, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kysely } from 'kysely';
import * as R from '../../bridge/rollout/store.js';
import type { Database } from '../../bridge/store/schema.js';
import { RolloutSettings } from '../../core/config/bridge-config.js';
import type { MenderManagementClient } from '../../core/mender/management.js';
import { seededRandom } from '../helpers/chaos-proxy.js';
import type { ScenarioInput, VirtualFleet } from '../../mender-sim/fleet/index.js';
import { buildArtifact } from '../../mender-sim/testkit.js';

/** platform 1.0.0 and app 1.4.0 (requires platform ^1.0.0), built once with the real mender-artifact. */
export async function releaseArtifacts(dir: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const a of [
    { name: 'vancore-platform-1.0.0', component: 'platform', version: '1.0.0', requires: {} },
    { name: 'vancore-app-1.4.0', component: 'app', version: '1.4.0', requires: { platform: '^1.0.0' } },
  ])
    out.push(
      await readFile(
        await buildArtifact(dir, {
          name: a.name,
          provides: { [`vancore.${a.component}.version`]: a.version },
          metaData: { vancore: { component: a.component, version: a.version, requires: a.requires } },
        }),
      ),
    );
  return out;
}

export const RELEASE = { name: 'rel-fault', components: { platform: '1.0.0', app: '1.4.0' } };

/**
 * 10 % waves an hour apart, short soaks, and gates loose enough that the two scripted bad vans (a
 * failure and a rollback, each in a fleet wave of 3–4 vans) never pause the rollout: they are retried
 * once and then excluded, so a run always ends `completed` with the same records.
 */
export const FAULT_SETTINGS_INPUT = {
  wave_percent: 10,
  wave_interval_hours: 1,
  max_failure_percent: 60,
  max_failures_per_wave: 3,
  soak_hours: { internal: 1, pilot: 1 },
  advance_success_percent: 40,
  max_retries_per_van: 1,
};
export const FAULT_SETTINGS = RolloutSettings.parse(FAULT_SETTINGS_INPUT);

export const FLEET_SIZE = 40;
/** Indices 0–1 are internal, 2–5 pilot, the rest fleet; two fleet vans fail every update. */
export const STAGES = { internal: [0, 1], pilot: [2, 3, 4, 5] } as const;
export const SCRIPT: ScenarioInput = { overrides: { '17': { outcome: 'failure' }, '29': { outcome: 'rollback' } } };

export const vanId = (index: number) => `van-${String(index).padStart(5, '0')}`;

export interface NormalizedRollout {
  status: string;
  waves: string[];
  /** Per van: stage, excluded, versions on the device, versions in our records, its outcomes in order. */
  vans: Record<string, string>;
}

/**
 * The end state with everything that differs between two equal runs taken out: Mender ids, rollout
 * ids, times. What stays must be identical between a clean run and a run under faults.
 */
export async function normalizeRollout(
  db: Kysely<Database>,
  rolloutId: string,
  fleet: { vanId: string; versions: Record<string, string> }[],
): Promise<NormalizedRollout> {
  const rollout = await R.getRollout(db, rolloutId);
  const vans = await db.selectFrom('vans').select(['device_id', 'van_id', 'stage', 'excluded']).execute();
  const comps = await db.selectFrom('van_components').select(['device_id', 'component', 'version']).execute();
  const waves = await R.loadWaves(db, rolloutId);
  const deps = await R.loadDeployments(db, rolloutId);
  const label = new Map(waves.map((w) => [w.wave, w.label]));
  const outcomes = new Map<string, string[]>();
  for (const d of [...deps].sort((a, b) => a.wave - b.wave || a.name.localeCompare(b.name)))
    for (const id of d.deviceIds)
      outcomes.set(id, [
        ...(outcomes.get(id) ?? []),
        `${label.get(d.wave)}/${d.component}=${d.outcomes[id]?.status ?? 'NONE'}`,
      ]);
  const onDevice = new Map(fleet.map((f) => [f.vanId, f.versions]));
  const table: Record<string, string> = {};
  for (const v of [...vans].sort((a, b) => a.van_id.localeCompare(b.van_id))) {
    const recorded = comps
      .filter((c) => c.device_id === v.device_id)
      .map((c) => `${c.component}@${c.version}`)
      .sort()
      .join(',');
    const device = Object.entries(onDevice.get(v.van_id) ?? {})
      .map(([c, ver]) => `${c}@${ver}`)
      .sort()
      .join(',');
    table[v.van_id] =
      `${v.stage}${v.excluded ? ' excluded' : ''} | device ${device} | records ${recorded} | ` +
      (outcomes.get(v.device_id) ?? []).join(' ');
  }
  return {
    status: rollout?.status ?? 'missing',
    waves: waves.map((w) => `${w.label}:${w.deviceIds.length}${w.closedAt ? '' : ' open'}`),
    vans: table,
  };
}

/** Mender's deployments against ours: one per (wave, component) name, each of ours realized exactly once. */
export async function deploymentLedger(db: Kysely<Database>, mender: MenderManagementClient) {
  const inMender = await mender.collect((page, perPage) => mender.listDeployments({ page, perPage }));
  const ours = await db.selectFrom('tracked_deployments').select(['name', 'mender_id', 'status']).execute();
  return { inMender, ours };
}

/** The fleet's devices as `normalizeRollout` wants them. */
export function fleetVersions(fleet: VirtualFleet): { vanId: string; versions: Record<string, string> }[] {
  return fleet.devices().map((d) => ({ vanId: d.vanId, versions: d.versions }));
}

const CREATE_PATH = '/api/management/v1/deployments/deployments';

/**
 * A proxy in front of Mender for "create deployment" calls; everything else passes. With `loseShare`,
 * that seeded share of creations reach Mender and then lose their answer (the connection dies): the
 * ambiguous failure a retry must not double. With `holdMs`, every creation's answer is held that long
 * after Mender acted: a window in which a bridge can be killed with the deployment made but unrecorded.
 */
export async function startCreateProxy(target: string, opts: { loseShare?: number; holdMs?: number; seed?: number }) {
  const rnd = seededRandom(opts.seed ?? 1);
  const up = new URL(target);
  const stats = { lost: 0, held: 0 };
  let holdMs = opts.holdMs ?? 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const create = req.method === 'POST' && req.url === CREATE_PATH;
    const lose = create && rnd() < (opts.loseShare ?? 0);
    const fwd = request(
      { host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        if (lose) {
          // The deployment exists now; the caller only sees its connection die.
          r.resume();
          r.on('end', () => {
            stats.lost++;
            req.socket.destroy();
          });
          return;
        }
        const answer = () => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        };
        if (create && holdMs > 0) {
          stats.held++;
          setTimeout(answer, holdMs);
        } else answer();
      },
    );
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    /** Hold the answers of later creations this long (0 = pass them at once). */
    setHold: (ms: number) => void (holdMs = ms),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
