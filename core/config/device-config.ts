// ota.yaml: the device's configuration, read by the gates, sensord and the agent hooks.
// Every default is stated here, once; a missing file means exactly these defaults.
import * as z from 'zod/mini';
import { MaintenanceWindow, TimeZone, UnitInterval, VanId } from '../schemas/common.js';

export const DEFAULT_DEVICE_CONFIG_PATH = '/etc/vancore/ota.yaml';
export const DEFAULT_STATE_DIR = '/var/lib/vancore-ota';

const Seconds = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));
const HttpUrl = z.url({ protocol: /^https?$/ });

/** What a metered or hotspot link allows: any download, none, or downloads known to be at most `max_mb` MB. */
export const MeteredRule = z.union([
  z.enum(['allow', 'defer']),
  z.strictObject({ max_mb: z.number().check(z.minimum(0), z.maximum(100_000)) }),
]);
export type MeteredRule = z.infer<typeof MeteredRule>;

/** Local policy at Download_Enter (the VanCore spec's defaults). */
export const DownloadPolicy = z.strictObject({
  must_be_stationary: z._default(z.boolean(), true),
  stationary_minutes: z._default(z.number().check(z.minimum(1), z.maximum(60)), 3),
  min_signal_quality: z._default(UnitInterval, 0.6),
  min_battery_soc: z._default(z.number().check(z.minimum(0), z.maximum(100)), 30),
  shore_power_overrides_battery: z._default(z.boolean(), true),
  maintenance_window: z._default(z.nullable(MaintenanceWindow), null),
  /** Exit 21 (client blocks and retries) only when the wait should clear within this; else exit 1 ("not now"). */
  short_wait_seconds: z._default(Seconds(0, 600), 60),
  // Network policy (issue #17, docs/gates.md "Network policy"): what the link the download would use may cost.
  /** While the modem carrying the default route roams: never, only downloads known to be small, or always. */
  roaming: z._default(z.enum(['never', 'small_only', 'allow']), 'small_only'),
  /** "Small" for `roaming: small_only`, in MB (10^6 bytes). */
  roaming_small_mb: z._default(z.number().check(z.minimum(0), z.maximum(100_000)), 25),
  /** Visited networks (MCC, the first 3 digits of the operator code) where roaming costs what home does (EU roam-like-at-home). */
  roam_like_home_mcc: z._default(z.array(z.string().check(z.regex(/^\d{3}$/, { error: 'must be a 3-digit MCC' }))), []),
  /** A metered link (cellular, or marked metered in NetworkManager). */
  metered: z._default(MeteredRule, 'allow'),
  /** A phone hotspot (NetworkManager's guessed metered on Wi-Fi, Ethernet or Bluetooth: ANDROID_METERED). */
  hotspot: z._default(MeteredRule, 'defer'),
  /** How old `<state_dir>/download-size.json` (the size hint) may be before it is ignored. */
  size_hint_max_age_seconds: z._default(Seconds(60, 7 * 86_400), 3600),
  /**
   * When a size rule needs the pending download's size, ask the Mender server for it as the client does
   * (state-scripts/sense/size-probe.ts: D-Bus token, deployments/next, one byte of the artifact link).
   */
  size_probe: z._default(z.boolean(), true),
});

/**
 * The install gate's energy budget (issue #20, docs/gates.md "Energy budget"): the battery above the
 * reserve must cover the update and a rollback, with a margin. `capacity_wh: null` (the default: the
 * house battery differs per van) turns it off, leaving the artifact's `min_battery_soc` threshold alone.
 */
export const EnergyBudget = z.strictObject({
  /** Usable capacity of the house battery in Wh at 100 %; null = no energy budget. */
  capacity_wh: z._default(z.nullable(z.number().check(z.minimum(1), z.maximum(1_000_000))), null),
  /** State of charge that must stay in the battery for living in the van. */
  reserve_pct: z._default(z.number().check(z.minimum(0), z.maximum(100)), 20),
  /** The hub's draw while it updates, in W (a live `power.load_w` reading counts when it is higher). */
  load_w: z._default(z.number().check(z.minimum(0), z.maximum(10_000)), 25),
  /** Extra energy for a rollback, as a fraction of the install's (1 = a rollback as long as the install). */
  rollback_factor: z._default(z.number().check(z.minimum(0), z.maximum(10)), 1),
  /** Safety margin on top, in %. */
  margin_pct: z._default(z.number().check(z.minimum(0), z.maximum(500)), 20),
  /** Install duration when neither the artifact nor this van's past installs of the component say. */
  default_install_minutes: z._default(z.number().check(z.minimum(0.1), z.maximum(24 * 60)), 15),
});
export type EnergyBudget = z.infer<typeof EnergyBudget>;

