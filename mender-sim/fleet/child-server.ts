// Run a server in a child Node process (same loader flags, e.g. tsx) so that a fleet or a load generator
// and the server each get a core: the benchmarks measure the server, not the server sharing one event loop
// with its own clients. The child prints one line `LISTENING <url>` once ready and exits on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface ChildServer {
  url: string;
  pid: number;
  /** Peak resident set of the child so far (VmHWM), in MiB; undefined once it has exited. */
  peakRssMb(): Promise<number | undefined>;
  /** CPU time (user + system) the child has used so far, in seconds; undefined once it has exited. */
  cpuSeconds(): Promise<number | undefined>;
  close(): Promise<void>;
}

export const LISTENING = 'LISTENING ';
/** USER_HZ: Linux reports /proc times in 1/100 s on every architecture Node runs on. */
const CLOCK_TICKS = 100;

/** Start `node <execArgv> <script> ...args` and wait for its LISTENING line. */
export async function spawnChildServer(
  script: string,
  args: string[],
  opts: { timeoutMs?: number } = {},
): Promise<ChildServer> {
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // A benchmark may cap the bridge's heap through NODE_OPTIONS (docs/deploy.md "Heap settings"): the
    // simulator and fleet here are not the bridge, so they run with the default heap.
    env: { ...process.env, NODE_ENV: 'production', NODE_OPTIONS: process.env.VANCORE_CHILD_NODE_OPTIONS ?? '' },
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child server did not start in ${opts.timeoutMs ?? 30_000} ms: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith(LISTENING));
      if (line) {
        clearTimeout(timer);
        resolve(line.slice(LISTENING.length).trim());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child server exited (${code}) before listening: ${stderr}`));
    });
  });
  const pid = child.pid ?? 0;
  return {
    url,
    pid,
    async peakRssMb() {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
      return kb === undefined ? undefined : Number(kb) / 1024;
    },
    async cpuSeconds() {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      if (!stat) return undefined;
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** In the child: announce the URL and stop cleanly on SIGTERM/SIGINT. */
export function serveUntilSignalled(url: string, close: () => Promise<void>): void {
  process.stdout.write(`${LISTENING}${url}\n`);
  const stop = () => {
    void close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** This process's own peak resident set (VmHWM) in MiB, from /proc. */
export async function ownPeakRssMb(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return kb === undefined ? process.memoryUsage().rss / 2 ** 20 : Number(kb) / 1024;
}
