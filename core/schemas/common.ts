// Small shared building blocks of the contracts (zod/mini: these are on the device's hot path).
import valid from 'semver/functions/valid.js';
import validRange from 'semver/ranges/valid.js';
import * as z from 'zod/mini';

/** VanCore component names: platform, app, ha_addons, config, vpn, … (also an inventory key segment). */
export const ComponentName = z
  .string()
  .check(
    z.regex(/^[a-z][a-z0-9_]{0,31}$/, { error: 'must be a component name: lowercase letters, digits and _ (max 32)' }),
  );
export type ComponentName = z.infer<typeof ComponentName>;

export const SemVer = z
  .string()
  .check(
    z.refine((v) => valid(v) !== null && !v.startsWith('v'), { error: 'must be a semantic version such as 1.4.0' }),
  );

export const SemVerRange = z
  .string()
  .check(
    z.refine((v) => v.trim() !== '' && validRange(v) !== null, { error: 'must be a version range such as >=0.9.0' }),
  );

export const IsoDateTime = z.iso.datetime({ offset: true });

/** A van id: printable, safe in a Mender attribute value, a file name and a URL segment. */
export const VanId = z
  .string()
  .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'must be a van id: letters, digits, . _ - (max 64)' }));

export const Percent = z.number().check(z.minimum(0), z.maximum(100));
export const UnitInterval = z.number().check(z.minimum(0), z.maximum(1));

export const Weekdays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export const Weekday = z.enum(Weekdays);
export type Weekday = z.infer<typeof Weekday>;

export const ClockTime = z
  .string()
  .check(z.regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'must be a time of day HH:MM (24 h)' }));

/** IANA time zone name, or "local" for the van's system zone. */
export const TimeZone = z.string().check(
  z.refine(
    (tz) => {
      if (tz === 'local') return true;
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    },
    { error: 'must be an IANA time zone such as Europe/Berlin, or "local"' },
  ),
);

/**
 * A maintenance window: the days it opens on and a local-time span. `end` before `start` means the
 * window runs past midnight (22:00–04:00), counted from the day it opens on.
 */
export const MaintenanceWindow = z.strictObject({
  days: z._default(z.array(Weekday).check(z.minLength(1)), [...Weekdays]),
  start: ClockTime,
  end: ClockTime,
  timezone: z._default(TimeZone, 'local'),
});
export type MaintenanceWindow = z.infer<typeof MaintenanceWindow>;

// Sync_Leave: the download gate on the C++ client (core/schemas/client.ts NOT_NOW_STATE).
export const GatePhases = ['Download_Enter', 'Sync_Leave', 'ArtifactInstall_Enter', 'ArtifactCommit_Enter'] as const;
export const GatePhase = z.enum(GatePhases);
export type GatePhase = z.infer<typeof GatePhase>;

export const PayloadTypes = ['vancore-compose', 'vancore-config', 'vancore-vpn', 'vancore-ha'] as const;
export const PayloadType = z.enum(PayloadTypes);
export type PayloadType = z.infer<typeof PayloadType>;
