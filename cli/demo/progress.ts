// Live progress: a snapshot of the rollout and the fleet (plain data, gathered by run.ts) rendered as a
// redrawn block on a terminal, or as timestamped lines that are printed only when something changed.

/** One Mender client's share of the virtual fleet (docs/demo.md "Two clients"). */
export interface ClientCounts {
  /** Short name, e.g. `3.4` (mender) or `5.1` (mender-update). */
  label: string;
  vans: number;
  /** Vans that run every component of the release. */
  updated: number;
  /** "Not now" answers of the gate so far. */
  deferrals: number;
  /** Failed or rolled-back updates. */
  failed: number;
  /** Of those, failures on vans whose only trouble was a deferral: must stay 0 on every client. */
  byDeferral: number;
}

export interface Snapshot {
  /** Seconds since the demo started (real time). */
  elapsedS: number;
  /** Simulated days since the rollout started (bridge clock). */
  day: number;
  rollout: { status: string; pauseReason: string | null } | undefined;
  /** The open wave (or the last one), e.g. `fleet-3`, with its stage and size. */
  wave: { label: string; stage: string; vans: number; index: number; deploying: string | null } | undefined;
  waves: number;
  /** The planner's next step in words (`wave pilot: soaking until …`). */
  next: string | undefined;
  vans: { total: number; updated: number; failed: number; excluded: number };
  fleet: {
    deferredNow: Record<string, number>;
    deferrals: Record<string, number>;
    updating: number;
    rolledBack: number;
    failures: number;
    offline: number;
  };
  /** Per Mender client of the virtual vans. */
  clients: ClientCounts[];
  realVan: string | undefined;
}

const REASON: Record<string, string> = { moving: 'driving', weak_signal: 'weak LTE', low_battery: 'low battery' };

function reasons(r: Record<string, number>): string {
  const parts = Object.entries(r)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${REASON[k] ?? k} ${n}`);
  return parts.length ? parts.join(', ') : 'none';
}

/** `3.4 12/30 updated, 40 deferrals, 1 failed (0 by deferral)`. */
export function clientPart(c: ClientCounts): string {
  return `${c.label} ${c.updated}/${c.vans} updated, ${c.deferrals} deferrals, ${c.failed} failed (${c.byDeferral} by deferral)`;
}

function stageLine(s: Snapshot): string {
  if (!s.rollout) return 'rollout: not started';
  const w = s.wave ? `wave ${s.wave.index} ${s.wave.label} (${s.wave.stage}, ${s.wave.vans} vans)` : 'no wave yet';
  const dep = s.wave?.deploying ? `, deploying ${s.wave.deploying}` : '';
  return `rollout ${s.rollout.status}: ${w}${dep}`;
}

/** The lines of the status block (the same facts the plain lines carry), each short enough for 80 columns. */
export function renderBlock(s: Snapshot): string[] {
  const lines = [
    `VanCore OTA demo · ${s.elapsedS.toFixed(0)} s · simulated day ${s.day.toFixed(1)}`,
    stageLine(s),
    `  next        ${s.next ?? '-'}`,
    `  updated     ${s.vans.updated} of ${s.vans.total} vans on the release · ${s.fleet.updating} updating now`,
    `  deferred    now: ${reasons(s.fleet.deferredNow)}`,
    `              so far: ${reasons(s.fleet.deferrals)}`,
    `  failed      ${s.fleet.failures} updates on ${s.vans.failed} vans · excluded ${s.vans.excluded}`,
    `  rolled back ${s.fleet.rolledBack} · offline ${s.fleet.offline}`,
    ...s.clients.map(
      (c) =>
        `  on ${c.label.padEnd(9)}${c.updated}/${c.vans} updated · ${c.deferrals} deferrals · ${c.failed} failed · ${c.byDeferral} by deferral`,
    ),
  ];
  if (s.rollout?.pauseReason) lines.push(`  paused      ${s.rollout.pauseReason}`);
  if (s.realVan) lines.push(`  real van    ${s.realVan}`);
  return lines;
}

/** One plain line, for logs and pipes. */
export function renderLine(s: Snapshot): string {
  const parts = [
    `day ${s.day.toFixed(1)}`,
    stageLine(s),
    `updated ${s.vans.updated}/${s.vans.total}`,
    `deferred now ${reasons(s.fleet.deferredNow)} (so far ${reasons(s.fleet.deferrals)})`,
    `failed ${s.fleet.failures} on ${s.vans.failed} vans, excluded ${s.vans.excluded}, rolled back ${s.fleet.rolledBack}, offline ${s.fleet.offline}`,
    ...(s.clients.length ? [s.clients.map(clientPart).join('; ')] : []),
  ];
  if (s.rollout?.pauseReason) parts.push(`paused: ${s.rollout.pauseReason}`);
  return parts.join(' | ');
}

/**
 * What makes a line worth printing: everything but the clocks and the in-flight count, so a line
 * appears when a wave opens, a component deploys, vans update, defer or fail — not every tick.
 */
export function changeKey(s: Snapshot): string {
  return JSON.stringify([
    s.rollout,
    s.wave,
    s.vans,
    s.fleet.deferrals,
    s.fleet.deferredNow,
    s.fleet.failures,
    s.fleet.rolledBack,
    s.fleet.offline,
    s.clients,
    s.realVan,
  ]);
}

export interface Reporter {
  show(s: Snapshot): void;
  /** Print a message above the live block (or as a line). */
  note(text: string): void;
  /** Leave the block as it is and stop redrawing. */
  end(): void;
}

function stamp(): string {
  return new Date().toISOString().slice(11, 19);
}

export function plainReporter(out: NodeJS.WritableStream): Reporter {
  let last = '';
  return {
    show(s) {
      const key = changeKey(s);
      if (key === last) return;
      last = key;
      out.write(`${stamp()} ${renderLine(s)}\n`);
    },
    note: (text) => void out.write(`${stamp()} ${text}\n`),
    end: () => undefined,
  };
}

export function ttyReporter(out: NodeJS.WritableStream): Reporter {
  let drawn = 0;
  let block: string[] = [];
  const clear = () => {
    if (drawn > 0) out.write(`\x1b[${drawn}A\x1b[0J`);
    drawn = 0;
  };
  const draw = () => {
    // A pty without a size reports 0 columns: do not cut lines then.
    const reported = (out as NodeJS.WritableStream & { columns?: number }).columns ?? 0;
    const cols = reported >= 20 ? reported : 1_000;
    const lines = block.map((l) => (l.length > cols - 1 ? `${l.slice(0, cols - 2)}…` : l));
    out.write(`${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  return {
    show(s) {
      block = renderBlock(s);
      clear();
      draw();
    },
    note(text) {
      clear();
      out.write(`${text}\n`);
      if (block.length) draw();
    },
    end() {
      drawn = 0;
    },
  };
}
