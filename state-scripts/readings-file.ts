// <state_dir>/readings.json: written by sensord, read by the gates (core/schemas/readings.ts).
import { join } from 'node:path';
import { describeIssues } from '../core/validation.js';
import { Readings } from '../core/schemas/readings.js';
import { readStateJson, STATE_FILES, writeStateJson } from '../core/state-dir.js';
import type { ReadingsFacts } from './policy/types.js';

export const READINGS_FILE = STATE_FILES.readings.path;

export function readingsPath(stateDir: string): string {
  return join(stateDir, READINGS_FILE);
}

/** Sense: the readings as the gates see them. Never throws; a bad file is `invalid` (never passes). */
export function readReadings(file: string): ReadingsFacts {
  const raw = readStateJson(file, { maxBytes: STATE_FILES.readings.maxBytes });
  if (raw.status !== 'ok') return raw;
  const r = Readings.safeParse(raw.value);
  if (!r.success)
    return { status: 'invalid', problem: describeIssues(r.error.issues)[0] ?? 'does not match the readings schema' };
  return { status: 'ok', readings: r.data };
}

export function writeReadings(file: string, readings: Readings): void {
  writeStateJson(file, readings);
}
