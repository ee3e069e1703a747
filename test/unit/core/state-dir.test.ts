// core/state-dir.ts over real temp dirs (issue #15 item 5): the tolerant reader answers missing /
// invalid with a reason and never throws or blocks; the writer replaces a file so that readers —
// and a writer killed mid-write — only ever leave the old or the new content; fsync is really
// called (traced with strace on a real process). The FIFO read runs in a child process with a
// timeout: a blocking open would hang the test worker itself.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod/mini';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readNamedStateJson,
  readStateJson,
  removeStateFile,
  STATE_FILES,
  stateFilePath,
  writeStateJson,
  type StateJsonRead,
} from '../../../core/state-dir.js';
import { writeStateFileAtomic } from '../../../core/state-files.js';

const WORKER = join(import.meta.dirname, 'fixtures/state-file-worker.ts');
const worker = (args: string[]) => [process.execPath, ['--import', 'tsx', WORKER, ...args]] as const;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'vc-state-dir-'));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

let n = 0;
async function freshDir(): Promise<string> {
  const dir = join(root, `d${(n += 1)}`);
  await mkdir(dir);
  return dir;
}

const Rec = z.object({ label: z.string(), n: z.int() });

describe('readStateJson', () => {
  type Case = [
    name: string,
    setup: (file: string) => Promise<unknown>,
    opts: Parameters<typeof readStateJson>[1],
    expected: StateJsonRead<unknown> | RegExp,
  ];
  const cases: Case[] = [
    ['missing', () => Promise.resolve(), {}, { status: 'missing' }],
    ['valid JSON', (f) => writeFile(f, '{"label":"a","n":1}\n'), {}, { status: 'ok', value: { label: 'a', n: 1 } }],
    [
      'valid against the schema',
      (f) => writeFile(f, '{"label":"a","n":1,"x":2}'),
      { schema: Rec },
      { status: 'ok', value: { label: 'a', n: 1 } },
    ],
    ['empty', (f) => writeFile(f, ''), {}, /is empty$/],
    ['whitespace only', (f) => writeFile(f, ' \n'), {}, /is empty$/],
    ['invalid JSON', (f) => writeFile(f, '{"label": "a"'), {}, /is not JSON$/],
    [
      'a schema mismatch',
      (f) => writeFile(f, '{"label":"a","n":"one"}'),
      { schema: Rec },
      /does not match its schema \(n: /,
    ],
    [
      'over the size limit',
      (f) => writeFile(f, JSON.stringify({ fill: 'x'.repeat(200) })),
      { maxBytes: 100 },
      /is too large \(\d+ bytes\)$/,
    ],
    ['a 2 GiB sparse file', (f) => writeFile(f, '').then(() => truncate(f, 2 ** 31)), {}, /is too large/],
    [
      'a symlink to a valid file',
      async (f) => {
        await writeFile(`${f}.real`, '{}');
        await symlink(`${f}.real`, f);
      },
      {},
      /is a symbolic link \(not followed\)$/,
    ],
    ['a symlink to /dev/zero', (f) => symlink('/dev/zero', f), {}, /is a symbolic link/],
    ['a dangling symlink', (f) => symlink(`${f}.nowhere`, f), {}, /is a symbolic link/],
    ['a directory in place of the file', (f) => mkdir(f), {}, /is not a regular file$/],
  ];

  it.each(cases)('%s', async (_name, setup, opts, expected) => {
    const file = join(await freshDir(), 'state.json');
    await setup(file);
    const got = readStateJson(file, opts);
    if (expected instanceof RegExp) {
      expect(got.status).toBe('invalid');
      expect(got.status === 'invalid' && got.problem.startsWith(file)).toBe(true);
      expect(got.status === 'invalid' ? got.problem : '').toMatch(expected);
    } else {
      expect(got).toEqual(expected);
    }
  });

  it('a FIFO nobody writes: invalid at once, in a real process that would otherwise hang', async () => {
    const file = join(await freshDir(), 'readings.json');
    execFileSync('mkfifo', [file]);
    const [cmd, args] = worker(['read', file]);
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ status: 'invalid', problem: `${file} is not a regular file` });
  });

  it('a file on procfs is refused without opening it', () => {
    const got = readStateJson('/proc/self/status');
    expect(got).toEqual({ status: 'invalid', problem: '/proc/self is on procfs, not a place for state files' });
  });

  it("readNamedStateJson applies the table's size limit", async () => {
    const dir = await freshDir();
    await writeFile(
      join(dir, 'install-wait.json'),
      JSON.stringify({ fill: 'x'.repeat(STATE_FILES.installWait.maxBytes) }),
    );
    const big = readNamedStateJson(dir, 'installWait');
    expect(big.status === 'invalid' ? big.problem : big.status).toMatch(/install-wait\.json is too large/);
    await writeFile(join(dir, 'readings.json'), JSON.stringify({ fill: 'x'.repeat(STATE_FILES.installWait.maxBytes) }));
    expect(readNamedStateJson(dir, 'readings')).toMatchObject({ status: 'ok' });
  });
});

