// Optional JSON persistence of the simulator's state: loaded once at start, saved after changes.
//
// Single-flight saver. Invariants: at most one write is in flight; changes during a write schedule one
// more write after it (never two); each write goes to `<file>.tmp` and is renamed over the file, so a
// reader (or a crash) sees either the old or the new state, never half of one. Saves are debounced so a
// burst of device requests costs one write, and the delay grows with the cost of a write (4× the last
// one) so a big fleet under load spends most of its time serving, not serialising.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { VanError } from '../core/errors.js';
import { parseWith } from '../core/validation.js';
import { StateFile } from './model.js';

export async function loadState(file: string): Promise<StateFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new VanError('CONFIG_UNREADABLE', `cannot read state file ${file}: ${(e as Error).message}`, { cause: e });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new VanError('CONFIG_INVALID', `state file ${file} is not JSON`);
  }
  return parseWith(StateFile, raw, `invalid state file ${file}`, 'CONFIG_INVALID');
}

export class StateSaver {
  readonly #file: string;
  readonly #snapshot: () => StateFile;
  readonly #delayMs: number;
  readonly #onError: (e: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #dirty = false;
  #lastWriteMs = 0;

  constructor(opts: { file: string; snapshot: () => StateFile; delayMs?: number; onError: (e: unknown) => void }) {
    this.#file = opts.file;
    this.#snapshot = opts.snapshot;
    this.#delayMs = opts.delayMs ?? 200;
    this.#onError = opts.onError;
  }

  /** Note a change; a save follows within the debounce delay. */
  schedule(): void {
    this.#dirty = true;
    if (this.#timer || this.#running) return; // the running loop sees #dirty and writes once more
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        void this.#start();
      },
      Math.max(this.#delayMs, this.#lastWriteMs * 4),
    );
  }

  #start(): Promise<void> {
    this.#running ??= this.#loop().finally(() => {
      this.#running = undefined;
      // A change that landed after the loop's last check but before this line still gets written.
      if (this.#dirty) this.schedule();
    });
    return this.#running;
  }

  async #loop(): Promise<void> {
    while (this.#dirty) {
      this.#dirty = false;
      await this.#write().catch(this.#onError);
    }
  }

  async #write(): Promise<void> {
    const t0 = Date.now();
    const text = JSON.stringify(this.#snapshot());
    await mkdir(dirname(this.#file), { recursive: true });
    const tmp = `${this.#file}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, this.#file);
    this.#lastWriteMs = Date.now() - t0;
  }

  /** Write the current state now and wait until it is on disk. */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#dirty = true;
    await this.#start();
    // If a loop was already past its last check, run one more to cover this flush's state.
    if (this.#dirty) await this.#start();
  }
}
