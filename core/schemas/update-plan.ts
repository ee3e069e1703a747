// The VanCore update plan, in the JSON shape the VanCore spec returns from `GET /update-plan`
// (the bridge serves it per van at `GET /api/v1/vans/:vanId/plan`).
import * as z from 'zod/mini';
import { Constraints } from './artifact-meta.js';
import { ComponentName, PayloadType, SemVer } from './common.js';

export const PlanArtifact = z.strictObject({
  name: z.string().check(z.minLength(1), z.maxLength(256)),
  type: PayloadType,
  url: z.url({ protocol: /^https?$/ }),
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/, { error: 'must be 64 lowercase hex digits' })),
});
export type PlanArtifact = z.infer<typeof PlanArtifact>;

export const PlanTarget = z.strictObject({
  /** The release the van should end on. */
  release: z.string().check(z.minLength(1), z.maxLength(128)),
  /** Component versions of that release. */
  components: z.record(ComponentName, SemVer),
});
export type PlanTarget = z.infer<typeof PlanTarget>;

export const UpdatePlan = z
  .strictObject({
    update_required: z.boolean(),
    target: z.nullable(PlanTarget),
    /** Artifacts still to install, in install order (dependencies first). */
    artifacts: z.array(PlanArtifact),
    constraints: z.prefault(Constraints, {}),
  })
  .check(
    z.refine((p) => !p.update_required || (p.target !== null && p.artifacts.length > 0), {
      error: 'an update that is required needs a target and at least one artifact',
    }),
    z.refine((p) => p.update_required || p.artifacts.length === 0, {
      error: 'no artifacts may be listed when no update is required',
    }),
  );
export type UpdatePlan = z.infer<typeof UpdatePlan>;
