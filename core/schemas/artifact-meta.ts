// What travels in an artifact's meta-data (`mender-artifact write … -m`), under the one key `vancore`
// (ARCHITECTURE.md "Constraints"). Other tools' keys beside `vancore` are left alone.
import * as z from 'zod/mini';
import { ComponentName, MaintenanceWindow, SemVer, SemVerRange, UnitInterval } from './common.js';
import { VpnStep } from './payload-index.js';

/**
 * Conditions under which a van may install. Defaults are the VanCore spec's: stationary for 3 min,
 * signal ≥ 0.6, battery ≥ 30 % unless on shore power. Unknown keys are rejected: a van cannot honour
 * a constraint it does not know, so it fails safe instead of ignoring it.
 */
export const Constraints = z.strictObject({
  must_be_stationary: z._default(z.boolean(), true),
  stationary_minutes: z._default(z.number().check(z.minimum(1), z.maximum(60)), 3),
  min_signal_quality: z._default(UnitInterval, 0.6),
  min_battery_soc: z._default(z.number().check(z.minimum(0), z.maximum(100)), 30),
  shore_power_overrides_battery: z._default(z.boolean(), true),
  maintenance_window: z._default(z.nullable(MaintenanceWindow), null),
});
export type Constraints = z.infer<typeof Constraints>;
export type ConstraintsInput = z.input<typeof Constraints>;

/** The validation window after install: health and cloud reachability must hold throughout. */
export const Validation = z.strictObject({
  window_seconds: z._default(z.int().check(z.minimum(0), z.maximum(86_400)), 300),
  require_cloud: z._default(z.boolean(), true),
});
export type Validation = z.infer<typeof Validation>;

export const VancoreMeta = z.strictObject({
  component: ComponentName,
  version: SemVer,
  /** Installed versions this artifact needs, per component: `{ "platform": ">=0.9.0" }`. */
  requires: z._default(z.record(ComponentName, SemVerRange), {}),
  constraints: z.prefault(Constraints, {}),
  validation: z.prefault(Validation, {}),
  /**
   * How long the install takes on a van, from the install gate's go to the commit (issue #20: the energy
   * budget). Optional; hubs before this field refuse meta-data that carries it (the schema is strict).
   */
  expected_install_seconds: z.optional(z.int().check(z.minimum(1), z.maximum(86_400))),
  /**
   * `vancore-vpn` artifacts: the step the payload carries (the same as its vancore-index.json), so the
   * bridge can check a migration's artifacts without downloading them. Absent in builds before it.
   */
  vpn: z.optional(z.strictObject({ step: VpnStep })),
  /**
   * An explicit revert (issue #20 item 4): the version this artifact takes the component back *from*.
   * A van refuses an artifact older than what it runs unless this names exactly the installed version
   * (agent-hooks/lib/downgrade.ts). Covered by the artifact's signature like all meta-data. Absent in
   * every ordinary build.
   */
  revert_of: z.optional(SemVer),
  /**
   * A layer-delta compose artifact (issue #17, `artifact build --base`): the version it is a delta
   * from. Such an artifact installs only on a van that runs exactly that version (it `depends` on its
   * provides); the full artifact of the same version is built beside it. Hubs before this field refuse
   * it (the schema is strict), which is right: they cannot rebuild images from a delta.
   */
  delta_of: z.optional(SemVer),
});
export type VancoreMeta = z.infer<typeof VancoreMeta>;

export const ArtifactMetaData = z.looseObject({ vancore: VancoreMeta });
export type ArtifactMetaData = z.infer<typeof ArtifactMetaData>;
