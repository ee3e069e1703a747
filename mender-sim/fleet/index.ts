// The virtual fleet's public entry (docs/virtual-fleet.md): `vancore-ota mender-sim --virtual-devices N`,
// the bridge and demo tests and `npm run bench` start fleets through `startVirtualFleet`.
export {
  startVirtualFleet,
  type FleetStats,
  type TraceEntry,
  type VirtualDeviceInfo,
  type VirtualFleet,
  type VirtualFleetOptions,
} from './fleet.js';
export { assignBehaviours, assignStages, parseScenario, type Behaviour, type ScenarioInput } from './scenario.js';
