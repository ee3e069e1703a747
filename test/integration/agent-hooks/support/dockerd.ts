// A private dockerd per test file: its own data root, exec root, pid file and socket in a temp dir,
// no iptables and no bridge (containers use the host network or none). Nothing can be pulled here,
// so images are imported from a tar holding busybox-static (httpd, wget, sh …). stop() removes the
// containers, stops the daemon, unmounts what it left (netns, overlays) and deletes the temp dir.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, copyFile, writeFile } from 'node:fs/promises';
import { openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface Dockerd {
  dir: string;
  /** DOCKER_HOST for the CLI, compose and the modules. */
  env: { DOCKER_HOST: string };
  docker(args: string[], opts?: { timeoutMs?: number }): Promise<{ stdout: string; stderr: string }>;
  /** Imports a busybox image as `tag`, optionally with extra files (path → content). Returns the image id. */
  importBusybox(tag: string, extra?: Record<string, string>): Promise<string>;
  stop(): Promise<void>;
}

const APPLETS = ['sh', 'httpd', 'wget', 'sleep', 'cat', 'echo', 'true', 'false', 'ls', 'touch', 'test', 'grep'];

async function waitReady(host: string, proc: ChildProcess, log: string): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (proc.exitCode !== null) {
      throw new Error(`dockerd exited with ${proc.exitCode}:\n${(await readFile(log, 'utf8')).slice(-2000)}`);
    }
    try {
      await execFileP('docker', ['version', '--format', '{{.Server.Version}}'], {
        env: { ...process.env, DOCKER_HOST: host },
        timeout: 5000,
      });
      return;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > 40_000) {
      throw new Error(`dockerd did not answer within 40 s:\n${(await readFile(log, 'utf8')).slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mounts', 'utf8');
  return text
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

export async function startDockerd(): Promise<Dockerd> {
  const dir = await mkdtemp(join(tmpdir(), 'vc-dockerd-'));
  const host = `unix://${dir}/docker.sock`;
  const log = join(dir, 'dockerd.log');
  const fd = openSync(log, 'a');
  // --pdeathsig: if the vitest worker dies, the daemon is told to stop instead of running on.
  const proc = spawn(
    'setpriv',
    [
      '--pdeathsig',
      'SIGTERM',
      'dockerd',
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'dockerd.pid'),
      '--host',
      host,
      '--iptables=false',
      '--ip-masq=false',
      '--bridge=none',
      '--log-level=warn',
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    await waitReady(host, proc, log);
  } catch (e) {
    proc.kill('SIGKILL');
    await exited;
    await cleanupDir(dir);
    throw e;
  }
  const env = { DOCKER_HOST: host };
  const docker: Dockerd['docker'] = async (args, opts = {}) => {
    try {
      return await execFileP('docker', args, { env: { ...process.env, ...env }, timeout: opts.timeoutMs ?? 60_000 });
    } catch (e) {
      const err = e as Error & { stderr?: string };
      throw new Error(`docker ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
    }
  };
  return {
    dir,
    env,
    docker,
    async importBusybox(tag, extra = {}) {
      const root = await mkdtemp(join(dir, 'img-'));
      await mkdir(join(root, 'bin'), { recursive: true });
      await copyFile('/bin/busybox', join(root, 'bin/busybox'));
      await chmod(join(root, 'bin/busybox'), 0o755);
      for (const a of APPLETS) await symlink('busybox', join(root, 'bin', a));
      for (const [p, content] of Object.entries(extra)) {
        await mkdir(join(root, p, '..'), { recursive: true });
        await writeFile(join(root, p), content);
      }
      const tar = `${root}.tar`;
      await execFileP('tar', ['-C', root, '-cf', tar, '.']);
      const { stdout } = await docker(['import', '-c', 'ENV PATH=/bin', tar, tag]);
      await rm(root, { recursive: true, force: true });
      await rm(tar, { force: true });
      return stdout.trim();
    },
    async stop() {
      try {
        const { stdout } = await docker(['ps', '-aq']);
        const ids = stdout.split('\n').filter(Boolean);
        if (ids.length > 0) await docker(['rm', '-f', ...ids]);
      } catch {
        // the daemon may already be gone
      }
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      await cleanupDir(dir);
    },
  };
}

async function cleanupDir(dir: string): Promise<void> {
  for (const m of await mountsUnder(dir)) {
    await execFileP('umount', ['-l', m]).catch(() => undefined);
  }
  await rm(dir, { recursive: true, force: true });
}
