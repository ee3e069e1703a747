import { describe, expect, it } from 'vitest';
import {
  configStepLabel,
  planConfigCommit,
  planConfigInstall,
  planConfigRollback,
  type ConfigJournal,
} from '../../../agent-hooks/config/plan.js';
import { lookupId } from '../../../agent-hooks/config/module.js';

const journal = (over: Partial<ConfigJournal> = {}): ConfigJournal => ({
  format: 1,
  artifact_name: 'vancore-config-1.4.0',
  component: 'config',
  version: '1.4.0',
  versions_before: '1.3.0',
  files: [],
  created_dirs: [],
  restart: ['vancore-sensord.service'],
  outcome: 'installing',
  started: [],
  done: [],
  updated_at: '2026-11-22T10:00:00Z',
  ...over,
});
const A = 'vancore-config-1.4.0';
const labels = (steps: { kind: string }[]) => steps.map((s) => configStepLabel(s as never));

describe('config planner', () => {
  it.each<[string, ConfigJournal | null, string[]]>([
    ['fresh', null, ['begin']],
    ['after begin', journal(), ['backup', 'write', 'restart', 'finish:installed']],
    ['backup done', journal({ started: ['backup'], done: ['backup'] }), ['write', 'restart', 'finish:installed']],
    [
      'write cut short: written again',
      journal({ started: ['backup', 'write'], done: ['backup'] }),
      ['write', 'restart', 'finish:installed'],
    ],
    ['no units to restart', journal({ restart: [] }), ['backup', 'write', 'finish:installed']],
    ['installed', journal({ outcome: 'installed' }), []],
    [
      'a finished earlier deployment',
      journal({ outcome: 'committed', artifact_name: 'vancore-config-1.3.0' }),
      ['begin'],
    ],
  ])('install: %s', (_what, j, want) => {
    expect(labels(planConfigInstall({ artifact: A, journal: j }))).toEqual(want);
  });

  it.each<[string, ConfigJournal | null, string[]]>([
    ['nothing installed: no-op', null, []],
    [
      'killed before write: nothing to restore',
      journal({ started: ['backup'], done: ['backup'] }),
      ['rollback:begin', 'finish:rolled_back'],
    ],
    [
      'write started',
      journal({ started: ['backup', 'write'], done: ['backup'] }),
      ['rollback:begin', 'rollback:restore', 'rollback:restart', 'finish:rolled_back'],
    ],
    [
      'a cut commit',
      journal({ outcome: 'installed', started: ['backup', 'write', 'restart', 'commit:record'] }),
      ['rollback:begin', 'rollback:restore', 'rollback:restart', 'rollback:unrecord', 'finish:rolled_back'],
    ],
    [
      'resumed rollback',
      journal({ outcome: 'rolling_back', started: ['write', 'rollback:restore'], done: ['rollback:restore'] }),
      ['rollback:restart', 'finish:rolled_back'],
    ],
    ['rolled back already', journal({ outcome: 'rolled_back', started: ['write'] }), []],
    ['another, committed deployment', journal({ outcome: 'committed', artifact_name: 'vancore-config-1.3.0' }), []],
  ])('rollback: %s', (_what, j, want) => {
    expect(labels(planConfigRollback({ artifact: A, journal: j }))).toEqual(want);
  });

  it.each<[string, ConfigJournal | null, string[]]>([
    ['installed', journal({ outcome: 'installed' }), ['commit:record', 'finish:committed']],
    ['recorded, cut before finish', journal({ outcome: 'installed', done: ['commit:record'] }), ['finish:committed']],
    ['committed (repeated commit)', journal({ outcome: 'committed' }), []],
    ['nothing installed', null, ['stuck']],
    ['still installing', journal(), ['stuck']],
  ])('commit: %s', (_what, j, want) => {
    expect(labels(planConfigCommit({ artifact: A, journal: j }))).toEqual(want);
  });
});

describe('lookupId', () => {
  const db = 'root:x:0:0::/root:/bin/sh\nvancore:x:1500:1500::/:/bin/false\n';
  it.each<[string, number | undefined]>([
    ['root', 0],
    ['vancore', 1500],
    ['42', 42],
    ['nobody', undefined],
  ])('%s → %s', (name, id) => {
    expect(lookupId(db, name)).toBe(id);
  });
});