describe('the state-file table', () => {
  it('names every file once, each under the state dir', () => {
    const paths = Object.values(STATE_FILES).map((f) => f.path);
    expect(new Set(paths).size).toBe(paths.length);
    for (const p of paths) expect(p).toMatch(/^[a-z][a-z0-9./<>-]*$/);
  });

  it('is the table docs/gates.md shows (every path appears there)', async () => {
    const doc = await readFile(join(import.meta.dirname, '../../../docs/gates.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## The state directory'), doc.indexOf('## `vancore-ota gate check`'));
    for (const f of Object.values(STATE_FILES)) expect(section).toContain(`\`${f.path}\``);
  });

  it('fills in <component> and <slot>, and refuses a path left with a placeholder', () => {
    expect(stateFilePath('/s', 'composeMarker', { component: 'app', slot: 'CURRENT' })).toBe(
      '/s/compose/app/CURRENT/.vancore-bundle.json',
    );
    expect(stateFilePath('/s', 'versions')).toBe('/s/versions.json');
    expect(() => stateFilePath('/s', 'composeJournal')).toThrow(/placeholder/);
  });
});

describe('writeStateJson / writeStateFileAtomic', () => {
  it('creates the directory, writes the exact mode (no umask) and leaves no temp file', async () => {
    const dir = join(await freshDir(), 'vpn');
    const file = join(dir, 'deadman.json');
    writeStateJson(file, { a: 1 }, { mode: 0o666, pretty: true });
    expect(await readFile(file, 'utf8')).toBe('{\n  "a": 1\n}\n');
    expect((await stat(file)).mode & 0o777).toBe(0o666);
    writeStateJson(file, { a: 2 }, { mode: 0o600 });
    expect(await readFile(file, 'utf8')).toBe('{"a":2}\n');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['deadman.json']);
  });

  it('replaces a symlink at the target instead of writing through it', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'victim'), 'keep');
    await symlink(join(dir, 'victim'), join(dir, 'gate.json'));
    writeStateJson(join(dir, 'gate.json'), { ok: true });
    expect(await readFile(join(dir, 'victim'), 'utf8')).toBe('keep');
    expect(readStateJson(join(dir, 'gate.json'))).toEqual({ status: 'ok', value: { ok: true } });
  });

  it('throws one clear line for a directory in place of the file, and keeps no temp file', async () => {
    const dir = await freshDir();
    await mkdir(join(dir, 'vpn.json'));
    expect(() => writeStateJson(join(dir, 'vpn.json'), {})).toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(await readdir(dir)).toEqual(['vpn.json']);
  });

  it('refuses a state dir on procfs', () => {
    expect(() => writeStateFileAtomic('/proc/self/vancore/x.json', '{}')).toThrow(/on procfs/);
  });

  it('removeStateFile removes, and an absent file is fine', async () => {
    const dir = await freshDir();
    writeStateJson(join(dir, 'install-wait.json'), {});
    removeStateFile(join(dir, 'install-wait.json'));
    removeStateFile(join(dir, 'install-wait.json'));
    expect(await readdir(dir)).toEqual([]);
  });

  it('fsyncs the temp file before the rename and the directory after it (strace of a real writer)', async () => {
    const dir = await freshDir();
    const file = join(dir, 'versions.json');
    const log = join(dir, '..', `strace-${n}.log`);
    const [cmd, args] = worker(['write', file, 'a', '1', '8']);
    execFileSync('strace', [
      '-f',
      '-qq',
      '-e',
      'trace=openat,fsync,rename,renameat,renameat2',
      '-o',
      log,
      cmd,
      ...args,
    ]);
    const lines = (await readFile(log, 'utf8')).split('\n');
    const opened = (re: RegExp) => {
      const i = lines.findIndex((l) => re.test(l));
      return { i, fd: /= (\d+)$/.exec(lines[i] ?? '')?.[1] };
    };
    const tmp = opened(
      new RegExp(`openat\\(.*"${file}\\.\\d+-[0-9a-f]+\\.tmp", O_WRONLY\\|O_CREAT\\|O_EXCL\\|O_NOFOLLOW`),
    );
    const renamed = lines.findIndex((l) => l.includes(`"${file}") = 0`) && /rename/.test(l));
    expect(tmp.i).toBeGreaterThan(-1);
    expect(renamed).toBeGreaterThan(tmp.i);
    const fsyncTmp = lines.findIndex(
      (l, i) => i > tmp.i && i < renamed && new RegExp(`fsync\\(${tmp.fd}\\)\\s+= 0`).test(l),
    );
    expect(fsyncTmp).toBeGreaterThan(-1);
    const after = lines.slice(renamed);
    const dirOpen = after.findIndex((l) => new RegExp(`openat\\(.*"${dir}", O_RDONLY`).test(l));
    expect(dirOpen).toBeGreaterThan(-1);
    const dirFd = /= (\d+)$/.exec(after[dirOpen] ?? '')?.[1];
    expect(after.slice(dirOpen).some((l) => new RegExp(`fsync\\(${dirFd}\\)\\s+= 0`).test(l))).toBe(true);
    expect(readStateJson(file, { schema: Rec })).toEqual({ status: 'ok', value: { label: 'a', n: 1 } });
  });
});

