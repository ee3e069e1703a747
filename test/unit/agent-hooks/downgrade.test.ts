// The downgrade rules of agent-hooks/lib/downgrade.ts, one row per rule (issue #20 item 4).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HISTORY_MAX,
  INSTALL_HISTORY_FILE,
  appendHistory,
  decideDowngrade,
  identifyIncoming,
  readInstalled,
  recordInstall,
  type HistoryEntry,
  type Installed,
} from '../../../agent-hooks/lib/downgrade.js';
import { REASON_CATALOGUE } from '../../../core/reason-codes.js';

const entry = (version: string, over: Partial<HistoryEntry> = {}): HistoryEntry => ({
  component: 'config',
  version,
  artifact_name: `vancore-config-${version}`,
  at: '2026-11-20T10:00:00.000Z',
  ...over,
});

const installed = (version: string | null, history: HistoryEntry[] = [], unknown?: string): Installed => ({
  version,
  history,
  ...(unknown !== undefined ? { unknown } : {}),
});

const incoming = (version: string, name = `vancore-config-${version}`) => ({
  artifactName: name,
  component: 'config',
  version,
});

describe('decideDowngrade', () => {
  it.each<[string, Installed, ReturnType<typeof incoming>, { revert_of?: string }, string, string]>([
    ['nothing installed', installed(null), incoming('1.0.0'), {}, 'allow', 'first_install'],
    ['newer', installed('1.0.0'), incoming('2.0.0'), {}, 'allow', 'upgrade'],
    ['newer patch over a prerelease', installed('2.0.0-rc.1'), incoming('2.0.0'), {}, 'allow', 'upgrade'],
    [
      'newer, though built as a revert of something else',
      installed('1.0.0'),
      incoming('1.5.0'),
      { revert_of: '2.0.0' },
      'allow',
      'upgrade',
    ],
    [
      'the same version (reinstall)',
      installed('2.0.0'),
      incoming('2.0.0', 'vancore-config-2.0.0-rebuilt'),
      {},
      'allow',
      'reinstall',
    ],
    [
      'the same version by a revert that already landed',
      installed('1.0.0'),
      incoming('1.0.0', 'vancore-config-1.0.0-revert-2.0.0'),
      { revert_of: '2.0.0' },
      'allow',
      'reinstall',
    ],
    ['the same version, build metadata aside', installed('2.0.0+b1'), incoming('2.0.0+b2'), {}, 'allow', 'reinstall'],
    [
      'older, an explicit revert of the installed version',
      installed('2.0.0'),
      incoming('1.0.0', 'vancore-config-1.0.0-revert-2.0.0'),
      { revert_of: '2.0.0' },
      'allow',
      'revert',
    ],
    [
      'older, a revert of a version the van does not run',
      installed('2.1.0'),
      incoming('1.0.0', 'vancore-config-1.0.0-revert-2.0.0'),
      { revert_of: '2.0.0' },
      'refuse',
      'downgrade_refused',
    ],
    [
      'older, no revert, never installed here',
      installed('2.0.0'),
      incoming('1.0.0'),
      {},
      'refuse',
      'downgrade_refused',
    ],
    ['older prerelease', installed('2.0.0'), incoming('2.0.0-rc.1'), {}, 'refuse', 'downgrade_refused'],
    [
      'older, installed here before (replay)',
      installed('2.0.0', [entry('1.0.0'), entry('2.0.0')]),
      incoming('1.0.0'),
      {},
      'refuse',
      'artifact_replayed',
    ],
    [
      'older, that very artifact installed here before',
      installed('2.0.0', [entry('1.0.0', { artifact_name: 'cfg-one' }), entry('2.0.0')]),
      incoming('1.0.0', 'cfg-one'),
      {},
      'refuse',
      'artifact_replayed',
    ],
    [
      'older, the history is of another component',
      installed('2.0.0', [entry('1.0.0', { component: 'platform' })]),
      incoming('1.0.0'),
      {},
      'refuse',
      'downgrade_refused',
    ],
    [
      'installed version unknown',
      installed(null, [], 'versions.json is not a JSON object'),
      incoming('3.0.0'),
      {},
      'refuse',
      'versions_unknown',
    ],
  ])('%s', (_name, have, art, meta, outcome, kindOrCode) => {
    const v = decideDowngrade(have, art, meta);
    expect(v.allow ? 'allow' : 'refuse').toBe(outcome);
    expect(v.allow ? v.kind : v.code).toBe(kindOrCode);
    if (!v.allow) {
      expect(v.code in REASON_CATALOGUE).toBe(true);
      expect(v.line.startsWith(`${v.code}: `)).toBe(true);
      expect(v.line).not.toContain('\n');
    }
  });

  it('names the way back in a refusal, and when the replayed version ran here', () => {
    const replay = decideDowngrade(installed('2.0.0', [entry('1.0.0'), entry('2.0.0')]), incoming('1.0.0'), {});
    expect(replay.line).toBe(
      'artifact_replayed: vancore-config-1.0.0 (config 1.0.0) was installed on this van at 2026-11-20T10:00:00.000Z and superseded by 2.0.0; only a signed revert artifact (artifact build --revert-of 2.0.0) may take config back',
    );
    const other = decideDowngrade(installed('2.1.0'), incoming('1.0.0', 'r'), { revert_of: '2.0.0' });
    expect(other.line).toBe(
      'downgrade_refused: r reverts config from 2.0.0, but this van runs 2.1.0: refusing to go back to 1.0.0',
    );
  });
});

