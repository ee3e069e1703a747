// The size hint of the pending download, `<state_dir>/download-size.json` (docs/gates.md "Network policy"):
// `{ "bytes": N, "artifact_name": "…", "at": "<ISO time>", "source": "…" }`. At Download_Enter no Mender
// client says how big the artifact is, so the download gate's size rules use this when present and fresh
// (the policy checks the age) and refuse with a *_size_unknown code otherwise. A missing or broken file
// is no hint, never an error.
import * as z from 'zod/mini';
import { STATE_FILES, readNamedStateJson } from '../../core/state-dir.js';
import type { SizeHint } from '../policy/network.js';

export const SIZE_HINT_FILE = STATE_FILES.downloadSize.path;

const SizeHintJson = z.object({
  bytes: z.int().check(z.minimum(0)),
  artifact_name: z.optional(z.string().check(z.maxLength(256))),
  at: z.iso.datetime({ offset: true }),
  source: z.optional(z.string().check(z.maxLength(64))),
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
