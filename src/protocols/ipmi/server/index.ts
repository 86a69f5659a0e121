// anvil/ipmi BMC emulator: re-exports only.
export * from './server.ts';
export * from './bmc.ts';
export * from './bmc-options.ts';
export * from './handler.ts';
export * from './memory-handler.ts';
export type { DeviceIdentity } from './context.ts';
