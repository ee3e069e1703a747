// vancore-vpn: the update module that moves a van from Tailscale SaaS to Headscale one step per
// artifact (issue #9, docs/vpn-migration.md). Journaled like vancore-config: every effect is marked
// started before and done after it, so a kill -9 resumes by planning again; a rollback undoes what
// started. The pre-auth key stays in the module tree's files/ (written there by the client), is given
// to tailscale as `--auth-key=file:…` (never in argv, logs or journal) and is deleted once used.
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import { VanError } from '../../core/errors.js';
import { stateFilePath } from '../../core/state-dir.js';
import type { Logger } from '../../core/logger.js';
import { PAYLOAD_INDEX_FILE, VpnIndex, type VpnStep } from '../../core/schemas/payload-index.js';
import { parseWith } from '../../core/validation.js';
import { readVersions, setInstalledVersion, recordUpdate } from '../../core/versions.js';
import { readVpnState, VPN_STATE_INITIAL, writeVpnState } from '../../core/vpn-state.js';
import { stateAfter, stepAllowed, type VpnPosition } from '../../core/vpn-steps.js';
import { convergeJournaled } from '../lib/converge.js';
import { readHistory } from '../lib/downgrade.js';
import type { DeviceContext } from '../lib/device.js';
import type { Hold } from '../lib/hold.js';
import { readJournalFile, writeJournalFile } from '../lib/journal.js';
import {
  checkComponent,
  checkMetaAgrees,
  checkNoUnlistedFiles,
  checkPayloadFiles,
  listPayloadFiles,
  readIndexJson,
} from '../lib/payload.js';
import { describeResult, type CommandRunner } from '../lib/runner.js';
import type { ModuleHandlers, ModuleTree } from '../module/protocol.js';
import { decideDeadman, disarmDeadman, readDeadman, writeDeadman, type DeadmanVerdict } from './deadman.js';
import {
  effectLabel,
  isStaleVpn,
  planVpnCommit,
  planVpnInstall,
  planVpnRollback,
  undoEffects,
  VpnJournal,
  vpnActionLabel,
  type VpnAction,
  type VpnEffect,
  type VpnFacts,
} from './plan.js';
import { probeFailures, senseProbes } from './probes.js';
import type { VpnInstance, VpnSettings } from './settings.js';
import { sameUrl, tailscaleCli, type Tailscale } from './tailscale.js';

export interface VpnDeps {
  ctx: DeviceContext;
  settings: VpnSettings;
  runner: CommandRunner;
  clock: Clock;
  log: Logger;
  /** The Headscale node's name when vpn.yaml has none. */
  vanId?: string;
  hold?: Hold;
}

export interface VpnPayload {
  artifactName: string;
  version: string;
  step: VpnStep;
  loginServer: string;
  /** Host path of the pre-auth key in the tree (add only). */
  authKeyFile?: string;
}

const COMPONENT = 'vpn';

/** Validate the payload (nothing is written). */
export async function readVpnPayload(tree: ModuleTree): Promise<VpnPayload> {
  const raw = await readIndexJson(tree.filesDir, 'vancore-vpn');
  const index = parseWith(VpnIndex, raw, `invalid ${PAYLOAD_INDEX_FILE}`);
  checkComponent('vancore-vpn', index.component);
  checkMetaAgrees(tree.metaData, index.component, index.version);
  const url = new URL(index.login_server);
  if (url.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
    throw new VanError('INPUT_INVALID', `login_server must be https:// (http only for localhost), got ${url.origin}`);
  }
  if (index.step === 'add' && index.authkey === null) {
    throw new VanError('INPUT_INVALID', 'step add needs the pre-auth key (authkey) in the payload');
  }
  if (index.step !== 'add' && index.authkey !== null) {
    throw new VanError('INPUT_INVALID', `step ${index.step} must not carry a pre-auth key`);
  }
  const present = await listPayloadFiles(tree.filesDir);
  checkNoUnlistedFiles(index.authkey === null ? [] : [index.authkey], present);
  if (index.authkey !== null) {
    const f = present.find((p) => p.name === index.authkey);
    // The key may already be gone when a cut install resumes (forget-key ran): checked again at join.
    if (f) checkPayloadFiles([{ name: f.name, size: f.size }], present);
  }
  return {
    artifactName: tree.artifactName,
    version: index.version,
    step: index.step,
    loginServer: index.login_server,
    ...(index.authkey !== null ? { authKeyFile: join(tree.filesDir, index.authkey) } : {}),
  };
}

