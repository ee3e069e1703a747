// The reason codes in a `vancore.gate.reason` inventory line, "code[, code]: message" (gateReasonLine
// in core/gate-journal.ts, docs/contracts.md). Dependency-free: the bridge's reports and the console's
// browser bundle both use it.

/**
 * The codes of a reason line, in order, without repeats. A line that does not start with codes (an
 * older hub, a hand-set value) is `unknown`; no line at all is `none`. Reports group deferrals by these.
 */
export function gateReasonCodes(line: string | null | undefined): string[] {
  if (!line) return ['none'];
  const m = /^([a-z][a-z0-9_]*(?:\s*,\s*[a-z][a-z0-9_]*)*)\s*:/.exec(line);
  return m ? [...new Set(m[1]!.split(',').map((c) => c.trim()))] : ['unknown'];
}

/** The message part of a reason line (the whole line when it has no codes). */
export function gateReasonMessage(line: string | null | undefined): string {
  if (!line) return '';
  const m = /^[a-z][a-z0-9_]*(?:\s*,\s*[a-z][a-z0-9_]*)*\s*:\s*(.*)$/s.exec(line);
  return m ? m[1]! : line;
}
