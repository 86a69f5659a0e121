// The IPMI client: re-exports only.
export { IpmiClient } from './client.ts';
export type { ClientOptions } from './client.ts';
export { Bmc, DEFAULT_POWER_POLL_MS, DEFAULT_POWER_WAIT_MS } from './bmc.ts';
export type { PowerState, SetPowerOptions, SetPowerResult } from './bmc.ts';
export { Inventory } from './inventory.ts';
export type { SensorValue } from './inventory.ts';
export { Session } from './session.ts';
export type { RawResponse, SessionState, Wire } from './session.ts';
export { Transport, DEFAULT_RECEIVE_BUFFER_BYTES } from './transport.ts';
export type { DatagramSocket, TransportOptions, TransportStats } from './transport.ts';
export * from './options.ts';
export * from './errors.ts';
export { SolConsole, IpmiSolBusyError, deactivateSol, SOL_OWNER_CHECK_MS, SOL_RETRIES, SOL_RETRY_MS } from './sol.ts';
export { ReplayWindow, REPLAY_WINDOW } from './replay-window.ts';
