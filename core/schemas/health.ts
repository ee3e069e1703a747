// The health report: what `vancore-ota health --json` (and the bundled device runner
// /usr/lib/vancore-ota/bin/vancore-ota-health --json) prints on stdout. The gates' validation window
// (ArtifactCommit_Enter) runs it and reads this; exit code 0 = every check passed, 1 = at least one failed.
import * as z from 'zod/mini';
import { ComponentName, IsoDateTime } from './common.js';

export const HealthCheckKinds = ['container', 'http', 'command', 'script'] as const;
export const HealthCheckKind = z.enum(HealthCheckKinds);
export type HealthCheckKind = z.infer<typeof HealthCheckKind>;

export const HealthCheckResult = z.object({
  /** `compose:<component>` for container checks, the configured name for ota.yaml checks. */
  name: z.string().check(z.minLength(1), z.maxLength(128)),
  kind: HealthCheckKind,
  /** The compose component the check belongs to (absent for ota.yaml checks). */
  component: z.optional(ComponentName),
  ok: z.boolean(),
  /** One line: what was seen ("2/2 running, healthy", "HTTP 503", "exit 3"). */
  detail: z.string().check(z.maxLength(512)),
  duration_ms: z.int().check(z.minimum(0)),
});
export type HealthCheckResult = z.infer<typeof HealthCheckResult>;

export const HealthReport = z.object({
  ok: z.boolean(),
  at: IsoDateTime,
  checks: z.array(HealthCheckResult),
});
export type HealthReport = z.infer<typeof HealthReport>;
