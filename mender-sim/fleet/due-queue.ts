// The fleet's single timer queue: a binary min-heap of device indices ordered by (due time, insertion
// order), in typed arrays sized once for the fleet. Each device is in it at most once (re-scheduling
// moves it), so memory is fixed at ~20 bytes per device and no per-step closure or timer exists.

export class DueQueue {
  readonly #heap: Int32Array;
  /** Position of each device in the heap, -1 when not queued. */
  readonly #pos: Int32Array;
  readonly #due: Float64Array;
  readonly #order: Float64Array;
  #size = 0;
  #counter = 0;

  constructor(capacity: number) {
    this.#heap = new Int32Array(capacity);
    this.#pos = new Int32Array(capacity).fill(-1);
    this.#due = new Float64Array(capacity);
    this.#order = new Float64Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  has(i: number): boolean {
    return (this.#pos[i] ?? -1) >= 0;
  }

  dueOf(i: number): number | undefined {
    return this.has(i) ? this.#due[i] : undefined;
  }

  /** Queue device `i` at `due` (or move it there if queued); ties run in insertion order. */
  schedule(i: number, due: number): void {
    this.#due[i] = due;
    this.#order[i] = this.#counter++;
    const p = this.#pos[i] ?? -1;
    if (p < 0) {
      const at = this.#size++;
      this.#heap[at] = i;
      this.#pos[i] = at;
      this.#up(at);
    } else {
      this.#up(p);
      this.#down(this.#pos[i] ?? p);
    }
  }

  remove(i: number): void {
    const p = this.#pos[i] ?? -1;
    if (p < 0) return;
    const last = this.#heap[--this.#size] as number;
    this.#pos[i] = -1;
    if (p === this.#size) return;
    this.#heap[p] = last;
    this.#pos[last] = p;
    this.#up(p);
    this.#down(this.#pos[last] ?? p);
  }

  /** The earliest device and its due time, without removing it. */
  peek(): { index: number; due: number } | undefined {
    if (this.#size === 0) return undefined;
    const i = this.#heap[0] as number;
    return { index: i, due: this.#due[i] as number };
  }

  /** The earliest due time (Infinity when empty); allocation-free. */
  peekDue(): number {
    return this.#size === 0 ? Infinity : (this.#due[this.#heap[0] as number] as number);
  }

  /** Remove and return the earliest device (its index), or -1 when empty. */
  pop(): number {
    if (this.#size === 0) return -1;
    const top = this.#heap[0] as number;
    this.remove(top);
    return top;
  }

  #less(a: number, b: number): boolean {
    const da = this.#due[a] as number;
    const db = this.#due[b] as number;
    return da < db || (da === db && (this.#order[a] as number) < (this.#order[b] as number));
  }

  #swap(p: number, q: number): void {
    const a = this.#heap[p] as number;
    const b = this.#heap[q] as number;
    this.#heap[p] = b;
    this.#heap[q] = a;
    this.#pos[b] = p;
    this.#pos[a] = q;
  }

  #up(p: number): void {
    while (p > 0) {
      const parent = (p - 1) >> 1;
      if (!this.#less(this.#heap[p] as number, this.#heap[parent] as number)) return;
      this.#swap(p, parent);
      p = parent;
    }
  }

  #down(p: number): void {
    for (;;) {
      const l = 2 * p + 1;
      const r = l + 1;
      let m = p;
      if (l < this.#size && this.#less(this.#heap[l] as number, this.#heap[m] as number)) m = l;
      if (r < this.#size && this.#less(this.#heap[r] as number, this.#heap[m] as number)) m = r;
      if (m === p) return;
      this.#swap(p, m);
      p = m;
    }
  }
}
