// Linux IIO accelerometer (and gyroscope when present) in sysfs (Documentation/ABI/testing/sysfs-bus-iio):
// value = (in_<type>_<axis>_raw + offset) × scale, in m/s² for in_accel and rad/s for in_anglvel;
// scale and offset are shared (`in_accel_scale`) or per axis (`in_accel_x_scale`), offset optional.
// The raw files are kept open and re-read at offset 0 (one pread each per sample: cheap at 10 Hz).
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';

export const STANDARD_GRAVITY = 9.80665;
const AXES = ['x', 'y', 'z'] as const;

export interface ImuSample {
  /** |a| in g (1 at rest, whatever the mounting). */
  accel_g: number;
  /** Largest angular rate over the axes, rad/s; null without a gyroscope. */
  gyro_rad_s: number | null;
}

interface Channel {
  fd: number;
  scale: number;
  offset: number;
}

function readNumber(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

function openChannels(dir: string, type: 'accel' | 'anglvel'): Channel[] | null {
  const shared = {
    scale: readNumber(join(dir, `in_${type}_scale`)),
    offset: readNumber(join(dir, `in_${type}_offset`)),
  };
  const channels: Channel[] = [];
  for (const axis of AXES) {
    const scale = readNumber(join(dir, `in_${type}_${axis}_scale`)) ?? shared.scale;
    if (scale === undefined) break;
    let fd: number;
    try {
      fd = openSync(join(dir, `in_${type}_${axis}_raw`), 'r');
    } catch {
      break;
    }
    const offset = readNumber(join(dir, `in_${type}_${axis}_offset`)) ?? shared.offset ?? 0;
    channels.push({ fd, scale, offset });
  }
  if (channels.length === AXES.length) return channels;
  for (const c of channels) closeSync(c.fd);
  return null;
}

export class IioImu {
  readonly dir: string;
  readonly #accel: Channel[];
  readonly #gyro: Channel[] | null;
  readonly #buf = Buffer.alloc(32);

  private constructor(dir: string, accel: Channel[], gyro: Channel[] | null) {
    this.dir = dir;
    this.#accel = accel;
    this.#gyro = gyro;
  }

  /** Throws an Error with a short reason when the device has no usable accelerometer. */
  static open(dir: string): IioImu {
    const accel = openChannels(dir, 'accel');
    if (!accel) throw new Error(`no accelerometer at ${dir} (in_accel_{x,y,z}_raw and a scale)`);
    return new IioImu(dir, accel, openChannels(dir, 'anglvel'));
  }

  get hasGyro(): boolean {
    return this.#gyro !== null;
  }

  #value(c: Channel): number {
    const n = readSync(c.fd, this.#buf, 0, this.#buf.length, 0);
    const raw = Number(this.#buf.toString('latin1', 0, n).trim());
    if (!Number.isFinite(raw)) throw new Error('unreadable raw value');
    return (raw + c.offset) * c.scale;
  }

  read(): ImuSample {
    const [x, y, z] = this.#accel.map((c) => this.#value(c)) as [number, number, number];
    const accel_g = Math.hypot(x, y, z) / STANDARD_GRAVITY;
    const gyro_rad_s = this.#gyro ? Math.max(...this.#gyro.map((c) => Math.abs(this.#value(c)))) : null;
    return { accel_g, gyro_rad_s };
  }

  close(): void {
    for (const c of [...this.#accel, ...(this.#gyro ?? [])]) {
      try {
        closeSync(c.fd);
      } catch {
        // already closed
      }
    }
  }
}

/** Pure: one sample → movement? (|a| off 1 g by more than the threshold, or turning). */
export function imuMoving(s: ImuSample, o: { movement_threshold_g: number; gyro_threshold_rad_s: number }): boolean {
  return (
    Math.abs(s.accel_g - 1) > o.movement_threshold_g || (s.gyro_rad_s !== null && s.gyro_rad_s > o.gyro_threshold_rad_s)
  );
}
