// The size hint of the pending download, `<state_dir>/download-size.json` (docs/gates.md "Network policy"):
// `{ "bytes": N, "artifact_name": "…", "at": "<ISO time>", "source": "…", "deployment_id": "…" }`. No
// Mender client tells a state script how big the artifact is; the download gate's size probe
// (size-probe.ts) learns it from the server and writes it here, and the size rules use it while fresh
// (the policy checks the age), else refuse with a *_size_unknown code. A missing or broken file is no
// hint, never an error.
import * as z from 'zod/mini';
import { STATE_FILES, readNamedStateJson, stateFilePath, writeStateJson } from '../../core/state-dir.js';
import type { SizeHint } from '../policy/network.js';

export const SIZE_HINT_FILE = STATE_FILES.downloadSize.path;

const SizeHintJson = z.object({
  bytes: z.int().check(z.minimum(0)),
  artifact_name: z.optional(z.string().check(z.maxLength(256))),
  at: z.iso.datetime({ offset: true }),
  source: z.optional(z.string().check(z.maxLength(64))),
  deployment_id: z.optional(z.string().check(z.maxLength(128))),
});

export function readSizeHint(stateDir: string): SizeHint | null {
  const r = readNamedStateJson(stateDir, 'downloadSize', { schema: SizeHintJson });
  if (r.status !== 'ok') return null;
  return {
    bytes: r.value.bytes,
    artifact_name: r.value.artifact_name ?? null,
    at: r.value.at,
    source: r.value.source ?? null,
  };
}

/** Records what the size probe learnt (atomic write; the gate's next run and the journal read it). */
export function writeSizeHint(stateDir: string, hint: SizeHint, deploymentId: string): void {
  writeStateJson(stateFilePath(stateDir, 'downloadSize'), { ...hint, deployment_id: deploymentId });
}
