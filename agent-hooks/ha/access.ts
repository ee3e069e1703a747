// How the module reaches the Supervisor: ota.yaml `ha_supervisor` (url, token_file) or, on a hub
// running inside HA OS / Supervised, $SUPERVISOR_TOKEN. Read once by the executable's main.
import { readFile } from 'node:fs/promises';
import { VanError } from '../../core/errors.js';
import type { DeviceContext } from '../lib/device.js';
import { supervisorClient, type Supervisor } from './supervisor.js';

export async function supervisorFor(ctx: DeviceContext, env: NodeJS.ProcessEnv): Promise<Supervisor> {
  const a = ctx.config.ha_supervisor;
  let token: string | undefined;
  if (a.token_file !== undefined) {
    const path = ctx.paths.resolve(a.token_file);
    token = await readFile(path, 'utf8').then(
      (t) => t.trim() || undefined,
      (e: NodeJS.ErrnoException) => {
        throw new VanError(
          'CONFIG_UNREADABLE',
          `ha_supervisor.token_file ${path} is unreadable (${e.code ?? e.message})`,
        );
      },
    );
    if (token === undefined) throw new VanError('CONFIG_INVALID', `ha_supervisor.token_file ${path} is empty`);
  } else token = env.SUPERVISOR_TOKEN || undefined;
  if (token === undefined) {
    throw new VanError(
      'CONFIG_INVALID',
      'no Supervisor token: set ha_supervisor.token_file in ota.yaml or $SUPERVISOR_TOKEN',
    );
  }
  return supervisorClient({ url: a.url, token, timeoutMs: a.request_timeout_seconds * 1000 });
}

/** GET a health URL: the status, or why there was none. */
export async function probeUrl(url: string, timeoutMs: number): Promise<{ status: number } | { error: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.arrayBuffer().catch(() => undefined);
    return { status: res.status };
  } catch (e) {
    return { error: (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name };
  }
}