/** A reading older than this is unknown (and unknown never lets an update through). */
export const Staleness = z.strictObject({
  motion_seconds: z._default(Seconds(1, 3600), 30),
  signal_seconds: z._default(Seconds(1, 3600), 120),
  power_seconds: z._default(Seconds(1, 86_400), 300),
});

export const HealthCheck = z.union([
  z.strictObject({
    name: z.string().check(z.minLength(1), z.maxLength(64)),
    command: z.array(z.string()).check(z.minLength(1)),
    timeout_seconds: z._default(Seconds(1, 600), 10),
  }),
  z.strictObject({
    name: z.string().check(z.minLength(1), z.maxLength(64)),
    url: HttpUrl,
    expect_status: z._default(z.int().check(z.minimum(100), z.maximum(599)), 200),
    timeout_seconds: z._default(Seconds(1, 600), 10),
  }),
]);
export type HealthCheck = z.infer<typeof HealthCheck>;

export const ImuSource = z.strictObject({
  /** IIO device dir, e.g. /sys/bus/iio/devices/iio:device0 (relative to the host root). */
  device: z._default(z.string(), '/sys/bus/iio/devices/iio:device0'),
  sample_hz: z._default(z.number().check(z.minimum(0.2), z.maximum(100)), 10),
  /** Deviation of |a| from 1 g (in g) above which a sample counts as movement. */
  movement_threshold_g: z._default(z.number().check(z.minimum(0.001), z.maximum(2)), 0.05),
  /** Angular rate (rad/s) above which a gyro sample counts as movement, when a gyro is present. */
  gyro_threshold_rad_s: z._default(z.number().check(z.minimum(0.001), z.maximum(10)), 0.1),
});

export const GnssSource = z.strictObject({
  host: z._default(z.string(), '127.0.0.1'),
  port: z._default(z.int().check(z.minimum(1), z.maximum(65_535)), 2947),
  /** Speed over ground (m/s) above which the van is moving. */
  moving_speed_mps: z._default(z.number().check(z.minimum(0.1), z.maximum(10)), 1.0),
});

export const HomeAssistant = z.strictObject({
  url: HttpUrl,
  /** File holding a long-lived access token (never the token itself in this file). */
  token_file: z.string(),
  timeout_ms: z._default(z.int().check(z.minimum(100), z.maximum(30_000)), 3000),
  entities: z.prefault(
    z.strictObject({
      moving: z.optional(z.string()),
      speed: z.optional(z.string()),
      battery_soc: z.optional(z.string()),
      shore_power: z.optional(z.string()),
      // Presence and consent (issue #21, docs/home-assistant.md): binary entities, "on" = yes.
      /** Someone is in the van (the install waits while on). */
      occupied: z.optional(z.string()),
      /** Someone is sleeping (the install waits while on). */
      sleeping: z.optional(z.string()),
      /** The heating currently depends on the hub (the install waits while on). */
      heating: z.optional(z.string()),
      /** The owner's "postpone" control (an input_boolean: on = postpone), within `postpone_budget`. */
      postpone: z.optional(z.string()),
    }),
    {},
  ),
  /** How often and how long the owner may postpone one pending update; then it goes at the next safe window. */
  postpone_budget: z.prefault(
    z.strictObject({
      max_count: z._default(z.int().check(z.minimum(0), z.maximum(100)), 3),
      max_hours: z._default(z.number().check(z.minimum(0), z.maximum(24 * 30)), 72),
    }),
    {},
  ),
  /** What the gates show on HA: a sensor entity and persistent notifications. */
  publish: z.prefault(
    z.strictObject({
      enabled: z._default(z.boolean(), true),
      entity_id: z._default(
        z
          .string()
          .check(
            z.regex(/^sensor\.[a-z0-9_]+$/, { error: 'must be a sensor entity id such as sensor.vancore_update' }),
          ),
        'sensor.vancore_update',
      ),
      /** Minutes of notice before an install that interrupts services (0 = no wait for the notice). */
      notice_minutes: z._default(z.number().check(z.minimum(0), z.maximum(120)), 10),
    }),
    {},
  ),
});

/**
 * The HA Supervisor the vancore-ha update module talks to: `http://supervisor` with $SUPERVISOR_TOKEN
 * (a hub running inside HA OS / Supervised), or HA Core's proxy `http://<ha>:8123/api/hassio` with a
 * long-lived token of an admin user in `token_file`.
 */
export const SupervisorAccess = z.strictObject({
  url: z._default(HttpUrl, 'http://supervisor'),
  /** File holding the token; absent = $SUPERVISOR_TOKEN. */
  token_file: z.optional(z.string()),
  request_timeout_seconds: z._default(Seconds(1, 3600), 600),
  /** How long an updated or restored add-on may take to report `started` and pass its probe. */
  start_timeout_seconds: z._default(Seconds(1, 3600), 300),
  /** `started` must hold for this long (the Supervisor's watchdog restarts a crashing add-on). */
  settle_seconds: z._default(z.number().check(z.minimum(0), z.maximum(600)), 10),
  poll_interval_seconds: z._default(z.number().check(z.minimum(0.05), z.maximum(60)), 2),
});
export type SupervisorAccess = z.infer<typeof SupervisorAccess>;

