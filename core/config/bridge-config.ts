// bridge.yaml: the bridge service's configuration. Every default is stated here.
// Secrets are given as files or environment variable names, never inline in logs.
import * as z from 'zod';

const Seconds = (min: number, max: number) => z.int().min(min).max(max);

export const MenderConnection = z
  .strictObject({
    url: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8081'),
    /** Personal access token (preferred; Mender ≥ 3.4). Inline, from a file, or from an env variable. */
    token: z.string().min(1).optional(),
    token_file: z.string().optional(),
    token_env: z.string().optional(),
    /** Or user login (re-login on 401). */
    user: z.string().optional(),
    password: z.string().optional(),
    password_file: z.string().optional(),
    password_env: z.string().optional(),
    timeout_ms: z.int().min(100).max(300_000).default(15_000),
    retries: z.int().min(0).max(10).default(4),
    page_size: z.int().min(1).max(500).default(500),
    /** Accept a self-signed server certificate (only for labs). */
    insecure_tls: z.boolean().default(false),
  })
  .refine(
    (m) => [m.token, m.token_file, m.token_env].filter(Boolean).length <= 1,
    'give at most one of token, token_file, token_env',
  )
  .refine(
    (m) => [m.password, m.password_file, m.password_env].filter(Boolean).length <= 1,
    'give at most one of password, password_file, password_env',
  )
  .refine((m) => !(m.password || m.password_file || m.password_env) || m.user, 'a password needs a user');
export type MenderConnection = z.infer<typeof MenderConnection>;

/** The rollout's automatic revert policy; both thresholds absent = off (the default). */
export const RevertPolicy = z.strictObject({
  /** Revert when more than this share (percent) of the updates finished in the window failed (once a sample finished). */
  failed_pct: z.number().gt(0).max(100).optional(),
  /** Revert at this many failed updates in the window, whatever the rate. */
  failed_count: z.int().min(1).max(100_000).optional(),
  /** The window the failures are counted in (hours of the bridge clock). */
  window_hours: z
    .number()
    .min(0.01)
    .max(24 * 14)
    .default(24),
  /**
   * Take each van whose post-commit soak of the release regressed back to the previous release on its own
   * (its revert artifact), without waiting for a threshold. Off by default.
   */
  soak_regressed_vans: z.boolean().default(false),
});

/** How the vans' post-commit soak (vancore.soak.*) gates a wave. */
export const DeviceSoakPolicy = z.strictObject({
  /** A wave closes only when its updated vans report soak passed (vans that report no soak count as passed). */
  required: z.boolean().default(true),
  /** …but waits for vans still soaking at most this long after the wave's last success, then closes noting them. */
  max_wait_hours: z
    .number()
    .min(0)
    .max(24 * 14)
    .default(48),
});

export const RolloutSettings = z.strictObject({
  /** Share of the eligible fleet per daily wave, in percent. */
  wave_percent: z.number().gt(0).max(10).default(5),
  wave_interval_hours: z
    .number()
    .min(0.01)
    .max(24 * 14)
    .default(24),
  /** Pause when failures + rollbacks / finished vans of the current stage or wave exceed this (percent). */
  max_failure_percent: z.number().min(0).max(100).default(10),
  /** Halt at this many failures in one wave, whatever the rate. */
  max_failures_per_wave: z.int().min(1).default(3),
  /** Time a stage must soak after its last success before the next stage starts. */
  soak_hours: z.object({ internal: z.number().min(0).default(24), pilot: z.number().min(0).default(72) }).prefault({}),
  /** Share of a stage's vans that must have succeeded before the next stage starts (percent). */
  advance_success_percent: z.number().min(0).max(100).default(90),
  /** Optional tag to spread waves across evenly (e.g. region or model). */
  spread_by_tag: z.string().min(1).optional(),
  /** Mender tag that mirrors each van's stage. */
  stage_tag: z.string().min(1).default('vancore_stage'),
  /** A van that failed is retried in later waves this many times, then excluded for attention. */
  max_retries_per_van: z.int().min(0).max(20).default(2),
  /**
   * Automatic revert (issue #20 item 1, docs/rollouts.md "Automatic revert"): off unless a threshold is
   * set. Counted over the rollout's updates that finished in the last `window_hours` (bridge clock).
   */
  revert: RevertPolicy.prefault({}),
  /** The vans' post-commit soak (issue #20 item 2, docs/rollouts.md "Post-commit soak"). */
  device_soak: DeviceSoakPolicy.prefault({}),
});

/**
 * The Tailscale → Headscale migration (docs/vpn-migration.md, "Bridge side"): the defaults of a new
 * migration, frozen into it at creation (the create call may override each).
 */
