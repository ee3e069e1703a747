// <state_dir>/readings.json, kept by sensord and read by the gates (ARCHITECTURE.md "Readings").
// A missing section, or one older than its staleness limit, is unknown; unknown never lets an update through.
import * as z from 'zod/mini';
import { IsoDateTime, Percent, UnitInterval } from './common.js';

export const MotionSources = ['imu', 'gnss', 'home_assistant', 'file'] as const;

export const MotionReading = z.object({
  /** Since when the van has been still (low movement for the configured minutes); null = moving. */
  stationary_since: z.nullable(IsoDateTime),
  source: z.enum(MotionSources),
  at: IsoDateTime,
});
export type MotionReading = z.infer<typeof MotionReading>;

export const SignalReading = z.object({
  /** 0–1 link quality score derived from the metrics below (docs/contracts.md says how). */
  quality: UnitInterval,
  lte: z.optional(
    z.object({
      rsrp_dbm: z.number().check(z.minimum(-160), z.maximum(-20)),
      rsrq_db: z.number().check(z.minimum(-40), z.maximum(10)),
      sinr_db: z.optional(z.number().check(z.minimum(-30), z.maximum(60))),
    }),
  ),
  wifi: z.optional(z.object({ rssi_dbm: z.number().check(z.minimum(-120), z.maximum(0)) })),
  ping: z.optional(
    z.object({
      rtt_ms_p50: z.nullable(z.number().check(z.minimum(0))),
      loss_pct: Percent,
    }),
  ),
  at: IsoDateTime,
});
export type SignalReading = z.infer<typeof SignalReading>;

export const PowerReading = z.object({
  /** State of charge of the house battery; null when no battery sensor answered. */
  battery_soc_pct: z.nullable(Percent),
  /** Shore (mains) power connected; null when unknown. */
  shore_power: z.nullable(z.boolean()),
  /** The hub's live power draw in W, when a sensor gives one (the install gate's energy budget, issue #20). */
  load_w: z.optional(z.number().check(z.minimum(0), z.maximum(10_000))),
  at: IsoDateTime,
});
export type PowerReading = z.infer<typeof PowerReading>;

export const Readings = z.object({
  motion: z.optional(MotionReading),
  signal: z.optional(SignalReading),
  power: z.optional(PowerReading),
});
export type Readings = z.infer<typeof Readings>;
