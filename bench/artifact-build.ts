// Issue #5 benchmark: `vancore-ota artifact build` of a 200 MB compose bundle against a plain
// `mender-artifact write module-image` of the same payload (same files, scripts, meta-data and
// signing), in the same run. Target: ≤ 1.1× the baseline's time and ≤ 150 MB peak RSS for our whole
// process tree (node + mender-artifact, summed while they run together), sampled from /proc.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomFillSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Benchmark, BenchResult } from './registry.js';

const BUNDLE_MB = 200;
const RUNS = 3;
const TIME_TARGET = 1.1;
const RSS_TARGET_MB = 150;
const cli = join(import.meta.dirname, '../dist/cli.js');

async function writeRandom(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path);
  const chunk = Buffer.alloc(1024 * 1024);
  for (let left = bytes; left > 0; left -= chunk.length) {
    randomFillSync(chunk);
    if (!out.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) {
      await new Promise<void>((r) => out.once('drain', () => r()));
    }
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

/** Process ids of `root` and all its descendants, from /proc/<pid>/stat parent links. */
async function tree(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // The command name may contain spaces and parentheses: the ppid follows the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid) parents.set(Number(name), ppid);
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === out[i]) out.push(pid);
  }
  return out;
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
}

/** Runs a command to completion; returns wall time and the peak summed RSS of its process tree. */
async function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; peakMb: number }> {
  const started = performance.now();
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  let done = false;
  let peakKb = 0;
  const sampler = (async () => {
    while (!done && child.pid !== undefined) {
      const pids = await tree(child.pid);
      const sum = (await Promise.all(pids.map(rssKb))).reduce((a, b) => a + b, 0);
      peakKb = Math.max(peakKb, sum);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const code = await exited;
  const ms = performance.now() - started;
  done = true;
  await sampler;
  if (code !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} … exited ${code}: ${stderr.slice(-500)}`);
  return { ms, peakMb: peakKb / 1024 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export const artifactBuildBench: Benchmark = {
  name: 'artifact-build',
  async run(): Promise<BenchResult> {
    const dir = await mkdtemp(join(tmpdir(), 'vc-bench-artifact-'));
    try {
      const bundle = join(dir, 'bundle');
      await mkdir(join(bundle, 'images'), { recursive: true });
      await writeFile(join(bundle, 'docker-compose.yml'), 'services:\n  app:\n    image: vancore/app:1.4.0\n');
      await writeFile(join(bundle, '.env'), 'VANCORE_MODE=van\n');
      await writeRandom(join(bundle, 'images/app.tar'), BUNDLE_MB * 1024 * 1024);
      const scripts = join(dir, 'scripts');
      await mkdir(scripts);
      for (const s of ['ArtifactInstall_Enter_50_vancore-gate', 'ArtifactCommit_Enter_50_vancore-validate']) {
        await writeFile(join(scripts, s), '#!/bin/sh\nexit 0\n');
        await chmod(join(scripts, s), 0o755);
      }
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      // Ours gets the PKCS#8 key (converted in memory); mender-artifact needs SEC1 as a file.
      await writeFile(join(dir, 'key.pkcs8.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      await writeFile(join(dir, 'key.sec1.pem'), privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });
      await writeFile(join(dir, 'meta.json'), JSON.stringify({ vancore: { component: 'platform', version: '0.9.2' } }));
      const env = { ...process.env, TMPDIR: dir };

      const ours = () =>
        measure(
          process.execPath,
          [
            cli, 'artifact', 'build', '--type', 'compose', '--component', 'platform', '--version', '0.9.2',
            '--device-type', 'vanpc', '--bundle', bundle, '--sign-key', join(dir, 'key.pkcs8.pem'),
            '--scripts-dir', scripts, '--out', join(dir, 'out'), '--compression', 'gzip',
          ], // prettier-ignore
          env,
        );
      const baseline = () =>
        measure(
          'mender-artifact',
          [
            'write', 'module-image', '-T', 'vancore-compose', '-n', 'vancore-platform-0.9.2', '-t', 'vanpc',
            '--software-filesystem', 'vancore', '--software-name', 'platform', '--software-version', '0.9.2',
            '-m', join(dir, 'meta.json'),
            '-f', join(bundle, 'docker-compose.yml'), '-f', join(bundle, '.env'), '-f', join(bundle, 'images/app.tar'),
            '-s', join(scripts, 'ArtifactInstall_Enter_50_vancore-gate'), '-s', join(scripts, 'ArtifactCommit_Enter_50_vancore-validate'),
            '-k', join(dir, 'key.sec1.pem'), '-o', join(dir, 'baseline.mender'),
          ], // prettier-ignore
          env,
        );

      // The CLI's fixed start-up (every command's modules load): part of our time, measured apart
      // so the report can tell it from the packaging work.
      const startup = () => measure(process.execPath, [cli, '--version'], env);

      // Warm the page cache with one of each, then alternate so drift hits both equally.
      await baseline();
      await ours();
      const o: { ms: number; peakMb: number }[] = [];
      const b: { ms: number; peakMb: number }[] = [];
      const st: { ms: number; peakMb: number }[] = [];
      for (let i = 0; i < RUNS; i++) {
        b.push(await baseline());
        o.push(await ours());
        st.push(await startup());
      }
      const startupMs = median(st.map((r) => r.ms));
      const oursMs = median(o.map((r) => r.ms));
      const baseMs = median(b.map((r) => r.ms));
      const peakMb = Math.max(...o.map((r) => r.peakMb));
      const ratio = oursMs / baseMs;
      const met = ratio <= TIME_TARGET && peakMb <= RSS_TARGET_MB;
      return {
        summary:
          `${BUNDLE_MB} MB bundle: ${(oursMs / 1000).toFixed(2)} s vs mender-artifact ${(baseMs / 1000).toFixed(2)} s ` +
          `(${ratio.toFixed(2)}×; CLI start-up ${(startupMs / 1000).toFixed(2)} s of it), peak RSS ${peakMb.toFixed(0)} MB`,
        target: `≤ ${TIME_TARGET}× plain mender-artifact time, ≤ ${RSS_TARGET_MB} MB peak RSS (process tree)`,
        met,
        figures: {
          bundle_mb: BUNDLE_MB,
          runs: RUNS,
          build_s_median: Number((oursMs / 1000).toFixed(3)),
          build_s_runs: o.map((r) => (r.ms / 1000).toFixed(3)).join(' '),
          peak_rss_mb: Number(peakMb.toFixed(1)),
          overhead_s: Number(((oursMs - baseMs) / 1000).toFixed(3)),
          cli_startup_s_median: Number((startupMs / 1000).toFixed(3)),
          cli_startup_rss_mb: Number(Math.max(...st.map((r) => r.peakMb)).toFixed(1)),
        },
        baseline: {
          mender_artifact_s_median: Number((baseMs / 1000).toFixed(3)),
          mender_artifact_s_runs: b.map((r) => (r.ms / 1000).toFixed(3)).join(' '),
          mender_artifact_peak_rss_mb: Number(Math.max(...b.map((r) => r.peakMb)).toFixed(1)),
        },
        ratio: Number(ratio.toFixed(3)),
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
