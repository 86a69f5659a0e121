// anvil's drivers: hardware types composed of power and management interfaces. Re-exports only.
export * from './types.ts';
export * from './errors.ts';
export * from './secrets.ts';
export * from './wait.ts';
export * from './registry.ts';
export { IpmiHardware, DEFAULT_IPMI_PORT } from './ipmi.ts';
export type { IpmiHardwareOptions, IpmiInfo } from './ipmi.ts';
export { AmtHardware } from './amt.ts';
export type { AmtHardwareOptions, AmtInfo } from './amt.ts';
export { FakeHardware, FakeMachine } from './fake.ts';
export { ManualHardware } from './manual.ts';
export { RedfishHardware } from './redfish.ts';
export type { RedfishHardwareOptions, RedfishInfo } from './redfish.ts';
