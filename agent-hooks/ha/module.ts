// vancore-ha: the update module that brings Home Assistant add-ons to the versions an artifact names,
// through the HA Supervisor (protocol v3; docs/home-assistant.md). Per add-on: a partial Supervisor
// backup of that add-on, the update, a wait until it is `started` (and stays so: the Supervisor's
// watchdog restarts a crashing add-on) and its optional health URL answers 2xx. ArtifactRollback
// restores the backups. Nothing changes before the preflight has seen the Supervisor answer for every
// add-on and the store offer every target version.
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import { VanError } from '../../core/errors.js';
import { stateFilePath } from '../../core/state-dir.js';
import type { Logger } from '../../core/logger.js';
import { HaAddonsIndex, PAYLOAD_INDEX_FILE } from '../../core/schemas/payload-index.js';
import { parseWith } from '../../core/validation.js';
import { readVersions, recordUpdate, setInstalledVersion } from '../../core/versions.js';
import { convergeJournaled } from '../lib/converge.js';
import type { DeviceContext } from '../lib/device.js';
import type { Hold } from '../lib/hold.js';
import { readJournalFile, writeJournalFile } from '../lib/journal.js';
import { checkComponent, checkMetaAgrees, readIndexJson } from '../lib/payload.js';
import type { ModuleHandlers, ModuleTree } from '../module/protocol.js';
import {
  HaJournal,
  haStepLabel,
  isStaleHa,
  planHaCommit,
  planHaInstall,
  planHaRollback,
  type HaAddonRecord,
  type HaFacts,
  type HaStep,
} from './plan.js';
import type { AddonInfo, Supervisor } from './supervisor.js';

export interface HaDeps {
  ctx: DeviceContext;
  supervisor: Supervisor;
  clock: Clock;
  log: Logger;
  /** An HTTP GET for the optional health URL: the status, or an error line. */
  probe: (url: string, timeoutMs: number) => Promise<{ status: number } | { error: string }>;
  hold?: Hold;
}

export interface HaPayload {
  artifactName: string;
  component: string;
  version: string;
  addons: { slug: string; version: string; health_url: string | null }[];
}

export function haDir(stateDir: string): string {
  return join(stateDir, 'ha');
}

/** Validate the payload (index and meta-data). Pure apart from reading the tree; writes nothing. */
export async function readHaPayload(tree: ModuleTree): Promise<HaPayload> {
  const raw = await readIndexJson(tree.filesDir, 'vancore-ha');
  const index = parseWith(HaAddonsIndex, raw, `invalid ${PAYLOAD_INDEX_FILE}`);
  const component = checkComponent('vancore-ha', index.component);
  checkMetaAgrees(tree.metaData, component, index.version);
  return { artifactName: tree.artifactName, component, version: index.version, addons: index.addons };
}

/** The backup name: findable again after a kill between the Supervisor writing it and the journal. */
export function backupName(artifact: string, slug: string, from: string): string {
  return `vancore ${artifact} ${slug} ${from}`;
}

