// LAN configuration parameters (IPMI v2.0 §23.1–23.2, Table 23-4).
import { NetFn, TransportCmd } from '../constants.ts';
import { CURRENT_CHANNEL } from './request.ts';
import { at, hex, need, request, u16le } from './request.ts';
import type { CommandRequest } from './request.ts';

/** Parameter numbers, Table 23-4. */
export const LanParam = {
  setInProgress: 0,
  authTypeSupport: 1,
  authTypeEnables: 2,
  ipAddress: 3,
  ipAddressSource: 4,
  macAddress: 5,
  subnetMask: 6,
  ipv4Header: 7,
  bmcArpControl: 10,
  gratuitousArpInterval: 11,
  communityString: 16,
  defaultGatewayIp: 12,
  defaultGatewayMac: 13,
  backupGatewayIp: 14,
  backupGatewayMac: 15,
  vlanId: 20,
  vlanPriority: 21,
  cipherSuiteSupport: 22,
  cipherSuites: 23,
  cipherSuitePrivileges: 24,
  badPasswordThreshold: 25,
} as const;
export type LanParamName = keyof typeof LanParam;

export function getLanConfig(param: number, channel = CURRENT_CHANNEL, setSelector = 0, blockSelector = 0): CommandRequest {
  return request('Get LAN Configuration Parameters', NetFn.TRANSPORT, TransportCmd.GET_LAN_CONFIG_PARAMETERS, [
    channel & 0x0f,
    param,
    setSelector,
    blockSelector,
  ]);
}

/** Response: parameter revision, then the parameter data. */
export function decodeLanConfig(data: Uint8Array): Uint8Array {
  need(data, 1, 'Get LAN Configuration Parameters');
  return data.slice(1);
}

/** Writes an absolute value: resending is harmless. */
export function setLanConfig(param: number, value: ArrayLike<number>, channel = CURRENT_CHANNEL): CommandRequest {
  return request('Set LAN Configuration Parameters', NetFn.TRANSPORT, TransportCmd.SET_LAN_CONFIG_PARAMETERS, [channel & 0x0f, param, ...Array.from(value)]);
}

export const IP_SOURCES = ['Unspecified', 'Static Address', 'DHCP Address', 'BIOS Assigned Address', 'Other'] as const;
const SET_STATES = ['Set Complete', 'Set In Progress', 'Commit Write', 'Reserved'] as const;
const AUTH_NAMES = [
  [0x01, 'NONE'],
  [0x02, 'MD2'],
  [0x04, 'MD5'],
  [0x10, 'PASSWORD'],
  [0x20, 'OEM'],
] as const;

export function ipv4(data: Uint8Array): string {
  need(data, 4, 'IPv4 address');
  return Array.from(data.subarray(0, 4)).join('.');
}

export function encodeIpv4(text: string): Uint8Array {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new RangeError(`not an IPv4 address: ${text}`);
  return Uint8Array.from(parts);
}

export function mac(data: Uint8Array): string {
  need(data, 6, 'MAC address');
  return hex(data.subarray(0, 6), ':');
}

export function authTypes(byte: number): string[] {
  return AUTH_NAMES.filter(([bit]) => (byte & bit) !== 0).map(([, name]) => name);
}

export function setInProgress(data: Uint8Array): string {
  need(data, 1, 'set in progress');
  return SET_STATES[at(data, 0) & 0x03] ?? 'Reserved';
}

export function ipSource(data: Uint8Array): string {
  need(data, 1, 'IP address source');
  return IP_SOURCES[at(data, 0) & 0x0f] ?? 'Other';
}

/** Param 20: bit 15 enables the 12-bit VLAN ID. */
export function vlanId(data: Uint8Array): number | undefined {
  need(data, 2, 'VLAN ID');
  const v = u16le(data, 0);
  return v & 0x8000 ? v & 0x0fff : undefined;
}

/** Param 23: a reserved byte, then one cipher suite ID per byte. */
export function cipherSuites(data: Uint8Array): number[] {
  return Array.from(data.subarray(1));
}
