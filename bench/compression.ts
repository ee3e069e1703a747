// Issue #17 item 3: which payload compression should VanCore artifacts use? For one realistic
// compose payload (a Node service's image layer: the tar of JS, JSON, native addons and wasm that a
// service image holds), every compression the real mender-artifact 3.9 offers here (`--compression
// none|gzip|lzma`, its `--help`) is built into a module-image, and the real mender-client 3.4 installs
// each one standalone on the "van" (`mender install`, RECIPE §3 sandbox): the client streams the
// artifact, decompresses the payload and writes it to the module's files/ tree, so its wall time and
// peak RSS are the van-side cost of the choice. zstd is measured as a reference with the zstd CLI
// (levels 3 and 19; same payload): Debian's mender-artifact 3.9 cannot write zstd payloads, so a zstd
// artifact cannot be built or installed here. Bytes over the air = the .mender file size.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { menderArgv } from '../mender-sim/real-client/mender.js';
import { ProcessGroup } from '../mender-sim/real-client/processes.js';
import { createSandbox, standaloneConfig } from '../mender-sim/real-client/sandbox.js';
import { DEFAULT_COMPRESSION } from '../mender-artifacts/build-options.js';
import type { Benchmark, BenchResult } from './registry.js';

const NODE_MODULES = join(import.meta.dirname, '../node_modules');
/** Packages whose files make up the payload layer (~80 MB: text, native code, wasm). */
const LAYER_PACKAGES = ['typescript', 'better-sqlite3', 'playwright-core', 'kubernetes-models', '@rolldown'];
const RUNS = 3;
/** A slow LTE link (roaming, a weak cell): the download rate the default is chosen for. */
const LTE_MBIT = 5;
/** The van-side peak RSS the default may cost (mender's own, while it decompresses). */
const VAN_RSS_LIMIT_MB = 128;

interface Timed {
  ms: number;
  /** Max RSS (kB) of the measured process as GNU time reports it (getrusage of the child). */
  maxRssKb: number;
}

