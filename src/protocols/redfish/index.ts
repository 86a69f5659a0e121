// Redfish (DMTF DSP0266): a client with sessions, TLS pinning and task monitors, its codec, and
// an emulated BMC.
export { RedfishClient } from './client.ts';
export type { BootOverride, Read, RedfishClientOptions } from './client.ts';
export { RedfishTransport } from './transport.ts';
export type { Answer, RedfishEndpoint, RequestOptions, TransportOptions } from './transport.ts';
export { followTask } from './task.ts';
export type { TaskOptions, TaskResult } from './task.ts';
export { readInventory, readLogEntries, managerPaths } from './inventory.ts';
export type { Inventory, LogEntry } from './inventory.ts';
export { listVirtualMedia, insertMedia, ejectMedia } from './virtual-media.ts';
export type { InsertOptions, MediaSlot } from './virtual-media.ts';
export { bootSettings, errorBody, errorMessages, parseRetryAfter, powerState, resetAction } from './codec.ts';
export type { BootSettings, Json, Resource } from './codec.ts';
export {
  BOOT_ENABLED,
  BOOT_MODES,
  BOOT_TARGETS,
  DEFAULT_SESSIONS_PATH,
  POWER_STATES,
  REDFISH_DEFAULTS,
  RESET_TYPES,
  SERVICE_ROOT,
} from './constants.ts';
export type { BootEnabled, BootMode, BootTarget, RedfishPowerState, ResetType } from './constants.ts';
export {
  REDFISH_ERROR_CODES,
  RedfishAuthError,
  RedfishError,
  RedfishHttpError,
  RedfishProtocolError,
  RedfishUnsupportedError,
} from './errors.ts';
export type { RedfishErrorCode, RedfishMessage } from './errors.ts';
export { ProtocolError } from '../protocol-error.ts';
export { RedfishEmulator, EMULATOR_DEFAULTS } from './emulator/server.ts';
export type { RedfishEmulatorOptions } from './emulator/server.ts';
export { MemoryRedfishHandler, EMULATED_BOOT_MODES, EMULATED_BOOT_TARGETS, EMULATED_RESET_TYPES } from './emulator/handler.ts';
export type { BootOverrideState, BootRecord, EmulatedPowerState, MediaState, RedfishHandler } from './emulator/handler.ts';
export { generateCertificate } from './emulator/certificate.ts';
export type { GeneratedCertificate } from './emulator/certificate.ts';
