import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VanError } from '../../../core/errors.js';
import type { StateFile } from '../../../mender-sim/model.js';
import { StateSaver, loadState } from '../../../mender-sim/persist.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vc-persist-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function state(seq: number): StateFile {
  return {
    format: 'vancore-mender-sim',
    version: 1,
    secret: 'c2VjcmV0',
    user: { id: 'u', email: 'e', createdMs: 0 },
    pats: [],
    tokens: [],
    devices: [],
    artifacts: [],
    releases: {},
    deployments: [],
    deviceDeployments: [],
    seq,
  };
}

describe('StateSaver', () => {
  it('coalesces a burst of changes into one atomic write, and flush writes the latest state', async () => {
    const file = join(dir, 'a', 'state.json');
    let seq = 0;
    let snapshots = 0;
    const saver = new StateSaver({
      file,
      delayMs: 20,
      snapshot: () => {
        snapshots += 1;
        return state(seq);
      },
      onError: (e) => {
        throw e;
      },
    });
    for (seq = 1; seq <= 50; seq++) saver.schedule();
    seq = 50;
    await new Promise((r) => setTimeout(r, 200));
    expect(snapshots).toBe(1);
    expect((await loadState(file))?.seq).toBe(50);
    expect(existsSync(`${file}.tmp`)).toBe(false);
    seq = 51;
    saver.schedule();
    await saver.flush();
    expect((await loadState(file))?.seq).toBe(51);
  });
});

describe('loadState', () => {
  it('is undefined for a missing file and round-trips a saved one', async () => {
    expect(await loadState(join(dir, 'none.json'))).toBeUndefined();
    const file = join(dir, 'ok.json');
    await writeFile(file, JSON.stringify(state(7)));
    expect(await loadState(file)).toEqual(state(7));
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ seq: 7 });
  });

  it.each([
    ['not JSON', '{', /is not JSON/],
    ['another format', JSON.stringify({ ...state(1), format: 'other' }), /invalid state file .*: format/],
    [
      'a broken device',
      JSON.stringify({ ...state(1), devices: [{ id: 1 }] }),
      /invalid state file .*: devices\[0\]\.id/,
    ],
  ])('rejects %s with CONFIG_INVALID', async (_n, text, message) => {
    const file = join(dir, `bad-${Math.random()}.json`);
    await writeFile(file, text);
    const e = await loadState(file).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(VanError);
    expect((e as VanError).code).toBe('CONFIG_INVALID');
    expect((e as VanError).message).toMatch(message);
  });
});
