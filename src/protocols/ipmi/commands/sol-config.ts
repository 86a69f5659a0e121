// SOL configuration parameters (IPMI v2.0 §26.2–26.3, Table 26-5): what `sol info` reads.
import { NetFn, TransportCmd } from '../constants.ts';
import { at, CURRENT_CHANNEL, need, request, u16le } from './request.ts';
import type { CommandRequest } from './request.ts';

/** Parameter numbers, Table 26-5. */
export const SolParam = {
  setInProgress: 0,
  enable: 1,
  authentication: 2,
  characterInterval: 3,
  retry: 4,
  nonVolatileBitRate: 5,
  volatileBitRate: 6,
  payloadChannel: 7,
  payloadPort: 8,
} as const;
export type SolParamName = keyof typeof SolParam;

export function getSolConfig(param: number, channel = CURRENT_CHANNEL, setSelector = 0, blockSelector = 0): CommandRequest {
  return request('Get SOL Configuration Parameters', NetFn.TRANSPORT, TransportCmd.GET_SOL_CONFIG_PARAMETERS, [
    channel & 0x0f,
    param,
    setSelector,
    blockSelector,
  ]);
}

/** Response: parameter revision, then the parameter data (as for LAN parameters). */
export function decodeSolConfig(data: Uint8Array): Uint8Array {
  need(data, 1, 'Get SOL Configuration Parameters');
  return data.slice(1);
}

/** Writes an absolute value: resending is harmless. */
export function setSolConfig(param: number, value: ArrayLike<number>, channel = CURRENT_CHANNEL): CommandRequest {
  return request('Set SOL Configuration Parameters', NetFn.TRANSPORT, TransportCmd.SET_SOL_CONFIG_PARAMETERS, [channel & 0x0f, param, ...Array.from(value)]);
}

/** Parameter 2: force encryption (bit 7), force authentication (bit 6), privilege (bits 3:0). */
export function decodeSolAuthentication(value: Uint8Array): { forceEncryption: boolean; forceAuthentication: boolean; privilege: number } {
  need(value, 1, 'SOL authentication');
  const b = at(value, 0);
  return { forceEncryption: (b & 0x80) !== 0, forceAuthentication: (b & 0x40) !== 0, privilege: b & 0x0f };
}

/** Parameter 3: character accumulate interval in 5 ms units, then the send threshold in characters. */
export function decodeSolCharacterInterval(value: Uint8Array): { accumulateMs: number; sendThreshold: number } {
  need(value, 2, 'SOL character interval');
  return { accumulateMs: at(value, 0) * 5, sendThreshold: at(value, 1) };
}

/** Parameter 4: retry count (bits 2:0) and retry interval in 10 ms units. */
export function decodeSolRetry(value: Uint8Array): { count: number; intervalMs: number } {
  need(value, 2, 'SOL retry');
  return { count: at(value, 0), intervalMs: at(value, 1) * 10 };
}

/** Parameters 5 and 6, bits 3:0 (§26.3): the serial bit rate in kbps; 0 means "as IPMI over serial". */
export const SOL_BIT_RATES: Readonly<Record<number, string>> = { 0x06: '9.6', 0x07: '19.2', 0x08: '38.4', 0x09: '57.6', 0x0a: '115.2' };

/** Parameter 8: the UDP port, least significant byte first. */
export function decodeSolPayloadPort(value: Uint8Array): number {
  need(value, 2, 'SOL payload port');
  return u16le(value, 0);
}
