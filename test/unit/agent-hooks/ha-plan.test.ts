// The vancore-ha planners against a model of the hub, with a kill before and after the effect of every
// step of install, commit and rollback (the journal marks a step started before its effect and done
// after it, agent-hooks/lib/converge.ts). After the client's recovery (ArtifactRollback under the
// daemon), every add-on runs its old version; after a completed install + commit, every add-on runs
// its new one: never some old and some new.
import { describe, expect, it } from 'vitest';
import {
  haStepLabel,
  planHaCommit,
  planHaInstall,
  planHaRollback,
  type HaFacts,
  type HaJournal,
  type HaStep,
} from '../../../agent-hooks/ha/plan.js';
import { markStep } from '../../../agent-hooks/lib/journal.js';

const ART = 'vancore-ha_addons-2.0.0';
const ADDONS = [
  { slug: 'core_mosquitto', from: '6.4.0', target: '6.4.1' },
  { slug: 'core_zwave_js', from: '0.9.0', target: '0.10.0' },
  { slug: 'a0d7b954_nodered', from: '17.0.0', target: '18.0.1' },
];
const AT = new Date('2026-12-06T04:00:00Z');

interface Hub {
  versions: Record<string, string>;
  backups: Record<string, string>;
  recorded: string | null;
  journal: HaJournal | null;
}

const fresh = (): Hub => ({
  versions: Object.fromEntries(ADDONS.map((a) => [a.slug, a.from])),
  backups: {},
  recorded: null,
  journal: null,
});

/** The step's effect on the model (what the module's executor does to the Supervisor and the files). */
function effect(hub: Hub, step: HaStep): void {
  const j = hub.journal;
  switch (step.kind) {
    case 'begin':
      hub.journal = {
        format: 1,
        artifact_name: ART,
        component: 'ha_addons',
        version: '2.0.0',
        versions_before: null,
        addons: ADDONS.map((a) => ({
          slug: a.slug,
          target: a.target,
          health_url: null,
          from: a.from,
          was_started: true,
          backup: null,
        })),
        outcome: 'installing',
        started: [],
        done: [],
        updated_at: AT.toISOString(),
      };
      return;
    case 'backup':
      hub.backups[step.slug] = hub.versions[step.slug] ?? '?';
      if (j)
        hub.journal = {
          ...j,
          addons: j.addons.map((a) => (a.slug === step.slug ? { ...a, backup: `b-${a.slug}` } : a)),
        };
      return;
    case 'update':
      hub.versions[step.slug] = ADDONS.find((a) => a.slug === step.slug)?.target ?? '?';
      return;
    case 'verify':
      return;
    case 'record':
      hub.recorded = '2.0.0';
      return;
    case 'start_rollback':
      if (j) hub.journal = { ...j, outcome: 'rolling_back' };
      return;
    case 'restore': {
      const backup = j?.addons.find((a) => a.slug === step.slug)?.backup;
      if (!backup) throw new Error(`restore of ${step.slug} without a backup`);
      hub.versions[step.slug] = hub.backups[step.slug] ?? '?';
      return;
    }
    case 'unrecord':
      hub.recorded = null;
      return;
    case 'finish':
      if (j) hub.journal = { ...j, outcome: step.outcome };
      return;
    case 'stuck':
      throw new Error(step.why);
  }
}

class Killed extends Error {}

/** converge() on the model; `kill` = [label, 'before' | 'after'] stops it there like a SIGKILL. */
function converge(hub: Hub, planner: (f: HaFacts) => HaStep[], kill?: [string, 'before' | 'after']): string[] {
  const ran: string[] = [];
  for (let i = 0; i < 100; i++) {
    const step = planner({ artifact: ART, journal: hub.journal })[0];
    if (!step) return ran;
    const label = haStepLabel(step);
    if (hub.journal && label !== 'begin') hub.journal = markStep(hub.journal, label, 'start', AT);
    if (kill?.[0] === label && kill[1] === 'before') throw new Killed();
    effect(hub, step);
    if (kill?.[0] === label && kill[1] === 'after') throw new Killed();
    if (hub.journal) hub.journal = markStep(hub.journal, label, 'done', AT);
    ran.push(label);
  }
  throw new Error('no convergence');
}

const installLabels = converge(fresh(), planHaInstall);
const olds = Object.fromEntries(ADDONS.map((a) => [a.slug, a.from]));
const news = Object.fromEntries(ADDONS.map((a) => [a.slug, a.target]));

describe('vancore-ha plans', () => {
  it('install: each add-on backed up before its update, verified after it', () => {
    expect(installLabels).toEqual([
      'begin',
      'backup:core_mosquitto',
      'update:core_mosquitto',
      'verify:core_mosquitto',
      'backup:core_zwave_js',
      'update:core_zwave_js',
      'verify:core_zwave_js',
      'backup:a0d7b954_nodered',
      'update:a0d7b954_nodered',
      'verify:a0d7b954_nodered',
      'finish:installed',
    ]);
  });

  const points = installLabels.flatMap((l) => [
    [l, 'before'],
    [l, 'after'],
  ]) as [string, 'before' | 'after'][];

  it.each(points)(
    'killed in install at %s (%s): the rollback leaves every add-on on its old version',
    (label, when) => {
      const hub = fresh();
      expect(() => converge(hub, planHaInstall, [label, when])).toThrow(Killed);
      converge(hub, planHaRollback);
      expect(hub.versions).toEqual(olds);
      expect(hub.recorded).toBeNull();
      if (hub.journal) expect(hub.journal.outcome).toBe('rolled_back');
    },
  );

  it.each(points)(
    'killed in install at %s (%s), then a rollback killed at each of its steps: old after a retry',
    (label, when) => {
      const probe = fresh();
      expect(() => converge(probe, planHaInstall, [label, when])).toThrow(Killed);
      const snapshot = structuredClone(probe);
      const rollbackLabels = converge(probe, planHaRollback);
      for (const r of rollbackLabels) {
        for (const rw of ['before', 'after'] as const) {
          const hub = structuredClone(snapshot);
          expect(() => converge(hub, planHaRollback, [r, rw])).toThrow(Killed);
          converge(hub, planHaRollback);
          expect(hub.versions).toEqual(olds);
        }
      }
    },
  );

  it('a commit cut after the module recorded: a repeated commit finishes, a rollback restores everything', () => {
    const hub = fresh();
    converge(hub, planHaInstall);
    expect(hub.versions).toEqual(news);
    const snapshot = structuredClone(hub);
    expect(() => converge(hub, planHaCommit, ['commit:record', 'after'])).toThrow(Killed);
    const again = structuredClone(hub);
    expect(converge(again, planHaCommit)).toEqual(['commit:record', 'finish:committed']); // record again: idempotent
    expect(again.recorded).toBe('2.0.0');
    converge(hub, planHaRollback);
    expect(hub.versions).toEqual(olds);
    expect(hub.recorded).toBeNull();
    // A committed deployment of another artifact is not rolled back by a later call.
    converge(snapshot, planHaCommit);
    expect(planHaRollback({ artifact: 'vancore-ha_addons-3.0.0', journal: snapshot.journal })).toEqual([]);
  });

  it('a second install while one is unfinished is refused (the module recovers first)', () => {
    const hub = fresh();
    expect(() => converge(hub, planHaInstall, ['update:core_zwave_js', 'after'])).toThrow(Killed);
    expect(planHaInstall({ artifact: 'vancore-ha_addons-3.0.0', journal: hub.journal })).toEqual([
      { kind: 'stuck', why: `deployment ${ART} is installing; it must be rolled back first` },
    ]);
  });
});