export function haHandlers(deps: HaDeps): ModuleHandlers {
  const { ctx, clock, log, supervisor: sv } = deps;
  const access = ctx.config.ha_supervisor;
  const journalPath = stateFilePath(ctx.stateDir, 'haJournal');
  const read = () => readJournalFile(journalPath, HaJournal);
  const write = (j: HaJournal) => writeJournalFile(journalPath, { ...j, updated_at: clock.now().toISOString() });
  const patch = async (fn: (j: HaJournal) => HaJournal) => {
    const j = await read();
    if (!j) throw new VanError('INTERNAL', 'journal vanished');
    await write(fn(j));
  };
  const pollMs = access.poll_interval_seconds * 1000;

  /** A killed earlier call may have left the Supervisor working on this add-on: let that finish first. */
  const waitForJobs = async (slug: string) => {
    const deadline = clock.now().getTime() + access.request_timeout_seconds * 1000;
    for (;;) {
      const running = await sv.runningJobs(slug);
      if (running.length === 0) return;
      if (clock.now().getTime() > deadline) {
        throw new VanError('TOOL_FAILED', `the Supervisor is still busy with ${slug} (${running[0]?.name ?? 'a job'})`);
      }
      log.info(`waiting for the Supervisor's ${running.map((r) => r.name ?? r.uuid).join(', ')} on ${slug}`);
      await clock.sleep(pollMs);
    }
  };

  /**
   * `started` continuously for settle_seconds (the watchdog restarts a crashing add-on, so one
   * `started` proves little), then the health URL answers 2xx; within start_timeout_seconds.
   */
  const waitHealthy = async (a: HaAddonRecord, version: string) => {
    const deadline = clock.now().getTime() + access.start_timeout_seconds * 1000;
    let since: number | null = null;
    let last: AddonInfo | null = null;
    let lastProbe = '';
    for (;;) {
      const now = clock.now().getTime();
      last = await sv.addonInfo(a.slug);
      if (last.version !== version) {
        throw new VanError('TOOL_FAILED', `${a.slug} runs ${last.version ?? 'nothing'}, not ${version}`);
      }
      if (last.state === 'error')
        throw new VanError('TOOL_FAILED', `${a.slug} ${version} failed to start (state error)`);
      if (last.state === 'started') {
        since ??= now;
        if (now - since >= access.settle_seconds * 1000) {
          if (a.health_url === null) return;
          const r = await deps.probe(a.health_url, 5000);
          if ('status' in r && r.status >= 200 && r.status < 300) return;
          lastProbe = 'status' in r ? `HTTP ${r.status}` : r.error;
        }
      } else since = null;
      if (clock.now().getTime() > deadline) {
        const why =
          last.state !== 'started'
            ? `state ${last.state ?? 'unknown'}`
            : lastProbe
              ? `${a.health_url ?? ''} answered ${lastProbe}`
              : 'not started long enough';
        throw new VanError(
          'TOOL_FAILED',
          `${a.slug} ${version} is not healthy after ${access.start_timeout_seconds} s (${why})`,
        );
      }
      await clock.sleep(pollMs);
    }
  };

  const execute = async (step: HaStep, facts: HaFacts, prepared?: HaAddonRecord[], payload?: HaPayload) => {
    const j = facts.journal;
    const need = <T>(v: T | undefined | null, what: string): T => {
      if (v === undefined || v === null) throw new VanError('INTERNAL', `step ${haStepLabel(step)} needs ${what}`);
      return v;
    };
    const addon = (slug: string) =>
      need(
        need(j, 'a journal').addons.find((a) => a.slug === slug),
        `add-on ${slug}`,
      );
    switch (step.kind) {
      case 'begin': {
        const p = need(payload, 'the payload');
        const addons = need(prepared, 'the preflight');
        // The previous deployment's backups are no longer needed once a new one begins.
        const old = await read().catch(() => null);
        for (const a of old?.addons ?? []) {
          if (a.backup) await sv.removeBackup(a.backup).catch(() => undefined);
        }
        const now = clock.now().toISOString();
        await write({
          format: 1,
          artifact_name: p.artifactName,
          component: p.component,
          version: p.version,
          versions_before: (await readVersions(ctx.stateDir)).value[p.component] ?? null,
          addons,
          outcome: 'installing',
          started: [],
          done: [],
          updated_at: now,
        });
        await recordUpdate(
          ctx.stateDir,
          'in_progress',
          { component: p.component, version: p.version, artifact_name: p.artifactName },
          new Date(now),
        );
        return;
      }
      case 'backup': {
        const jr = need(j, 'a journal');
        const a = addon(step.slug);
        const name = backupName(jr.artifact_name, a.slug, a.from);
        // After a kill the Supervisor may have written the backup without the journal knowing.
        const existing = (await sv.listBackups()).find((b) => b.name === name);
        const slug = existing?.slug ?? (await sv.backupPartial(name, a.slug));
        log.info(`backup of ${a.slug} ${a.from}: ${slug}`);
        await patch((x) => ({ ...x, addons: x.addons.map((r) => (r.slug === a.slug ? { ...r, backup: slug } : r)) }));
        return;
      }
      case 'update': {
        const a = addon(step.slug);
        await waitForJobs(a.slug);
        const info = await sv.addonInfo(a.slug);
        if (info.version === a.target) {
          log.info(`${a.slug} is at ${a.target}`);
          return;
        }
        if (info.version_latest !== a.target) {
          throw new VanError(
            'TOOL_FAILED',
            `the store now offers ${a.slug} ${info.version_latest ?? 'nothing'}, not ${a.target}`,
          );
        }
        log.info(`updating ${a.slug} ${info.version ?? '?'} → ${a.target}`);
        await sv.update(a.slug);
        const after = await sv.addonInfo(a.slug);
        if (after.version !== a.target) {
          throw new VanError(
            'TOOL_FAILED',
            `${a.slug} reports ${after.version ?? 'nothing'} after the update, not ${a.target}`,
          );
        }
        return;
      }
      case 'verify': {
        const a = addon(step.slug);
        await waitHealthy(a, a.target);
        log.info(`${a.slug} ${a.target} is healthy`);
        return;
      }
      case 'record': {
        const jr = need(j, 'a journal');
        await setInstalledVersion(ctx.stateDir, jr.component, jr.version);
        await recordUpdate(ctx.stateDir, 'success', jr, clock.now());
        return;
      }
      case 'start_rollback':
        await patch((x) => ({ ...x, outcome: 'rolling_back' }));
        return;
      case 'restore': {
        const a = addon(step.slug);
        const backup = need(a.backup, `a backup of ${a.slug}`);
        await waitForJobs(a.slug);
        log.info(`restoring ${a.slug} ${a.from} from backup ${backup}`);
        await sv.restorePartial(backup, a.slug);
        const info = await sv.addonInfo(a.slug);
        if (info.version !== a.from) {
          throw new VanError(
            'TOOL_FAILED',
            `${a.slug} reports ${info.version ?? 'nothing'} after the restore, not ${a.from}`,
          );
        }
        if (a.was_started) await waitHealthy({ ...a, health_url: null }, a.from);
        return;
      }
      case 'unrecord': {
        const jr = need(j, 'a journal');
        await setInstalledVersion(ctx.stateDir, jr.component, jr.versions_before);
        return;
      }
      case 'finish': {
        const jr = need(j, 'a journal');
        await patch((x) => ({ ...x, outcome: step.outcome }));
        if (step.outcome === 'rolled_back') await recordUpdate(ctx.stateDir, 'rolled_back', jr, clock.now());
        return;
      }
      case 'stuck':
        throw new VanError('CONFLICT', step.why);
    }
  };

  const run = (
    artifact: string,
    planner: (f: HaFacts) => HaStep[],
    what: string,
    prepared?: HaAddonRecord[],
    payload?: HaPayload,
  ): Promise<string[]> =>
    convergeJournaled<HaFacts, HaStep, HaJournal>({
      sense: async () => ({ artifact, journal: await read() }),
      plan: planner,
      label: haStepLabel,
      execute: (step, facts) => execute(step, facts, prepared, payload),
      ...(deps.hold ? { hold: deps.hold } : {}),
      readJournal: read,
      writeJournal: (j) => writeJournalFile(journalPath, j),
      now: () => clock.now(),
      log,
      what,
    });

  /**
   * Preflight (reads only): the Supervisor answers, every add-on is installed, and the store offers
   * each target version (a reload of the store first, if it does not yet). Throws before any change.
   */
  const preflight = async (p: HaPayload): Promise<HaAddonRecord[]> => {
    await sv.ping();
    const infos = new Map<string, AddonInfo>();
    for (const a of p.addons) infos.set(a.slug, await sv.addonInfo(a.slug));
    const behind = () =>
      p.addons.filter((a) => {
        const i = infos.get(a.slug);
        return i !== undefined && i.version !== a.version && i.version_latest !== a.version;
      });
    if (behind().length > 0) {
      log.info('reloading the add-on store for the versions this artifact needs');
      await sv.reloadStore();
      for (const a of behind()) infos.set(a.slug, await sv.addonInfo(a.slug));
    }
    const records: HaAddonRecord[] = [];
    for (const a of p.addons) {
      const i = infos.get(a.slug);
      if (!i || i.version === null)
        throw new VanError('INPUT_INVALID', `add-on ${a.slug} is not installed on this hub`);
      if (i.version !== a.version && i.version_latest !== a.version) {
        throw new VanError(
          'INPUT_INVALID',
          `the add-on store offers ${a.slug} ${i.version_latest ?? 'nothing'}, not ${a.version} (the Supervisor updates only to the store's version)`,
        );
      }
      records.push({
        slug: a.slug,
        target: a.version,
        health_url: a.health_url,
        from: i.version,
        was_started: i.state === 'started',
        backup: null,
      });
    }
    return records;
  };

  return {
    async install(tree) {
      const payload = await readHaPayload(tree);
      const stale = await read();
      // Reachability and the store first: with the Supervisor down, not even a recovery starts.
      let prepared = await preflight(payload);
      if (isStaleHa(stale)) {
        log.warn(`deployment ${stale.artifact_name} was interrupted (${stale.outcome}): rolling it back first`);
        await run(stale.artifact_name, planHaRollback, 'recover');
        // The recovery changed the add-ons: what they run now is what this deployment starts from.
        prepared = await preflight(payload);
      }
      await run(tree.artifactName, planHaInstall, 'install', prepared, payload);
    },
    async commit(tree) {
      await run(tree.artifactName, planHaCommit, 'commit');
    },
    async rollback(tree) {
      const executed = await run(tree.artifactName, planHaRollback, 'rollback');
      if (executed.length === 0) log.info(`rollback: nothing to do (${tree.artifactName} was not installed)`);
    },
    async failure(tree) {
      const j = await read().catch(() => null);
      if (!j || j.artifact_name !== tree.artifactName || j.outcome === 'rolled_back') return;
      await recordUpdate(ctx.stateDir, 'failure', j, clock.now());
    },
    async cleanup() {
      // Backups stay until the next deployment begins: a rollback after a cut commit still needs them.
    },
  };
}