export const VpnMigrationSettings = z.strictObject({
  /** Vans that may start a migration step (any step) in any 24 hours (rolling window). */
  daily_batch_limit: z.int().min(1).max(100_000).default(20),
  /** Optional limit per step in any 24 hours, on top of daily_batch_limit, e.g. `{cutover: 10}`. */
  step_daily_limit: z
    .strictObject({
      add: z.int().min(1).max(100_000).optional(),
      verify: z.int().min(1).max(100_000).optional(),
      cutover: z.int().min(1).max(100_000).optional(),
      retire: z.int().min(1).max(100_000).optional(),
    })
    .default({}),
  /** A van's cut-over must hold this long before it may retire SaaS (≥ the device's deadman watch, 24 h). */
  retire_soak_hours: z
    .number()
    .min(0)
    .max(24 * 60)
    .default(24),
  /** A step deployed (or succeeded but not in inventory) for this long is reported as stuck. */
  stuck_hours: z
    .number()
    .min(0.01)
    .max(24 * 60)
    .default(48),
  /** A failed step is deployed again this many times, then the van is listed for attention. */
  max_retries_per_van: z.int().min(0).max(20).default(1),
});

export const ApiToken = z.strictObject({
  name: z.string().min(1).max(64),
  role: z.enum(['support', 'ops']),
  /** The bearer token as given (≥ 16 characters), or its digest `sha256:<64 hex>`. */
  token: z
    .string()
    .refine((t) => /^sha256:[0-9a-f]{64}$/.test(t) || t.length >= 16, 'must be ≥ 16 characters or sha256:<64 hex>'),
});
export type ApiToken = z.infer<typeof ApiToken>;

export const BridgeConfig = z.strictObject({
  http: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.int().min(0).max(65_535).default(8080),
      body_limit_bytes: z
        .int()
        .min(1024)
        .max(64 * 1024 * 1024)
        .default(1024 * 1024),
      /** Requests per minute per client on the API (0 = off). */
      rate_limit_per_minute: z.int().min(0).default(600),
      /** A request's headers must arrive within this (slow-loris clients are cut off; server.ts). */
      headers_timeout_ms: z.int().min(100).max(600_000).default(10_000),
      /** A whole request (headers and body) must arrive within this; responses (SSE) are not limited. */
      request_timeout_ms: z.int().min(100).max(3_600_000).default(30_000),
      /** An idle kept-alive connection is closed after this (longer than a load balancer's idle timeout). */
      keep_alive_timeout_ms: z.int().min(100).max(600_000).default(72_000),
    })
    .prefault({}),
  mender: MenderConnection.prefault({}),
  database: z
    .strictObject({
      /** `sqlite:<file>` (default, WAL) or `postgres://user@host:5432/db`. */
      url: z
        .string()
        .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'must be sqlite:<file> or postgres://…')
        .default('sqlite:./data/vancore-bridge.db'),
      /** /readyz answers not ready below this much free space where the SQLite file lives (MB). */
      min_free_mb: z.int().min(0).default(64),
    })
    .prefault({}),
  sync: z
    .strictObject({
      interval_seconds: Seconds(5, 86_400).default(60),
      full_resync_interval_seconds: Seconds(60, 7 * 86_400).default(3600),
      /** A sync running longer is reported stuck by /readyz and /metrics. */
      deadline_seconds: Seconds(10, 86_400).default(900),
      /** Every n-th incremental sync reads the whole inventory for ops' tag / group changes (0 = off). */
      reconcile_every_syncs: z.number().int().min(0).max(10_000).default(10),
    })
    .prefault({}),
  rollout: RolloutSettings.prefault({}),
  vpn: VpnMigrationSettings.extend({
    headscale_url: z.url({ protocol: /^https$/ }).optional(),
  }).prefault({}),
  reports: z
    .strictObject({
      /** Attention thresholds: failed this many times… */
      failed_times: z.int().min(1).default(2),
      /** …deferred longer than this (days)… */
      deferred_days: z.number().min(0.01).default(3),
      /** …not seen for this long (days)… */
      not_seen_days: z.number().min(0.01).default(2),
      /** …downloading for longer than this (hours)… */
      stuck_downloading_hours: z.number().min(0.01).default(24),
      /** …or under this share of free disk (percent). */
      low_disk_percent: z.number().min(0).max(100).default(10),
      /**
       * Monthly cellular data budget per van (MB, 1 MB = 2^20 bytes): a van whose reported cellular bytes
       * or OTA downloads this month exceed it is listed (`data_over_budget`). Unset = no budget.
       */
      data_budget_mb_per_month: z.number().min(1).max(10_000_000).optional(),
    })
    .prefault({}),
  auth: z
    .strictObject({
      /** Bearer tokens for the bridge API. Empty = no auth (only allowed on a loopback host). */
      tokens: z.array(ApiToken).default([]),
    })
    .prefault({}),
  /** The support / ops console served at `/` (docs/console.md). */
  console: z
    .strictObject({
      /** A console session lasts this long after sign-in. */
      session_hours: z.number().min(0.01).max(168).default(12),
      /** Signs session cookies; give the same one to every replica. Default: derived from auth.tokens. */
      session_secret: z.string().min(32).optional(),
      /** Where people open Mender's web UI (deployment links); default: mender.url. */
      mender_ui_url: z.url({ protocol: /^https?$/ }).optional(),
    })
    .prefault({}),
  clock: z
    .strictObject({
      /** Speed of the bridge's scheduling clock: 1 = real time, 1440 = a day per minute (demo, tests). */
      speed: z.number().min(1).max(1_000_000).default(1),
    })
    .prefault({}),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type BridgeConfig = z.infer<typeof BridgeConfig>;
export type BridgeConfigInput = z.input<typeof BridgeConfig>;
