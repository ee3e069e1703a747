// A module journal on disk: one JSON document per module (and component), replaced atomically after
// every step mark. Shared by the compose and config modules; each has its own schema.
import { readFile } from 'node:fs/promises';
import { VanError } from '../../core/errors.js';
import type { SafeParser } from '../../core/validation.js';
import { replaceFileAtomic } from '../../core/versions.js';

export interface StepMarks {
  started: string[];
  done: string[];
  updated_at: string;
}

/**
 * Read a journal. Absent → null. A corrupt journal is an error: guessing what was in flight could
 * leave the van half old and half new, so the module refuses and says which file to look at.
 */
export async function readJournalFile<T>(path: string, schema: SafeParser<T>): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new VanError('INTERNAL', `${path} is corrupt (not JSON): a human must look at this van`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw new VanError('INTERNAL', `${path} does not match the journal schema`);
  return r.data;
}

export async function writeJournalFile(path: string, value: unknown): Promise<void> {
  await replaceFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
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
