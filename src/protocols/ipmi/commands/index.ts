// IPMI command payloads (pure): re-exports only. Exported as the `commands` namespace of anvil/ipmi.
export * from './request.ts';
export * from './chassis.ts';
export * from './device.ts';
export * from './users.ts';
export * from './sdr.ts';
export * from './sensor-names.ts';
export * from './sel.ts';
export * from './fru.ts';
export * from './type-length.ts';
export * from './lan.ts';
export * from './mc.ts';
export * from './channel.ts';
export * from './sol-config.ts';