export const Sensors = z.strictObject({
  /** Motion sources in order of preference; the first one with a fresh answer wins. */
  motion_sources: z._default(z.array(z.enum(['imu', 'gnss', 'home_assistant', 'file'])), ['imu', 'gnss']),
  imu: z.prefault(ImuSource, {}),
  gnss: z.prefault(GnssSource, {}),
  /** How often sensord rewrites readings.json. */
  sample_interval_seconds: z._default(z.number().check(z.minimum(0.1), z.maximum(600)), 5),
  modem: z.prefault(
    z.strictObject({ mmcli: z._default(z.string(), 'mmcli'), modem_index: z._default(z.int(), 0) }),
    {},
  ),
  wifi: z.prefault(z.strictObject({ interface: z._default(z.string(), 'wlan0') }), {}),
  /** NetworkManager's CLI, for the download gate's metered / hotspot facts (issue #17). */
  network: z.prefault(z.strictObject({ nmcli: z._default(z.string(), 'nmcli') }), {}),
  /** dbus-send, for the size probe's device token from the client (io.mender.Authentication1, issue #17). */
  dbus: z.prefault(z.strictObject({ dbus_send: z._default(z.string(), 'dbus-send') }), {}),
  /** Link probes (TCP connect / HTTPS HEAD) to the Mender server; empty = derive from mender.server_url. */
  probe: z.prefault(
    z.strictObject({
      url: z.optional(HttpUrl),
      count: z._default(z.int().check(z.minimum(1), z.maximum(20)), 5),
      timeout_ms: z._default(z.int().check(z.minimum(100), z.maximum(10_000)), 2000),
    }),
    {},
  ),
  power_supply: z.prefault(
    z.strictObject({ battery: z._default(z.string(), 'BAT0'), mains: z._default(z.string(), 'AC') }),
    {},
  ),
  home_assistant: z._default(z.nullable(HomeAssistant), null),
});

export const DeviceConfig = z.strictObject({
  /** Van id; when absent it is read from /etc/vancore/van-id. */
  van_id: z.optional(VanId),
  state_dir: z._default(z.string().check(z.minLength(1)), DEFAULT_STATE_DIR),
  /** The van's local time zone for maintenance windows. */
  timezone: z._default(TimeZone, 'local'),
  download: z.prefault(DownloadPolicy, {}),
  /** How long ArtifactInstall_Enter may keep answering 21 before giving up (exit 1). */
  install_wait_budget_seconds: z._default(Seconds(0, 86_400), 1800),
  /** The install gate's energy budget (off until `energy.capacity_wh` is set). */
  energy: z.prefault(EnergyBudget, {}),
  staleness: z.prefault(Staleness, {}),
  /** The post-commit soak (issue #20 item 2, docs/agent-hooks.md "Post-commit soak"). */
  soak: z.prefault(
    z.strictObject({
      /** How long after a commit the van keeps watching its health; 0 = off. */
      hours: z._default(z.number().check(z.minimum(0), z.maximum(24 * 14)), 24),
      /** Container restarts since the commit (all containers) that count as a regression. */
      max_container_restarts: z._default(z.int().check(z.minimum(1), z.maximum(1000)), 3),
      /** Health checks failing this long without a passing round between. */
      health_failing_minutes: z._default(z.number().check(z.minimum(1), z.maximum(24 * 60)), 30),
      /** No contact with the Mender server for this long. */
      cloud_lost_hours: z._default(z.number().check(z.minimum(0.1), z.maximum(24 * 14)), 6),
    }),
    {},
  ),
  validation: z.prefault(
    z.strictObject({
      health_checks: z._default(z.array(HealthCheck), []),
      /** Cloud reachability target; default: the Mender server from mender.server_url. */
      cloud_url: z.optional(HttpUrl),
      check_interval_seconds: z._default(Seconds(1, 600), 10),
    }),
    {},
  ),
  sensors: z.prefault(Sensors, {}),
  mender: z.prefault(
    z.strictObject({
      server_url: z.optional(HttpUrl),
      /** How sensord asks the client to check now: SIGUSR1 to the daemon, or its own `mender check-update` / `mender-update check-update` (falling back to the signal without systemd). */
      check_update: z._default(z.enum(['signal', 'command', 'off']), 'signal'),
    }),
    {},
  ),
  log_level: z._default(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
  /** The Supervisor the vancore-ha module updates add-ons through (issue #21). */
  ha_supervisor: z.prefault(SupervisorAccess, {}),
});
export type DeviceConfig = z.infer<typeof DeviceConfig>;
export type DeviceConfigInput = z.input<typeof DeviceConfig>;
