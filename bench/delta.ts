// Issue #17 item 1 benchmark: layer-delta compose artifacts. A three-service stack of ~157 MB random
// data (busybox + 60/50/40 MiB + small top layers); release 2 changes only service c's ~5 MiB top
// layer. Built with the real CLI (`artifact build --base`, bundled gate scripts embedded, as shipped)
// and the real mender-artifact (gzip, its default). Measured:
//   - bytes over the air: the full artifact, the delta, and the limit
//     1.1 × the changed layer gzip-compressed (Node zlib level 6) + 64 KiB;
//   - the van-side rebuild (rebuildDeltaImages, as the module runs it, against a private dockerd that
//     holds release 1): wall time, the rebuild process's peak RSS (getrusage) and the peak RSS of its
//     process tree (node + the `docker save` CLI, sampled from /proc). The rebuilt images are loaded
//     afterwards and must have release 2's image ids.
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { startDockerd } from '../test/integration/agent-hooks/support/dockerd.js';
import {
  makeStackReleases,
  stackCompose,
  STACK_SERVICES,
} from '../test/integration/agent-hooks/support/layered-images.js';
import type { Benchmark, BenchResult } from './registry.js';

const execFileP = promisify(execFile);
const RUNS = 3;
const BIG_MIB: [number, number, number] = [60, 50, 40];
const TOP_MIB = 5;
const cli = join(import.meta.dirname, '../dist/cli.js');

async function treeRssKb(root: number): Promise<number> {
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid) parents.set(Number(name), ppid);
  }
  const pids = [root];
  for (let i = 0; i < pids.length; i++) for (const [pid, ppid] of parents) if (ppid === pids[i]) pids.push(pid);
  let kb = 0;
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    kb += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  }
  return kb;
}