export function vpnDir(stateDir: string): string {
  return join(stateDir, 'vpn');
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** The effects on the van, shared by the module and the deadman. Each is idempotent. */
export function vpnEffects(deps: VpnDeps, tailscale: Tailscale) {
  const { settings: s, log } = deps;
  const inst = (i: 'saas' | 'hs'): VpnInstance => (i === 'saas' ? s.saas : s.headscale);
  const stash = () => `${s.saas.state_dir}.retired`;
  const timeoutMs = s.probe_timeout_seconds * 1000;
  const command = async (argv: readonly string[], what: string) => {
    const [cmd, ...args] = argv;
    const r = await deps.runner.run(cmd ?? '', args, { timeoutMs: Math.max(timeoutMs, 30_000) });
    if (r.code !== 0) throw new VanError('TOOL_FAILED', describeResult(what, r));
  };
  return async (e: VpnEffect, payload?: VpnPayload, bestEffort = false): Promise<void> => {
    try {
      switch (e.kind) {
        case 'daemon': {
          const i = inst(e.instance);
          if (e.to === 'start') await mkdir(i.state_dir, { recursive: true, mode: 0o700 });
          await command(e.to === 'start' ? i.start : i.stop, `${e.to} ${e.instance} tailscaled`);
          return;
        }
        case 'join_hs': {
          const p = payload;
          if (!p) throw new VanError('INTERNAL', 'join:hs needs the payload');
          const v = await tailscale.view(s.headscale);
          if (
            v.running &&
            v.backend === 'Running' &&
            v.controlUrl !== undefined &&
            sameUrl(v.controlUrl, p.loginServer)
          ) {
            log.info('headscale instance already joined');
            return;
          }
          if (!p.authKeyFile || !(await exists(p.authKeyFile))) {
            throw new VanError('INPUT_INVALID', 'the pre-auth key is no longer in the payload (already used)');
          }
          await tailscale.up(s.headscale, {
            loginServer: p.loginServer,
            authKeyFile: p.authKeyFile,
            hostname: s.hostname ?? deps.vanId ?? 'vancore-van',
            acceptDns: false,
          });
          log.info(`headscale instance joined ${new URL(p.loginServer).origin}`);
          return;
        }
        case 'forget_key':
          if (payload?.authKeyFile) await rm(payload.authKeyFile, { force: true });
          return;
        case 'hs_dns':
          await tailscale.set(s.headscale, { acceptDns: e.primary });
          return;
        case 'stash_saas':
          if (await exists(s.saas.state_dir)) {
            await rm(stash(), { recursive: true, force: true });
            await rename(s.saas.state_dir, stash());
          }
          return;
        case 'unstash_saas':
          if (await exists(stash())) {
            await rm(s.saas.state_dir, { recursive: true, force: true });
            await rename(stash(), s.saas.state_dir);
          }
          return;
        case 'purge_saas':
          await rm(stash(), { recursive: true, force: true });
          return;
        case 'logout_hs':
          await tailscale.logout(s.headscale);
          return;
        case 'wipe_hs':
          await rm(s.headscale.state_dir, { recursive: true, force: true });
          return;
      }
    } catch (err) {
      if (!bestEffort) throw err;
      log.warn(`${effectLabel(e)}: ${(err as Error).message}`);
    }
  };
}

/** Undo effects that may fail harmlessly (the daemon is already gone): logged, not fatal. */
const BEST_EFFORT: readonly VpnEffect['kind'][] = ['logout_hs'];

export function vpnHandlers(deps: VpnDeps): ModuleHandlers {
  const { ctx, clock, log, settings } = deps;
  const base = vpnDir(ctx.stateDir);
  const journalPath = stateFilePath(ctx.stateDir, 'vpnJournal');
  const read = () => readJournalFile(journalPath, VpnJournal);
  const write = (j: VpnJournal) => writeJournalFile(journalPath, { ...j, updated_at: clock.now().toISOString() });
  const patch = async (fn: (j: VpnJournal) => VpnJournal) => {
    const j = await read();
    if (!j) throw new VanError('INTERNAL', 'journal vanished');
    await write(fn(j));
  };
  const tailscale = tailscaleCli(settings.tailscale, deps.runner, settings.probe_timeout_seconds * 1000);
  const effect = vpnEffects(deps, tailscale);
  const probeDeps = {
    settings,
    tailscale,
    runner: deps.runner,
    ...(settings.ca_file ? { caFile: ctx.paths.resolve(settings.ca_file) } : {}),
  };

  /** Probes pass once within settle_seconds, then at every sample through validation_window_seconds. */
  const validate = async (j: VpnJournal) => {
    const start = clock.now().getTime();
    const interval = settings.probe_interval_seconds * 1000;
    let failures = probeFailures(j.step, await senseProbes(probeDeps, j.step, j.login_server));
    while (failures.length > 0) {
      if (clock.now().getTime() - start >= settings.settle_seconds * 1000) {
        throw new VanError('TOOL_FAILED', `${j.step} probes fail: ${failures.join('; ')}`);
      }
      await clock.sleep(interval);
      failures = probeFailures(j.step, await senseProbes(probeDeps, j.step, j.login_server));
    }
    const passedAt = clock.now().getTime();
    log.info(`${j.step} probes pass; holding them for ${settings.validation_window_seconds} s`);
    while (clock.now().getTime() - passedAt < settings.validation_window_seconds * 1000) {
      await clock.sleep(Math.min(interval, settings.validation_window_seconds * 1000));
      failures = probeFailures(j.step, await senseProbes(probeDeps, j.step, j.login_server));
      if (failures.length > 0) {
        throw new VanError('TOOL_FAILED', `${j.step} probes failed in the validation window: ${failures.join('; ')}`);
      }
    }
  };

  const execute = async (a: VpnAction, facts: VpnFacts, payload?: VpnPayload): Promise<void> => {
    const j = facts.journal;
    const need = <T>(v: T | undefined | null, what: string): T => {
      if (v === undefined || v === null) throw new VanError('INTERNAL', `step ${vpnActionLabel(a)} needs ${what}`);
      return v;
    };
    switch (a.kind) {
      case 'begin': {
        const p = need(payload, 'the payload');
        const now = clock.now().toISOString();
        const current = await readVpnState(ctx.stateDir);
        await mkdir(base, { recursive: true });
        // A new step supersedes the previous step's watch (its probes may not hold mid-step).
        await disarmDeadman(ctx.stateDir);
        await write({
          format: 1,
          artifact_name: p.artifactName,
          version: p.version,
          step: p.step,
          login_server: p.loginServer,
          before: current ? { state: current.state, step: current.step } : { ...VPN_STATE_INITIAL },
          versions_before: (await readVersions(ctx.stateDir)).value[COMPONENT] ?? null,
          outcome: 'installing',
          started: [],
          done: [],
          updated_at: now,
        });
        await recordUpdate(
          ctx.stateDir,
          'in_progress',
          { component: COMPONENT, version: p.version, artifact_name: p.artifactName },
          new Date(now),
        );
        return;
      }
      case 'effect':
        await effect(a.effect, payload, a.phase === 'rollback' && BEST_EFFORT.includes(a.effect.kind));
        return;
      case 'validate':
        await validate(need(j, 'a journal'));
        return;
      case 'record': {
        const jr = need(j, 'a journal');
        const now = clock.now();
        await writeVpnState(ctx.stateDir, {
          ...stateAfter(jr.step),
          artifact_name: jr.artifact_name,
          updated_at: now.toISOString(),
        });
        await setInstalledVersion(ctx.stateDir, COMPONENT, jr.version);
        await recordUpdate(ctx.stateDir, 'success', { ...jr, component: COMPONENT }, now);
        // Retire has nothing to go back to once SaaS state is purged; every other step is watched.
        if (jr.step !== 'retire' && settings.deadman.watch_seconds > 0) {
          await writeDeadman(ctx.stateDir, {
            format: 1,
            artifact_name: jr.artifact_name,
            step: jr.step,
            login_server: jr.login_server,
            before: jr.before,
            armed_at: now.toISOString(),
            until: new Date(now.getTime() + settings.deadman.watch_seconds * 1000).toISOString(),
            failures: 0,
            phase: 'armed',
          });
        }
        return;
      }
      case 'start_rollback':
        await patch((x) => ({ ...x, outcome: 'rolling_back' }));
        return;
      case 'restore': {
        const jr = need(j, 'a journal');
        const d = await readDeadman(ctx.stateDir);
        if (d?.artifact_name === jr.artifact_name) await disarmDeadman(ctx.stateDir);
        if (jr.started.includes('commit:record')) {
          await writeVpnState(ctx.stateDir, { ...jr.before, updated_at: clock.now().toISOString() });
          await setInstalledVersion(ctx.stateDir, COMPONENT, jr.versions_before);
        }
        return;
      }
      case 'finish': {
        const jr = need(j, 'a journal');
        await patch((x) => ({ ...x, outcome: a.outcome }));
        if (a.outcome === 'rolled_back') {
          await recordUpdate(ctx.stateDir, 'rolled_back', { ...jr, component: COMPONENT }, clock.now());
        }
        return;
      }
      case 'stuck':
        throw new VanError('CONFLICT', a.why);
    }
  };

  const run = (
    artifact: string,
    planner: (f: VpnFacts) => VpnAction[],
    what: string,
    payload?: VpnPayload,
  ): Promise<string[]> =>
    convergeJournaled<VpnFacts, VpnAction, VpnJournal>({
      sense: async () => ({ artifact, journal: await read() }),
      plan: planner,
      label: vpnActionLabel,
      execute: (a, facts) => execute(a, facts, payload),
      ...(deps.hold ? { hold: deps.hold } : {}),
      readJournal: read,
      writeJournal: (j) => writeJournalFile(journalPath, j),
      now: () => clock.now(),
      log,
      what,
    });

  return {
    async install(tree) {
      const payload = await readVpnPayload(tree);
      let stale = await read();
      if (isStaleVpn(stale) && stale.artifact_name !== tree.artifactName) {
        log.warn(`deployment ${stale.artifact_name} was interrupted (${stale.outcome}): rolling it back first`);
        await run(stale.artifact_name, planVpnRollback, 'recover');
        stale = await read();
      }
      if (!isStaleVpn(stale)) {
        const current = await readVpnState(ctx.stateDir);
        const refusal = stepAllowed(payload.step, current ?? { ...VPN_STATE_INITIAL });
        if (refusal) throw new VanError('CONFLICT', refusal);
      }
      await run(tree.artifactName, planVpnInstall, 'install', payload);
    },
    async commit(tree) {
      await run(tree.artifactName, planVpnCommit, 'commit');
    },
    async rollback(tree) {
      const executed = await run(tree.artifactName, planVpnRollback, 'rollback');
      if (executed.length === 0) log.info(`rollback: nothing to do (${tree.artifactName} was not installed)`);
    },
    async failure(tree) {
      const j = await read().catch(() => null);
      if (!j || j.artifact_name !== tree.artifactName || j.outcome === 'rolled_back') return;
      await recordUpdate(ctx.stateDir, 'failure', { ...j, component: COMPONENT }, clock.now());
    },
    async cleanup(tree) {
      // The key must not outlive the deployment, whatever happened to it (a failed add included).
      const p = await readVpnPayload(tree).catch(() => null);
      if (p?.authKeyFile) await rm(p.authKeyFile, { force: true });
    },
  };
}

/** One deadman round (`vancore-vpn deadman`): returns what it decided. */
export async function runDeadman(deps: VpnDeps): Promise<DeadmanVerdict> {
  const { ctx, clock, log, settings } = deps;
  const journal = await readJournalFile(stateFilePath(ctx.stateDir, 'vpnJournal'), VpnJournal).catch(() => null);
  const deadman = await readDeadman(ctx.stateDir);
  const facts = { now: clock.now(), deadman, busy: isStaleVpn(journal) };
  let verdict = decideDeadman(facts, settings.deadman.failures_to_revert);
  const tailscale = tailscaleCli(settings.tailscale, deps.runner, settings.probe_timeout_seconds * 1000);
  if (verdict.kind === 'probe' && deadman) {
    const probeFacts = await senseProbes(
      {
        settings,
        tailscale,
        runner: deps.runner,
        ...(settings.ca_file ? { caFile: ctx.paths.resolve(settings.ca_file) } : {}),
      },
      deadman.step,
      deadman.login_server,
    );
    verdict = decideDeadman(
      { ...facts, failures: probeFailures(deadman.step, probeFacts) },
      settings.deadman.failures_to_revert,
    );
  }
  switch (verdict.kind) {
    case 'idle':
    case 'probe':
      return verdict;
    case 'disarm':
      log.info('deadman: watch over, disarmed');
      await disarmDeadman(ctx.stateDir);
      return verdict;
    case 'healthy':
      if (deadman && deadman.failures > 0) await writeDeadman(ctx.stateDir, { ...deadman, failures: 0 });
      return verdict;
    case 'count':
      log.warn(`deadman: probes fail (${verdict.failures}/${settings.deadman.failures_to_revert}): ${verdict.why}`);
      if (deadman)
        await writeDeadman(ctx.stateDir, {
          ...deadman,
          failures: verdict.failures,
          last_failure: verdict.why.slice(0, 500),
        });
      return verdict;
    case 'revert': {
      if (!deadman) return verdict;
      log.error(`deadman: reverting ${deadman.step} to ${deadman.before.step}: ${verdict.why}`);
      await writeDeadman(ctx.stateDir, { ...deadman, phase: 'reverting', last_failure: verdict.why.slice(0, 500) });
      const effect = vpnEffects(deps, tailscale);
      for (const e of undoEffects(deadman.step, () => true)) await effect(e, undefined, BEST_EFFORT.includes(e.kind));
      const before: VpnPosition = deadman.before;
      await writeVpnState(ctx.stateDir, {
        state: 'reverted',
        step: before.step,
        artifact_name: deadman.artifact_name,
        detail: `deadman reverted ${deadman.step}: ${verdict.why}`.slice(0, 512),
        updated_at: clock.now().toISOString(),
      });
      // The van runs the previous step again: versions.json says so (the version it committed before this
      // artifact, from install-history.json). Otherwise the bridge's migration rollback — the previous
      // step's artifact — would be refused as a downgrade (lib/downgrade.ts); with it, a reinstall.
      const previous = readHistory(ctx.stateDir)
        .filter((h) => h.component === COMPONENT && h.artifact_name !== deadman.artifact_name)
        .at(-1);
      await setInstalledVersion(ctx.stateDir, COMPONENT, previous?.version ?? null);
      await disarmDeadman(ctx.stateDir);
      return verdict;
    }
  }
}
