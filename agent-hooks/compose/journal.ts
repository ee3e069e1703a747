// The compose module's journal, <state_dir>/compose/<component>/journal.json: which deployment is in
// flight, what the van looked like before it (bundles, images, recorded version), and which steps
// started and finished. A step is marked started before its effect and done after it, so after a
// kill the planner knows what may have happened and replays or reverses it (every step is idempotent).
import { basename, join } from 'node:path';
import { STATE_FILES } from '../../core/state-dir.js';
import * as z from 'zod/mini';
import { ComponentName, IsoDateTime, SemVer } from '../../core/schemas/common.js';
import { readJournalFile, writeJournalFile } from '../lib/journal.js';

export const Slots = ['NEW', 'CURRENT', 'PREVIOUS', 'OLDER', 'FAILED'] as const;
export type Slot = (typeof Slots)[number];

export const Outcomes = ['installing', 'installed', 'committed', 'rolling_back', 'rolled_back'] as const;
export type Outcome = (typeof Outcomes)[number];
export const TERMINAL: readonly Outcome[] = ['committed', 'rolled_back'];

const BundleRef = z.object({ id: z.string(), artifact_name: z.string(), version: SemVer });
export type BundleRef = z.infer<typeof BundleRef>;

export const ComposeJournal = z.object({
  format: z.literal(1),
  artifact_name: z.string(),
  component: ComponentName,
  version: SemVer,
  project: z.string(),
  /** The id of the bundle this deployment stages (its BUNDLE_MARKER id). */
  new_id: z.string(),
  /** The bundles in CURRENT and PREVIOUS when the deployment began: what a rollback restores. */
  before: z.object({ current: z.nullable(BundleRef), previous: z.nullable(BundleRef) }),
  /** versions.json's entry for the component before, restored if a commit had recorded the new one. */
  versions_before: z.nullable(SemVer),
  /** Image references the running bundle used and the image ids they pointed at (re-tagged on rollback). */
  images_before: z.array(z.object({ ref: z.string(), id: z.string() })),
  outcome: z.enum(Outcomes),
  started: z.array(z.string()),
  done: z.array(z.string()),
  error: z.optional(z.string()),
  updated_at: IsoDateTime,
});
export type ComposeJournal = z.infer<typeof ComposeJournal>;

/** Under compose/<component>/ (core/state-dir.ts STATE_FILES.composeJournal). */
export const JOURNAL_FILE = basename(STATE_FILES.composeJournal.path);

export function readJournal(dir: string): Promise<ComposeJournal | null> {
  return readJournalFile(join(dir, JOURNAL_FILE), ComposeJournal);
}

export function writeJournal(dir: string, j: ComposeJournal): Promise<void> {
  return writeJournalFile(join(dir, JOURNAL_FILE), j);
}
