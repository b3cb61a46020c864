/** The simulated Windows endpoint agent: one import for `dev/`, the CLI and tests. */
export { runAgent, runSimulatedAgent, type AgentLog, type AgentOptions, type SimulatedAgentOptions } from './agent-runner';
export { ALL_OS, CATALOG, catalogFor, DeviceOs, findUpdate, simulatedFileContent, type CatalogUpdate } from './catalog';
export { startSimulatedFleet, type FleetAgent, type FleetMember, type SimulatedFleet, type SimulatedFleetOptions } from './fleet';
export { GatewayClient, GatewayError, isTransient, type EnrollResponse, type GatewayClientOptions } from './gateway-client';
export {
  ExitCode,
  SimulatedWindowsDevice,
  type DeviceEvent,
  type HandleOptions,
  type OfflineSpell,
  type SimulatedDeviceOptions,
} from './simulated-device';
