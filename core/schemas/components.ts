// The VanCore components an artifact may carry, and the payload type each one travels as. This is the
// one list: packaging (`vancore-ota artifact build`) accepts only these names, and the device modules,
// the inventory keys (`vancore.<component>.version`) and the bridge's desired state use the same ones.
// `ComponentName` (common.ts) stays a pattern so that readers of older or newer artifacts keep working.
import * as z from 'zod/mini';
import type { PayloadType } from './common.js';

export const Components = ['platform', 'app', 'ha_addons', 'config', 'vpn'] as const;
export const KnownComponent = z.enum(Components, {
  error: `must be a VanCore component: ${Components.join(', ')}`,
});
export type KnownComponent = z.infer<typeof KnownComponent>;

/**
 * How each component travels. A component has one payload type so that its provide
 * (`vancore.<component>.version`) is always installed by the same update module on the device.
 */
export const PayloadTypeOf: Readonly<Record<KnownComponent, PayloadType>> = {
  platform: 'vancore-compose',
  app: 'vancore-compose',
  // Home Assistant add-ons are updated through the HA Supervisor (agent-hooks/ha, docs/home-assistant.md).
  ha_addons: 'vancore-ha',
  config: 'vancore-config',
  vpn: 'vancore-vpn',
};
