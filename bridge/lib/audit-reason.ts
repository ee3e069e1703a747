// The `--reason` every ops action of the bridge's CLI takes (rollouts, VPN migrations): required, and
// kept in the owner's audit trail.
import { opt, type RunContext } from '../../core/command.js';
import { VanError } from '../../core/errors.js';

export const reasonOption = {
  reason: { type: 'string', value: 'TEXT', description: 'why (required; kept in the audit trail)' },
} as const;

export function requireReason(ctx: RunContext): string {
  const r = opt.string(ctx.values, 'reason');
  if (!r) throw new VanError('USAGE', '--reason is required (it goes into the audit trail)');
  return r;
}
