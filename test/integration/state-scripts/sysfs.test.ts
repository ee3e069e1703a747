// IIO and power_supply adapters on sysfs trees in temp dirs, shaped like the kernel's
// (Documentation/ABI/testing/sysfs-bus-iio, sysfs-class-power).
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IioImu, STANDARD_GRAVITY } from '../../../state-scripts/sense/iio.js';
import { readPowerSupply } from '../../../state-scripts/sense/power.js';
import { iioDevice, tempDir, writeTree } from './helpers.js';

const DEV = 'sys/bus/iio/devices/iio:device0';

describe('IIO accelerometer in sysfs', () => {
  it('reads |a| in g from raw × shared scale, re-reading the same open files', async () => {
    const root = await tempDir();
    await writeTree(root, iioDevice());
    const imu = IioImu.open(join(root, DEV));
    try {
      expect(imu.hasGyro).toBe(false);
      expect(imu.read().accel_g).toBeCloseTo((1024 * 0.009576) / STANDARD_GRAVITY, 6);
      // the driver updates the value in place (same inode): the next read sees it
      await writeFile(join(root, DEV, 'in_accel_x_raw'), '300\n');
      expect(imu.read().accel_g).toBeCloseTo((Math.hypot(300, 1024) * 0.009576) / STANDARD_GRAVITY, 6);
    } finally {
      imu.close();
    }
  });

  it('uses per-axis scale and offset, and the gyroscope when present', async () => {
    const root = await tempDir();
    await writeTree(root, {
      [`${DEV}/in_accel_x_raw`]: '10\n',
      [`${DEV}/in_accel_y_raw`]: '-10\n',
      [`${DEV}/in_accel_z_raw`]: '4086\n',
      [`${DEV}/in_accel_x_scale`]: '0.0024\n',
      [`${DEV}/in_accel_y_scale`]: '0.0024\n',
      [`${DEV}/in_accel_z_scale`]: '0.0024\n',
      [`${DEV}/in_accel_offset`]: '-10\n',
      [`${DEV}/in_anglvel_x_raw`]: '0\n',
      [`${DEV}/in_anglvel_y_raw`]: '-250\n',
      [`${DEV}/in_anglvel_z_raw`]: '3\n',
      [`${DEV}/in_anglvel_scale`]: '0.001064724\n',
    });
    const imu = IioImu.open(join(root, DEV));
    try {
      const s = imu.read();
      expect(s.accel_g).toBeCloseTo((Math.hypot(0, -20, 4076) * 0.0024) / STANDARD_GRAVITY, 6);
      expect(s.gyro_rad_s).toBeCloseTo(250 * 0.001064724, 6);
    } finally {
      imu.close();
    }
  });

  it('refuses a device without a complete accelerometer, and a vanished file fails the read', async () => {
    const root = await tempDir();
    await writeTree(root, { [`${DEV}/in_accel_x_raw`]: '0\n', [`${DEV}/in_accel_scale`]: '0.01\n' });
    expect(() => IioImu.open(join(root, DEV))).toThrow(/no accelerometer at .*iio:device0/);
    expect(() => IioImu.open(join(root, 'sys/bus/iio/devices/iio:device9'))).toThrow(/no accelerometer/);
    await writeTree(root, iioDevice());
    const imu = IioImu.open(join(root, DEV));
    await writeFile(join(root, DEV, 'in_accel_z_raw'), 'garbage\n');
    expect(() => imu.read()).toThrow(/unreadable raw value/);
    imu.close();
  });
});

describe('power_supply in sysfs', () => {
  const PS = 'sys/class/power_supply';

  it('reads the configured battery and mains', async () => {
    const root = await tempDir();
    await writeTree(root, {
      [`${PS}/BAT0/type`]: 'Battery\n',
      [`${PS}/BAT0/capacity`]: '64\n',
      [`${PS}/BAT0/status`]: 'Discharging\n',
      [`${PS}/AC/type`]: 'Mains\n',
      [`${PS}/AC/online`]: '1\n',
    });
    expect(readPowerSupply(join(root, PS), { battery: 'BAT0', mains: 'AC' })).toEqual({
      battery_soc_pct: 64,
      shore_power: true,
      problems: [],
    });
  });

  it('finds supplies by type when the configured names are absent', async () => {
    const root = await tempDir();
    await writeTree(root, {
      [`${PS}/hidpp_battery_0/type`]: 'Battery\n',
      [`${PS}/hidpp_battery_0/scope`]: 'Device\n',
      [`${PS}/hidpp_battery_0/capacity`]: '90\n',
      [`${PS}/ADP1/type`]: 'Mains\n',
      [`${PS}/ADP1/online`]: '0\n',
    });
    expect(readPowerSupply(join(root, PS), { battery: 'BAT0', mains: 'AC' })).toMatchObject({
      battery_soc_pct: 90,
      shore_power: false,
    });
  });

  it('is unknown, never a crash, without supplies or with garbage', async () => {
    const root = await tempDir();
    expect(readPowerSupply(join(root, PS), { battery: 'BAT0', mains: 'AC' })).toEqual({
      battery_soc_pct: null,
      shore_power: null,
      problems: [`no battery in ${join(root, PS)}`, `no mains supply in ${join(root, PS)}`],
    });
    await writeTree(root, { [`${PS}/BAT0/capacity`]: '250\n', [`${PS}/AC/online`]: 'maybe\n' });
    expect(readPowerSupply(join(root, PS), { battery: 'BAT0', mains: 'AC' })).toMatchObject({
      battery_soc_pct: null,
      shore_power: null,
      problems: ['BAT0/capacity unreadable', 'AC/online unreadable'],
    });
    await rm(root, { recursive: true });
  });
});
