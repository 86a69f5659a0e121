// FRU inventory: reading the device (IPMI v2.0 §34) and decoding its common header,
// chassis, board and product areas (Platform Management FRU Information Storage Definition v1.0 §8–11).
import { NetFn, StorageCmd } from '../constants.ts';
import { at, need, request, u16le, IpmiPayloadError } from './request.ts';
import type { CommandRequest } from './request.ts';
import { decodeTypeLength, END_OF_FIELDS } from './type-length.ts';

/** Offsets and lengths in FRU headers count 8-byte units (FRU spec §8). */
const UNIT = 8;
const HEADER_LENGTH = 8;
const FORMAT_VERSION = 0x01;
/** Seconds between the Unix epoch and 1996-01-01 00:00 UTC, the board date's origin (FRU spec §11). */
const FRU_EPOCH_SECONDS = 820454400;
/** Many BMCs refuse reads larger than this in one Read FRU Data; ipmitool uses the same figure. */
export const DEFAULT_FRU_CHUNK = 16;

export function getFruInventoryAreaInfo(fruId = 0): CommandRequest {
  return request('Get FRU Inventory Area Info', NetFn.STORAGE, StorageCmd.GET_FRU_INVENTORY_AREA_INFO, [fruId]);
}

export function decodeFruInventoryAreaInfo(data: Uint8Array): { size: number; byWords: boolean } {
  need(data, 3, 'Get FRU Inventory Area Info');
  return { size: u16le(data, 0), byWords: (at(data, 2) & 0x01) !== 0 };
}

export function readFruData(fruId: number, offset: number, count: number): CommandRequest {
  return request('Read FRU Data', NetFn.STORAGE, StorageCmd.READ_FRU_DATA, [fruId, offset & 0xff, offset >> 8, count]);
}

export function decodeReadFruData(data: Uint8Array): Uint8Array {
  need(data, 1, 'Read FRU Data');
  const count = at(data, 0);
  if (data.length < 1 + count) throw new IpmiPayloadError(`Read FRU Data: says ${count} bytes, carries ${data.length - 1}`);
  return data.slice(1, 1 + count);
}

/** SMBIOS chassis types, FRU spec §10 referring to SMBIOS Table 16 (ipmitool's list). */
const CHASSIS_TYPES = [
  'Unspecified',
  'Other',
  'Unknown',
  'Desktop',
  'Low Profile Desktop',
  'Pizza Box',
  'Mini Tower',
  'Tower',
  'Portable',
  'LapTop',
  'Notebook',
  'Hand Held',
  'Docking Station',
  'All in One',
  'Sub Notebook',
  'Space-saving',
  'Lunch Box',
  'Main Server Chassis',
  'Expansion Chassis',
  'SubChassis',
  'Bus Expansion Chassis',
  'Peripheral Chassis',
  'RAID Chassis',
  'Rack Mount Chassis',
  'Sealed-case PC',
  'Multi-system Chassis',
  'CompactPCI',
  'AdvancedTCA',
  'Blade',
  'Blade Enclosure',
];

export interface FruInventory {
  readonly chassis?: { readonly type: string; readonly partNumber: string; readonly serial: string; readonly extra: readonly string[] };
  readonly board?: {
    readonly mfgDate: Date;
    readonly manufacturer: string;
    readonly product: string;
    readonly serial: string;
    readonly partNumber: string;
    readonly fruFileId: string;
    readonly extra: readonly string[];
  };
  readonly product?: {
    readonly manufacturer: string;
    readonly name: string;
    readonly partNumber: string;
    readonly version: string;
    readonly serial: string;
    readonly assetTag: string;
    readonly fruFileId: string;
    readonly extra: readonly string[];
  };
}

function checksumOk(bytes: Uint8Array): boolean {
  return bytes.reduce((sum, b) => (sum + b) & 0xff, 0) === 0;
}

/** Reads type/length fields from `start` until 0xC1 or the end of the area. */
function fields(area: Uint8Array, start: number): string[] {
  const out: string[] = [];
  let offset = start;
  while (offset < area.length && at(area, offset) !== END_OF_FIELDS) {
    const field = decodeTypeLength(area, offset);
    out.push(field.text);
    offset += field.size;
  }
  return out;
}

function area(data: Uint8Array, offsetUnits: number, what: string): Uint8Array | undefined {
  if (offsetUnits === 0) return undefined;
  const start = offsetUnits * UNIT;
  need(data, start + 2, `FRU ${what} area`);
  const length = at(data, start + 1) * UNIT;
  if (at(data, start) !== FORMAT_VERSION) throw new IpmiPayloadError(`FRU ${what} area: format version ${at(data, start)}, expected 1`);
  need(data, start + length, `FRU ${what} area`);
  const bytes = data.subarray(start, start + length);
  if (!checksumOk(bytes)) throw new IpmiPayloadError(`FRU ${what} area: bad checksum`);
  return bytes;
}

/** Decodes a whole FRU image (as read from offset 0). */
export function decodeFru(data: Uint8Array): FruInventory {
  need(data, HEADER_LENGTH, 'FRU common header');
  const header = data.subarray(0, HEADER_LENGTH);
  if ((at(header, 0) & 0x0f) !== FORMAT_VERSION) throw new IpmiPayloadError(`FRU common header: format version ${at(header, 0)}, expected 1`);
  if (!checksumOk(header)) throw new IpmiPayloadError('FRU common header: bad checksum');
  const result: { -readonly [K in keyof FruInventory]: FruInventory[K] } = {};
  const chassis = area(data, at(header, 2), 'chassis');
  if (chassis) {
    const [partNumber = '', serial = '', ...extra] = fields(chassis, 3);
    result.chassis = { type: CHASSIS_TYPES[at(chassis, 2)] ?? `type 0x${at(chassis, 2).toString(16)}`, partNumber, serial, extra };
  }
  const board = area(data, at(header, 3), 'board');
  if (board) {
    const minutes = at(board, 3) | (at(board, 4) << 8) | (at(board, 5) << 16);
    const [manufacturer = '', product = '', serial = '', partNumber = '', fruFileId = '', ...extra] = fields(board, 6);
    result.board = { mfgDate: new Date((FRU_EPOCH_SECONDS + minutes * 60) * 1000), manufacturer, product, serial, partNumber, fruFileId, extra };
  }
  const product = area(data, at(header, 4), 'product');
  if (product) {
    const [manufacturer = '', name = '', partNumber = '', version = '', serial = '', assetTag = '', fruFileId = '', ...extra] = fields(product, 3);
    result.product = { manufacturer, name, partNumber, version, serial, assetTag, fruFileId, extra };
  }
  return result;
}
