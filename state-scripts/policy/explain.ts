// Words for people: the one line a state script leaves in the deployment log, and the longer
// explanation of `vancore-ota gate check`. Pure.
import { gateReasonLine } from '../../core/gate-journal.js';
import type { GateDecision } from '../../core/schemas/gate.js';
import { human, type Check } from './types.js';

/**
 * What the exit code makes the real client do: RECIPE §5.2 (3.4), RECIPE-current §3.2 / §6 (5.1 and 3.4
 * under the daemon). A download decision's exit 1 means "not now" only in the client's NOT_NOW_STATE.
 */
export function exitMeaning(d: Pick<GateDecision, 'phase' | 'exit_code' | 'client'>): string {
  if (d.exit_code === 0) return 'go ahead';
  if (d.exit_code === 21) return 'the client runs this script again after StateScriptRetryIntervalSeconds';
  const cpp = d.client?.flavour === 'mender-update-5';
  if (d.phase === 'Sync_Leave') {
    return cpp
      ? 'not now: the client drops the deployment without reporting anything; it stays pending and is offered again at the next poll'
      : 'not now: the client goes idle without a failure (3.x reports two "downloading" substates per poll) and fetches the deployment again at its next poll';
  }
  if (d.phase === 'Download_Enter') {
    return cpp
      ? 'FAILURE on this client: mender-update reports the deployment failed (its "not now" point is Sync_Leave)'
      : 'not now: under the daemon the client goes idle, reports no failure and retries at its next poll (standalone: the install fails)';
  }
  return 'Mender rolls the update back and reports failure';
}

/** `mender-update/5.1.0 — "not now" at Sync_Leave`, or why the client is unknown. */
export function clientLine(d: Pick<GateDecision, 'client'>): string {
  const c = d.client;
  if (!c) return 'client: unknown (no /etc/vancore/mender-client.json: run vancore-ota device install)';
  const binary = c.flavour === 'mender-3' ? 'mender' : 'mender-update';
  return `client: ${binary}/${c.version} — "not now" at ${c.not_now_state}`;
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
  if (d.phase === 'Download_Enter' || d.phase === 'Sync_Leave') {
    out.push(`  ${clientLine(d)}`);
    if (d.client && d.client.not_now_state !== d.phase) {
      out.push(`  note: this van's client runs the download gate at ${d.client.not_now_state}, not ${d.phase}`);
    }
  }
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
