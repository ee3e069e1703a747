// Words for people: the one line a state script leaves in the deployment log, and the longer
// explanation of `vancore-ota gate check`. Pure.
import { gateReasonLine } from '../../core/gate-journal.js';
import type { GateDecision } from '../../core/schemas/gate.js';
import { human, type Check } from './types.js';

/** What the exit code makes the real client do (RECIPE §5.2). */
export function exitMeaning(d: Pick<GateDecision, 'phase' | 'exit_code'>): string {
  if (d.exit_code === 0) return 'go ahead';
  if (d.exit_code === 21) return 'the client runs this script again after StateScriptRetryIntervalSeconds';
  return d.phase === 'Download_Enter'
    ? 'not now: under the daemon the client goes idle, reports no failure and retries at its next poll (standalone: the install fails)'
    : 'Mender rolls the update back and reports failure';
}

export function gateLine(d: GateDecision): string {
  const why = gateReasonLine(d);
  return `vancore-gate ${d.phase}: ${d.state} (${d.verdict}, exit ${d.exit_code})${why ? `: ${why}` : ''}`;
}

export function explain(d: GateDecision, checks: readonly Check[], now: Date): string {
  const out: string[] = [];
  const sinceS = (now.getTime() - Date.parse(d.since)) / 1000;
  const art = d.artifact
    ? ` for ${d.artifact.name ?? d.artifact.component} (${d.artifact.component} ${d.artifact.version})`
    : '';
  out.push(`${d.phase}${art}: ${d.state.toUpperCase()} — verdict ${d.verdict}, exit ${d.exit_code}`);
  out.push(`  ${exitMeaning(d)}`);
  if (sinceS >= 1) out.push(`  ${d.state} since ${d.since} (${human(sinceS)})`);
  if (checks.length) {
    out.push('', 'Checks:');
    for (const c of checks) out.push(`  ${c.ok ? '✓' : '✗'} ${c.ok ? '' : `${c.code}: `}${c.message}`);
  }
  const shown = new Set(checks.filter((c) => !c.ok).map((c) => c.message));
  const extra = d.reasons.filter((r) => !shown.has(r.message) && !(checks.length && r.code === 'conditions_met'));
  if (extra.length) {
    out.push('', 'Reasons:');
    for (const r of extra) out.push(`  ${r.code}: ${r.message}`);
  }
  return `${out.join('\n')}\n`;
}