/** Whole records only: a label's record is its label repeated `bytes` times. */
function checkWhole(read: StateJsonRead<unknown>, labels: string[], bytes: number): string {
  if (read.status !== 'ok') return `${read.status}${read.status === 'invalid' ? `: ${read.problem}` : ''}`;
  const v = read.value as { label?: string; fill?: string };
  if (!v.label || !labels.includes(v.label)) return `unknown label ${String(v.label)}`;
  if (v.fill !== v.label.repeat(bytes)) return `torn fill for ${v.label}`;
  return 'whole';
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', () => reject(new Error(`writer exited before its first write: ${out}`)));
  });
}

describe('concurrent writers and a writer killed mid-write', () => {
  const BYTES = 256 * 1024;

  it('four writer processes at once: every read sees one whole record, no temp file is left', async () => {
    const dir = await freshDir();
    const file = join(dir, 'readings.json');
    const labels = ['a', 'b', 'c', 'd'];
    const children = labels.map((l) => {
      const [cmd, args] = worker(['write', file, l, '20', String(BYTES)]);
      return spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    });
    const done = Promise.all(children.map(exited));
    let finished = false;
    void done.then(() => (finished = true));
    const seen: Record<string, number> = {};
    let reads = 0;
    while (!finished) {
      const verdict = checkWhole(readStateJson(file, { maxBytes: 2 * BYTES }), labels, BYTES);
      if (verdict !== 'missing') {
        seen[verdict] = (seen[verdict] ?? 0) + 1;
        reads += 1;
      }
      await new Promise((r) => setImmediate(r));
    }
    expect(await done).toEqual([0, 0, 0, 0]);
    expect(reads).toBeGreaterThan(0);
    expect(Object.keys(seen)).toEqual(['whole']);
    expect(checkWhole(readStateJson(file, { maxBytes: 2 * BYTES }), labels, BYTES)).toBe('whole');
    expect(await readdir(dir)).toEqual(['readings.json']);
  });

  it.each([1, 2, 3, 4, 5])(
    'kill -9 during a stream of writes (round %i): the file is old or new, never partial',
    async (round) => {
      const dir = await freshDir();
      const file = join(dir, 'gate.json');
      writeStateJson(file, { label: 'o', n: 0, fill: 'o'.repeat(BYTES) });
      const [cmd, args] = worker(['write', file, round % 2 ? 'p' : 'q', '0', String(BYTES)]);
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      await ready(child);
      // A different moment in the write loop each round (the loop writes every few ms).
      await new Promise((r) => setTimeout(r, 7 * round));
      child.kill('SIGKILL');
      await exited(child);
      expect(child.signalCode).toBe('SIGKILL');
      expect(checkWhole(readStateJson(file, { maxBytes: 2 * BYTES }), ['o', 'p', 'q'], BYTES)).toBe('whole');
      // A temp file the kill left behind is never read as the state file, and the next write succeeds.
      writeStateJson(file, { label: 'o', n: 1, fill: 'o'.repeat(BYTES) });
      expect(checkWhole(readStateJson(file, { maxBytes: 2 * BYTES }), ['o'], BYTES)).toBe('whole');
    },
  );
});
