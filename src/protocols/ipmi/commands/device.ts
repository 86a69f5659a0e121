// BMC device commands: Get Device ID, GUIDs and BMC reset (IPMI v2.0 §20, §22.14).
import { AppCmd, NetFn } from '../constants.ts';
import { at, need, request, u16le, u24le, IpmiPayloadError } from './request.ts';
import type { CommandRequest } from './request.ts';

export interface DeviceId {
  readonly deviceId: number;
  readonly deviceRevision: number;
  readonly providesSdrs: boolean;
  /** False while a firmware update or self-initialisation is in progress (byte 3 bit 7). */
  readonly available: boolean;
  readonly firmwareMajor: number;
  /** BCD-decoded minor firmware revision (0x08 → 8). */
  readonly firmwareMinor: number;
  /** '1.5' or '2.0', from the BCD version byte (0x51, 0x02). */
  readonly ipmiVersion: string;
  /** Additional device support bits, in ipmitool's words. */
  readonly support: readonly string[];
  /** IANA private enterprise number (20 bits). */
  readonly manufacturerId: number;
  readonly productId: number;
  readonly auxFirmware?: Uint8Array;
}

/** §20.1 Table 20-2 byte 6, bit 0 upwards. */
const SUPPORT = [
  'Sensor Device',
  'SDR Repository Device',
  'SEL Device',
  'FRU Inventory Device',
  'IPMB Event Receiver',
  'IPMB Event Generator',
  'Bridge',
  'Chassis Device',
] as const;

const SHORT_LENGTH = 11;
const LONG_LENGTH = 15;
/** pyghmi 1.5.34's fakebmc packs manufacturer and product as 4 bytes each (ipmi.md §1.4 defect 1). */
const PYGHMI_LENGTH = 14;

export function getDeviceId(): CommandRequest {
  return request('Get Device ID', NetFn.APP, AppCmd.GET_DEVICE_ID);
}

function bcd(byte: number): number {
  return (byte >> 4) * 10 + (byte & 0x0f);
}

export function decodeDeviceId(data: Uint8Array): DeviceId {
  need(data, SHORT_LENGTH, 'Get Device ID');
  if (data.length !== SHORT_LENGTH && data.length !== LONG_LENGTH && data.length !== PYGHMI_LENGTH) {
    throw new IpmiPayloadError(`Get Device ID: ${data.length} data bytes, expected 11 or 15`);
  }
  const version = at(data, 4);
  const supportBits = at(data, 5);
  const base = {
    deviceId: at(data, 0),
    deviceRevision: at(data, 1) & 0x0f,
    providesSdrs: (at(data, 1) & 0x80) !== 0,
    available: (at(data, 2) & 0x80) === 0,
    firmwareMajor: at(data, 2) & 0x7f,
    firmwareMinor: bcd(at(data, 3)),
    ipmiVersion: `${version & 0x0f}.${version >> 4}`,
    support: SUPPORT.filter((_, i) => (supportBits & (1 << i)) !== 0),
  };
  if (data.length === PYGHMI_LENGTH) {
    return { ...base, manufacturerId: u24le(data, 6) & 0xfffff, productId: u16le(data, 10) };
  }
  return {
    ...base,
    manufacturerId: u24le(data, 6) & 0xfffff,
    productId: u16le(data, 9),
    ...(data.length === LONG_LENGTH ? { auxFirmware: data.slice(11, 15) } : {}),
  };
}

/** A few IANA enterprise numbers BMCs commonly report, for display (ipmitool prints the same names). */
export const MANUFACTURERS: Readonly<Record<number, string>> = {
  0: 'Unknown',
  2: 'IBM',
  11: 'Hewlett-Packard',
  343: 'Intel Corporation',
  674: 'Dell Inc',
  4753: 'MontaVista Software, Inc.',
  10876: 'Super Micro Computer Inc.',
  19046: 'Lenovo',
  20301: 'IBM',
  7154: 'IPMI forum',
  42385: 'Fujitsu',
  57127: 'The OpenBMC Project',
};

/** Get System GUID (§22.14) and Get Device GUID (§20.8) both answer 16 bytes. */
export function getSystemGuid(): CommandRequest {
  return request('Get System GUID', NetFn.APP, AppCmd.GET_SYSTEM_GUID);
}

export function getDeviceGuid(): CommandRequest {
  return request('Get Device GUID', NetFn.APP, AppCmd.GET_DEVICE_GUID);
}

const GUID_LENGTH = 16;

/**
 * The GUID as text. IPMI sends it least-significant byte first (SMBIOS/RFC 4122
 * fields reversed as a whole, Appendix A), so the text is the bytes read backwards.
 */
export function decodeGuid(data: Uint8Array): string {
  need(data, GUID_LENGTH, 'Get GUID');
  const h = Array.from(data.subarray(0, GUID_LENGTH))
    .reverse()
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export type ResetKind = 'warm' | 'cold';

/** Never idempotent: a reset BMC drops the session, and a resend would reset it again. */
export function bmcReset(kind: ResetKind): CommandRequest {
  return kind === 'cold' ? request('Cold Reset', NetFn.APP, AppCmd.COLD_RESET, [], false) : request('Warm Reset', NetFn.APP, AppCmd.WARM_RESET, [], false);
}
