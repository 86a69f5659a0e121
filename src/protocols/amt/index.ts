// Intel AMT: WS-Management and legacy SOAP clients, a protocol-detecting facade, and an emulator.
export { AmtClient } from './amt-client.ts';
export type { AmtClientOptions, AmtInfo, AmtWireProtocol } from './amt-client.ts';
export { WsmanClient } from './wsman-client.ts';
export type { WsmanIdentity } from './wsman-client.ts';
export { SoapClient } from './soap-client.ts';
export type { RemoteControlCapabilities } from './soap-client.ts';
export { DigestTransport } from './transport.ts';
export type { AmtEndpoint, TransportOptions } from './transport.ts';
export {
  AMT_DEFAULTS,
  AMT_DEFAULT_USER,
  AMT_HTTPS_PORT,
  AMT_HTTP_PORT,
  BOOT_DEVICES,
  SOAP_SYSTEM_POWER_STATES,
  WSMAN_BOOT_SOURCES,
  WSMAN_POWER_ACTION,
  powerStateFromCim,
  powerStateFromSoap,
  PT_STATUS_OF_CIM_RETURN,
  ptStatusMessage,
} from './constants.ts';
export type { AmtBootDevice, AmtPowerAction, AmtPowerState } from './constants.ts';
export {
  AMT_ERROR_CODES,
  AmtAuthError,
  AmtConnectError,
  AmtError,
  AmtFailure,
  AmtProtocolError,
  AmtTimeoutError,
  AmtTlsError,
  AmtUnsupportedError,
} from './errors.ts';
export type { AmtAttempts, AmtErrorCode } from './errors.ts';
export { ProtocolError } from '../protocol-error.ts';
export { AmtEmulator, EMULATOR_DEFAULTS } from './emulator/server.ts';
export type { AmtEmulatorOptions, AmtProtocol } from './emulator/server.ts';
export { MemoryAmtHandler, ALL_POWER_ACTIONS, BASIC_POWER_ACTIONS } from './emulator/handler.ts';
export type { AmtHandler, BootRecord, PowerChangeResult } from './emulator/handler.ts';
