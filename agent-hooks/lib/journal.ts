// A module journal on disk: one JSON document per module (and component), replaced atomically after
// every step mark. Shared by the compose, config, ha and vpn modules; each has its own schema. Read
// and written through core/state-dir.ts (no link followed, bounded, temp + fsync + rename).
import { VanError } from '../../core/errors.js';
import { asPromise, readStateJson, STATE_FILES, writeStateJson } from '../../core/state-dir.js';
import type { SafeParser } from '../../core/validation.js';

/** The largest journal read (the module journals in STATE_FILES share one limit). */
const JOURNAL_MAX_BYTES = STATE_FILES.composeJournal.maxBytes;

export interface StepMarks {
  started: string[];
  done: string[];
  updated_at: string;
}

/**
 * Read a journal. Absent → null. A corrupt journal is an error: guessing what was in flight could
 * leave the van half old and half new, so the module refuses and says which file to look at.
 */
export function readJournalFile<T>(path: string, schema: SafeParser<T>): Promise<T | null> {
  return asPromise(() => {
    const read = readStateJson(path, { schema, maxBytes: JOURNAL_MAX_BYTES });
    if (read.status === 'missing') return null;
    if (read.status === 'invalid') throw new VanError('INTERNAL', `${read.problem}: a human must look at this van`);
    return read.value;
  });
}

export function writeJournalFile(path: string, value: unknown): Promise<void> {
  return asPromise(() => {
    writeStateJson(path, value, { pretty: true });
  });
}

/** Pure: the journal with a step marked started (before its effect) or done (after it). */
export function markStep<J extends StepMarks>(j: J, label: string, phase: 'start' | 'done', at: Date): J {
  const add = (list: string[]) => (list.includes(label) ? list : [...list, label]);
  return {
    ...j,
    ...(phase === 'start' ? { started: add(j.started) } : { done: add(j.done) }),
    updated_at: at.toISOString(),
  };
}
