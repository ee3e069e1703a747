// Motion from a file, for tests and for vans whose motion comes from another system:
// <state_dir>/motion.json = { "stationary_since": ISO | null, "at": ISO }, replaced atomically by its writer.
import { join } from 'node:path';
import * as z from 'zod/mini';
import { IsoDateTime } from '../../core/schemas/common.js';
import { readStateJson, STATE_FILES } from '../../core/state-dir.js';
import type { MotionView } from './stationary.js';

export const MOTION_FILE = STATE_FILES.motion.path;

const MotionFile = z.object({ stationary_since: z.nullable(IsoDateTime), at: IsoDateTime });

export function readMotionFile(stateDir: string): MotionView {
  const file = join(stateDir, MOTION_FILE);
  const raw = readStateJson(file, { maxBytes: STATE_FILES.motion.maxBytes });
  if (raw.status === 'missing') return { known: false, problem: `${file} is missing` };
  if (raw.status === 'invalid') return { known: false, problem: raw.problem };
  const m = MotionFile.safeParse(raw.value);
  if (!m.success) return { known: false, problem: `${file} does not match { stationary_since, at }` };
  return {
    known: true,
    stationary_since: m.data.stationary_since === null ? null : new Date(m.data.stationary_since),
    at: new Date(m.data.at),
  };
}
