// The virtual inventory publishes two things that the core contract gains with issue #13 item 3
// (helper h13dev): the `vancore.client` key and the gate phase `Sync_Leave` (the C++ client's "not now"
// state). Until that change is merged, the bridge's parser drops them; these tests tolerate exactly those
// two drops, and only while core does not know them (once it does, every drop fails the tests again).
import { GatePhases } from '../../../core/schemas/common.js';
import { InventoryKeySchemas, type DroppedAttribute } from '../../../core/schemas/inventory.js';

export function contractDrops(dropped: readonly DroppedAttribute[]): DroppedAttribute[] {
  const knowsClient = 'vancore.client' in InventoryKeySchemas;
  const knowsSyncLeave = (GatePhases as readonly string[]).includes('Sync_Leave');
  return dropped.filter(
    (d) => !((d.name === 'vancore.client' && !knowsClient) || (d.name === 'vancore.gate.phase' && !knowsSyncLeave)),
  );
}