describe('identifyIncoming', () => {
  it('reads component, version and revert_of from the meta-data', () => {
    expect(
      identifyIncoming('a', { vancore: { component: 'config', version: '1.0.0', revert_of: '2.0.0' } }, undefined),
    ).toEqual({ incoming: { artifactName: 'a', component: 'config', version: '1.0.0' }, meta: { revert_of: '2.0.0' } });
  });
  it('falls back to the payload index; never a revert without meta-data', () => {
    expect(identifyIncoming('a', undefined, { format: 1, component: 'platform', version: '0.9.0' })).toEqual({
      incoming: { artifactName: 'a', component: 'platform', version: '0.9.0' },
      meta: {},
    });
  });
  it('says nothing for an artifact that names no version, and refuses broken meta-data', () => {
    expect(identifyIncoming('a', { other: 1 }, undefined)).toBeNull();
    expect(identifyIncoming('a', undefined, { component: 'x', version: 'latest' })).toBeNull();
    expect(identifyIncoming('a', { vancore: { component: 'config', version: '1.0.0', revert_of: 'x' } })).toEqual({
      error: "meta_data_invalid: the artifact's VanCore meta-data is invalid",
    });
  });
});

describe('install history and versions.json on disk', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads the installed version; a missing file or entry is a first install, a broken one unknown', async () => {
    dir = await mkdtemp(join(tmpdir(), 'vc-downgrade-'));
    expect(readInstalled(dir, 'config')).toEqual({ version: null, history: [] });
    await writeFile(join(dir, 'versions.json'), JSON.stringify({ config: '2.0.0', app: 'x' }));
    expect(readInstalled(dir, 'config').version).toBe('2.0.0');
    expect(readInstalled(dir, 'platform')).toEqual({ version: null, history: [] });
    expect(readInstalled(dir, 'app').unknown).toMatch(/the entry for app is not a version/);
    await writeFile(join(dir, 'versions.json'), '{ torn');
    expect(readInstalled(dir, 'config').unknown).toMatch(/is not a JSON object/);
  });

  it('records commits once each, oldest first, capped', async () => {
    dir = await mkdtemp(join(tmpdir(), 'vc-downgrade-'));
    recordInstall(dir, entry('1.0.0'));
    recordInstall(dir, entry('1.0.0', { at: '2026-11-21T10:00:00.000Z' })); // a repeated commit
    recordInstall(dir, entry('2.0.0'));
    recordInstall(dir, entry('1.0.0', { artifact_name: 'vancore-config-1.0.0-revert-2.0.0', revert_of: '2.0.0' }));
    const doc = JSON.parse(await readFile(join(dir, INSTALL_HISTORY_FILE), 'utf8')) as { entries: HistoryEntry[] };
    expect(doc.entries.map((e) => e.artifact_name)).toEqual([
      'vancore-config-1.0.0',
      'vancore-config-2.0.0',
      'vancore-config-1.0.0-revert-2.0.0',
    ]);
    expect(readInstalled(dir, 'config').history).toEqual(doc.entries);
    await writeFile(join(dir, INSTALL_HISTORY_FILE), 'not json');
    expect(readInstalled(dir, 'config').history).toEqual([]);

    let many: HistoryEntry[] = [];
    for (let i = 0; i < HISTORY_MAX + 5; i++) many = appendHistory(many, entry(`1.0.${i}`));
    expect(many).toHaveLength(HISTORY_MAX);
    expect(many[0]?.version).toBe('1.0.5');
  });
});