/** Runs `cmd args` under /usr/bin/time; stdout may go to a file. */
function timed(cmd: string, args: string[], opts: { stdoutTo?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const rssFile = join(tmpdir(), `vc-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const shell = [
      '-c',
      '"$@" > "${VC_OUT:-/dev/null}"',
      'sh',
      '/usr/bin/time', '-f', '%M', '-o', rssFile, cmd, ...args,
    ]; // prettier-ignore
    const started = performance.now();
    const child = spawn('sh', shell, {
      env: { ...(opts.env ?? process.env), VC_OUT: opts.stdoutTo ?? '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - started;
      const maxRssKb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
      rmSync(rssFile, { force: true });
      if (code !== 0 || !Number.isFinite(maxRssKb)) {
        reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')} … exited ${code}: ${stderr.slice(-600)}`));
      } else resolve({ ms, maxRssKb });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** A module that accepts whatever the client unpacked into files/ (the install cost is the client's). */
const NULL_MODULE = `#!/bin/sh
case "$1" in
  SupportsRollback) echo No ;;
  NeedsArtifactReboot) echo No ;;
esac
exit 0
`;

export const compressionBench: Benchmark = {
  name: 'compression',
  async run(): Promise<BenchResult> {
    const dir = await mkdtemp(join(tmpdir(), 'vc-bench-compression-'));
    const processes = new ProcessGroup();
    try {
      const layer = join(dir, 'app-layer.tar');
      // Sorted names and fixed owner/mtime: the same bytes on every run of the same checkout.
      await timed('tar', [
        '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', NODE_MODULES,
        '-cf', layer, ...LAYER_PACKAGES,
      ]); // prettier-ignore
      const layerBytes = (await stat(layer)).size;
      process.stdout.write(`bench: compression: payload layer ${mb(layerBytes)} MB\n`);

      const module = join(dir, 'null-module');
      await writeFile(module, NULL_MODULE);
      await chmod(module, 0o755);

      const figures: Record<string, number | string> = { payload_mb: mb(layerBytes) };
      const rows: { name: string; bytes: number; buildMs: number; installMs: number; installRssKb: number }[] = [];
      for (const compression of ['none', 'gzip', 'lzma'] as const) {
        const out = join(dir, `app-${compression}.mender`);
        const build = await timed('mender-artifact', [
          '--compression', compression, 'write', 'module-image', '-T', 'vc-null', '-n', `app-${compression}`,
          '-t', 'vanpc', '-o', out, '-f', layer,
        ]); // prettier-ignore
        const bytes = (await stat(out)).size;
        const installs: Timed[] = [];
        for (let i = 0; i < RUNS; i++) {
          const sb = await createSandbox(processes, {
            parent: dir,
            config: standaloneConfig({ ModuleTimeoutSeconds: 600 }),
          });
          await sb.installModule('vc-null', module);
          // GNU time reports the max RSS of its child: unshare execs sh which execs mender, so that
          // is mender's own peak (the null module's shell is far smaller).
          installs.push(await timed('unshare', menderArgv(sb, ['install', out], 'warning'), { env: sb.env() }));
          await sb.remove();
        }
        const installMs = median(installs.map((t) => t.ms));
        const installRssKb = Math.max(...installs.map((t) => t.maxRssKb));
        rows.push({ name: compression, bytes, buildMs: build.ms, installMs, installRssKb });
        figures[`${compression}_artifact_mb`] = mb(bytes);
        figures[`${compression}_ratio`] = Math.round((bytes / layerBytes) * 1000) / 1000;
        figures[`${compression}_build_s`] = Math.round(build.ms / 10) / 100;
        figures[`${compression}_van_install_s`] = Math.round(installMs / 10) / 100;
        figures[`${compression}_van_peak_rss_mb`] = Math.round(installRssKb / 102.4) / 10;
        process.stdout.write(
          `bench: compression: ${compression}: ${mb(bytes)} MB, build ${(build.ms / 1000).toFixed(1)} s, van install ${(installMs / 1000).toFixed(2)} s, mender peak RSS ${(installRssKb / 1024).toFixed(0)} MB\n`,
        );
      }

      // zstd reference (not writable by this mender-artifact): size and decompression cost.
      for (const level of [3, 19]) {
        const zst = join(dir, `app-${level}.zst`);
        const c = await timed('zstd', ['-q', '-f', `-${level}`, '-T1', layer, '-o', zst]);
        const bytes = (await stat(zst)).size;
        const ds: Timed[] = [];
        for (let i = 0; i < RUNS; i++) ds.push(await timed('zstd', ['-q', '-d', '-c', zst]));
        figures[`zstd${level}_mb`] = mb(bytes);
        figures[`zstd${level}_ratio`] = Math.round((bytes / layerBytes) * 1000) / 1000;
        figures[`zstd${level}_compress_s`] = Math.round(c.ms / 10) / 100;
        figures[`zstd${level}_decompress_s`] = Math.round(median(ds.map((t) => t.ms)) / 10) / 100;
        figures[`zstd${level}_decompress_rss_mb`] = Math.round(Math.max(...ds.map((t) => t.maxRssKb)) / 102.4) / 10;
      }
      // The same reference for gzip and xz with their CLIs, so zstd's figures have a like-for-like row.
      for (const [tool, flag] of [
        ['gzip', '-6'],
        ['xz', '-6'],
      ] as const) {
        const outFile = join(dir, `app.${tool}`);
        await timed(tool, [flag, '-c', layer], { stdoutTo: outFile });
        const ds: Timed[] = [];
        for (let i = 0; i < RUNS; i++) ds.push(await timed(tool, ['-d', '-c', outFile]));
        figures[`${tool}_cli_decompress_s`] = Math.round(median(ds.map((t) => t.ms)) / 10) / 100;
        figures[`${tool}_cli_decompress_rss_mb`] = Math.round(Math.max(...ds.map((t) => t.maxRssKb)) / 102.4) / 10;
      }

      const none = rows.find((r) => r.name === 'none')!;
      const gzip = rows.find((r) => r.name === 'gzip')!;
      const lzma = rows.find((r) => r.name === 'lzma')!;
      // The default: what gets a van from "deployment offered" to "installed" soonest over a slow LTE
      // link (download at LTE_MBIT, then the install), among the compressions whose van-side peak RSS
      // stays under VAN_RSS_LIMIT_MB (a hub's spare memory while its services run). Bytes are also money
      // on a metered or roaming link, so the same choice minimises the bill.
      const overLte = (r: (typeof rows)[number]) => (r.bytes * 8) / (LTE_MBIT * 1e6) + r.installMs / 1000;
      const acceptable = rows.filter((r) => r.installRssKb <= VAN_RSS_LIMIT_MB * 1024);
      const choice = [...acceptable].sort((a, b) => overLte(a) - overLte(b))[0] ?? gzip;
      for (const r of rows) figures[`${r.name}_to_installed_at_${LTE_MBIT}mbit_s`] = Math.round(overLte(r) * 10) / 10;
      figures.default = choice.name;
      const line = (r: (typeof rows)[number]) =>
        `${r.name} ${mb(r.bytes)} MB (${((r.bytes / layerBytes) * 100).toFixed(0)} %), van install ${(r.installMs / 1000).toFixed(2)} s / ${(r.installRssKb / 1024).toFixed(0)} MB`;
      return {
        summary:
          `${mb(layerBytes)} MB service layer: ${rows.map(line).join('; ')}; ` +
          `zstd reference (not in mender-artifact 3.9): -3 ${figures.zstd3_mb} MB, -19 ${figures.zstd19_mb} MB, ` +
          `decompress ${figures.zstd3_decompress_s} s vs gzip ${figures.gzip_cli_decompress_s} s / xz ${figures.xz_cli_decompress_s} s; to installed at ${LTE_MBIT} Mbit/s: ${rows.map((r) => `${r.name} ${overLte(r).toFixed(1)} s`).join(', ')}; best: ${choice.name} (artifact build default: ${DEFAULT_COMPRESSION})`,
        target: `default = soonest installed over ${LTE_MBIT} Mbit/s LTE (download + van install), van peak RSS ≤ ${VAN_RSS_LIMIT_MB} MB; artifact build's default is it`,
        met: choice.name === DEFAULT_COMPRESSION,
        figures,
        baseline: { none_install_s: Math.round(none.installMs / 10) / 100, none_artifact_mb: mb(none.bytes) },
        ratio: Math.round((lzma.installMs / gzip.installMs) * 100) / 100,
      };
    } finally {
      await processes.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

// Only for a quick manual run: `npx tsx bench/compression.ts`.
if (process.argv[1]?.endsWith('compression.ts')) {
  await mkdir(join(import.meta.dirname, 'results'), { recursive: true });
  const r = await compressionBench.run();
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}