async function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ stdout: string; peakTreeKb: number }> {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  let done = false;
  let peak = 0;
  const sampler = (async () => {
    while (!done) {
      if (child.pid) peak = Math.max(peak, await treeRssKb(child.pid));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const code = await exited;
  done = true;
  await sampler;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`);
  return { stdout, peakTreeKb: peak };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const mb = (n: number) => Math.round((n / 1e6) * 100) / 100;

async function deltaBenchRun(): Promise<BenchResult> {
  const dockerd = await startDockerd();
  const work = await mkdtemp(join(tmpdir(), 'vc-bench-delta-'));
  try {
    const made = await makeStackReleases(dockerd, join(work, 'images'), { bigMiB: BIG_MIB, topMiB: TOP_MIB });
    const bundle = async (name: string, tarballs: Record<string, string>) => {
      const dir = join(work, 'bundles', name);
      await mkdir(join(dir, 'images'), { recursive: true });
      await writeFile(join(dir, 'docker-compose.yml'), stackCompose());
      for (const [path, tar] of Object.entries(tarballs)) await rename(tar, join(dir, path));
      return dir;
    };
    const v1Dir = await bundle('v1', made.v1.tarballs);
    const v2Dir = await bundle('v2', made.v2.tarballs);
    const stackBytes = (await Promise.all(STACK_SERVICES.map((s) => stat(join(v2Dir, `images/${s}.tar`))))).reduce(
      (n, s) => n + s.size,
      0,
    );
    const out = join(work, 'out');
    const env = { ...process.env, ...dockerd.env };
    const artifactBuild = (version: string, dir: string, base?: string) =>
      run(
        process.execPath,
        [cli, 'artifact', 'build', '--type', 'compose', '--component', 'platform', '--version', version,
          '--device-type', 'vanpc', '--bundle', dir, '--out', out, '--compression', 'gzip', ...(base ? ['--base', base] : [])], // prettier-ignore
        env,
      );
    await artifactBuild('1.0.0', v1Dir);
    const v1Art = join(out, 'vancore-platform-1.0.0.mender');
    const t0 = performance.now();
    await artifactBuild('2.0.0', v2Dir, v1Art);
    const buildS = (performance.now() - t0) / 1000;
    const fullBytes = (await stat(join(out, 'vancore-platform-2.0.0.mender'))).size;
    const deltaArt = join(out, 'vancore-platform-2.0.0-delta-from-1.0.0.mender');
    const deltaBytes = (await stat(deltaArt)).size;
    const payloadRaw = async (name: string) =>
      (JSON.parse(await readFile(join(out, `${name}.manifest.json`), 'utf8')) as { payload: { bytes: number } }).payload
        .bytes;
    const fullPayloadRaw = await payloadRaw('vancore-platform-2.0.0');
    const deltaPayloadRaw = await payloadRaw('vancore-platform-2.0.0-delta-from-1.0.0');
    const scriptsDir = join(import.meta.dirname, '../dist/device/mender-scripts');
    const scripts = (await readdir(scriptsDir)).filter((n) => /^Artifact\w+_\d\d_/.test(n) && !n.endsWith('.map'));
    let scriptsGz = 0;
    for (const n of scripts) scriptsGz += gzipSync(await readFile(join(scriptsDir, n)), { level: 6 }).length;
    const changedRaw = await readFile(made.changedLayer.tar);
    const changedGz = gzipSync(changedRaw, { level: 6 }).length;
    const limit = Math.floor(1.1 * changedGz + 64 * 1024);

    // The van: release 1's images loaded; the delta's payload as the client stores it.
    for (const s of STACK_SERVICES) {
      await dockerd.docker(['load', '-q', '-i', join(v1Dir, `images/${s}.tar`)], { timeoutMs: 300_000 });
    }
    const files = join(work, 'payload');
    await mkdir(files);
    await execFileP('sh', ['-c', `tar -xOf "${deltaArt}" data/0000.tar.gz | tar -xzf - -C "${files}"`]);
    const child = join(work, 'rebuild.mjs');
    await build({
      entryPoints: [join(import.meta.dirname, 'delta-rebuild-child.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      outfile: child,
      logLevel: 'error',
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
    const runs: { ms: number; rssMb: number; treeMb: number }[] = [];
    let last: { tarball: string; size: number; stats: { vanLayers: number; vanBytes: number } } | null = null;
    for (let i = 0; i < RUNS; i++) {
      const wd = join(work, `rebuild-${i}`);
      const r = await run(process.execPath, [child, join(files, 'vancore-index.json'), files, wd], env);
      const j = JSON.parse(r.stdout.trim().split('\n').pop() as string) as {
        ms: number;
        max_rss_kb: number;
        tarball: string;
        size: number;
        stats: { vanLayers: number; vanBytes: number };
      };
      runs.push({ ms: j.ms, rssMb: j.max_rss_kb / 1024, treeMb: r.peakTreeKb / 1024 });
      if (i < RUNS - 1) await rm(wd, { recursive: true, force: true });
      else last = j;
    }
    if (!last) throw new Error('no rebuild ran');
    await dockerd.docker(['load', '-q', '-i', last.tarball], { timeoutMs: 300_000 });
    let idsMatch = true;
    for (const s of STACK_SERVICES) {
      const id = (
        await dockerd.docker(['image', 'inspect', '--format', '{{.Id}}', `vc-delta-${s}:stable`])
      ).stdout.trim();
      if (id !== made.v2.ids[s]) idsMatch = false;
    }
    const rebuildS = median(runs.map((r) => r.ms)) / 1000;
    const rssMb = Math.max(...runs.map((r) => r.rssMb));
    const treeMb = Math.max(...runs.map((r) => r.treeMb));
    const met = deltaBytes <= limit && idsMatch;
    return {
      summary:
        `${mb(stackBytes)} MB stack, one ${TOP_MIB} MiB layer changed: delta ${mb(deltaBytes)} MB vs full ${mb(fullBytes)} MB ` +
        `over the air (limit ${mb(limit)} MB); van rebuild ${rebuildS.toFixed(1)} s, peak RSS ${rssMb.toFixed(0)} MB ` +
        `(${treeMb.toFixed(0)} MB with docker save)${idsMatch ? ', same image ids as full' : ', IMAGE IDS DIFFER'}`,
      target: '≤ 1.1× changed layers gzip-compressed + 64 KiB; same image ids as a full install',
      met,
      figures: {
        stack_bytes: stackBytes,
        full_artifact_bytes: fullBytes,
        full_payload_raw_bytes: fullPayloadRaw,
        delta_artifact_bytes: deltaBytes,
        delta_payload_raw_bytes: deltaPayloadRaw,
        delta_artifact_over_payload: Math.round((deltaBytes / deltaPayloadRaw) * 1000) / 1000,
        gate_scripts_gzip6_bytes: scriptsGz,
        changed_layer_bytes: changedRaw.length,
        changed_layer_gzip6_bytes: changedGz,
        limit_bytes: limit,
        delta_over_limit: Math.round((deltaBytes / limit) * 1000) / 1000,
        full_over_delta: Math.round((fullBytes / deltaBytes) * 10) / 10,
        build_full_and_delta_s: Math.round(buildS * 100) / 100,
        runs: RUNS,
        rebuild_s_median: Math.round(rebuildS * 1000) / 1000,
        rebuild_s_runs: runs.map((r) => (r.ms / 1000).toFixed(3)).join(' '),
        rebuild_peak_rss_mb: Math.round(rssMb * 10) / 10,
        rebuild_tree_peak_rss_mb: Math.round(treeMb * 10) / 10,
        rebuilt_tarball_bytes: last.size,
        van_layers_reused: last.stats.vanLayers,
        van_bytes_reused: last.stats.vanBytes,
        image_ids_match_full: idsMatch ? 'yes' : 'no',
        compressor: 'mender-artifact default gzip; limit against Node zlib gzip level 6',
        dockerd: (await dockerd.docker(['version', '--format', '{{.Server.Version}}'])).stdout.trim(),
      },
      baseline: { full_artifact_bytes: fullBytes },
      ratio: Math.round((deltaBytes / fullBytes) * 10000) / 10000,
    };
  } finally {
    await dockerd.stop();
    await rm(work, { recursive: true, force: true });
  }
}

export const deltaBench: Benchmark = { name: 'delta', run: deltaBenchRun };
