// Sensor Data Records and sensor readings (IPMI v2.0 §33 repository commands, §43 record
// formats, §35.14 Get Sensor Reading, §36.3 reading conversion).
import { NetFn, SensorCmd, StorageCmd } from '../constants.ts';
import { at, need, request, u16le, u32le, IpmiPayloadError } from './request.ts';
import type { CommandRequest } from './request.ts';
import { decodeTypeLength } from './type-length.ts';

/** Record types, §43 Table 43-1 (Appendix). */
export const SdrType = { fullSensor: 0x01, compactSensor: 0x02, eventOnly: 0x03, fruLocator: 0x11, mcLocator: 0x12 } as const;

/** The 5-byte header every record starts with (§43.1). */
export const SDR_HEADER_LENGTH = 5;
/** Record ID 0xFFFF in "next record" means the last record was read (§33.12). */
export const LAST_RECORD = 0xffff;
/** Reading a whole record at once: offset 0 with 0xFF bytes means "all of it" (§33.12). */
export const WHOLE_RECORD = 0xff;

export interface SdrRepositoryInfo {
  readonly version: number;
  readonly records: number;
  readonly freeSpace: number;
  readonly lastAdd: number;
  readonly lastErase: number;
}

export function getSdrRepositoryInfo(): CommandRequest {
  return request('Get SDR Repository Info', NetFn.STORAGE, StorageCmd.GET_SDR_REPOSITORY_INFO);
}

export function decodeSdrRepositoryInfo(data: Uint8Array): SdrRepositoryInfo {
  need(data, 13, 'Get SDR Repository Info');
  return { version: at(data, 0), records: u16le(data, 1), freeSpace: u16le(data, 3), lastAdd: u32le(data, 5), lastErase: u32le(data, 9) };
}

export function reserveSdrRepository(): CommandRequest {
  return request('Reserve SDR Repository', NetFn.STORAGE, StorageCmd.RESERVE_SDR_REPOSITORY);
}

export function decodeReservation(data: Uint8Array): number {
  need(data, 2, 'reservation');
  return u16le(data, 0);
}

/** Get SDR (§33.12): partial reads need a reservation; offset 0 without one reads the header. */
export function getSdr(reservation: number, recordId: number, offset: number, count: number): CommandRequest {
  return request('Get SDR', NetFn.STORAGE, StorageCmd.GET_SDR, [reservation & 0xff, reservation >> 8, recordId & 0xff, recordId >> 8, offset, count]);
}

export function decodeGetSdr(data: Uint8Array): { next: number; bytes: Uint8Array } {
  need(data, 2, 'Get SDR');
  return { next: u16le(data, 0), bytes: data.slice(2) };
}

export type AnalogFormat = 'unsigned' | 'ones-complement' | 'twos-complement' | 'none';
const ANALOG_FORMATS: readonly AnalogFormat[] = ['unsigned', 'ones-complement', 'twos-complement', 'none'];

export type Linearization = 'linear' | 'ln' | 'log10' | 'log2' | 'e' | 'exp10' | 'exp2' | '1/x' | 'sqr' | 'cube' | 'sqrt' | 'cube-1' | 'non-linear';
const LINEARIZATIONS: readonly Linearization[] = ['linear', 'ln', 'log10', 'log2', 'e', 'exp10', 'exp2', '1/x', 'sqr', 'cube', 'sqrt', 'cube-1'];

/** The six thresholds, in the order of the §35.9 response and the SDR fields 37..42 reversed. */
export type ThresholdName = 'lnc' | 'lcr' | 'lnr' | 'unc' | 'ucr' | 'unr';
export const THRESHOLD_ORDER: readonly ThresholdName[] = ['lnc', 'lcr', 'lnr', 'unc', 'ucr', 'unr'];

export interface Conversion {
  readonly format: AnalogFormat;
  readonly linearization: Linearization;
  readonly m: number;
  readonly b: number;
  readonly bExp: number;
  readonly rExp: number;
}

interface SensorCommon {
  readonly recordId: number;
  readonly ownerId: number;
  readonly ownerLun: number;
  readonly number: number;
  readonly entityId: number;
  readonly entityInstance: number;
  readonly sensorType: number;
  readonly eventType: number;
  readonly unit: number;
  readonly unitModifier: number;
  /** Bit 0 of units 1 set means the value is a percentage (§43.1 byte 21). */
  readonly percentage: boolean;
  readonly name: string;
  /** Raw positive- and negative-going threshold hysteresis (§43.1 bytes 43–44, §43.2 bytes 26–27); 0 or 0xFF: unspecified. */
  readonly hysteresis: { readonly positive: number; readonly negative: number };
}

export interface FullSensorRecord extends SensorCommon {
  readonly type: 'full';
  readonly conversion: Conversion;
  /** Raw tolerance, in ±half raw counts (§43.1 byte 26 bits 5:0). */
  readonly tolerance: number;
  /** Raw threshold bytes present in the record, as readable per its threshold mask. */
  readonly thresholds: Partial<Record<ThresholdName, number>>;
}

export interface CompactSensorRecord extends SensorCommon {
  readonly type: 'compact';
}
export interface FruLocatorRecord {
  readonly type: 'fru-locator';
  readonly recordId: number;
  readonly deviceAddress: number;
  readonly fruId: number;
  readonly logical: boolean;
  readonly entityId: number;
  readonly name: string;
}
export interface McLocatorRecord {
  readonly type: 'mc-locator';
  readonly recordId: number;
  readonly slaveAddress: number;
  readonly channel: number;
  readonly entityId: number;
  readonly name: string;
}
export interface OtherRecord {
  readonly type: 'other';
  readonly recordId: number;
  readonly recordType: number;
}
export type SdrRecord = FullSensorRecord | CompactSensorRecord | FruLocatorRecord | McLocatorRecord | OtherRecord;

/** A signed n-bit two's-complement field. */
function signed(value: number, bits: number): number {
  const sign = 1 << (bits - 1);
  return value & sign ? value - (1 << bits) : value;
}

function idString(record: Uint8Array, at: number): string {
  if (record.length <= at) return '';
  return decodeTypeLength(record, at).text;
}

/** Decodes one whole record (header included). */
export function decodeSdrRecord(record: Uint8Array): SdrRecord {
  need(record, SDR_HEADER_LENGTH, 'SDR record');
  const recordId = u16le(record, 0);
  const recordType = at(record, 3);
  const length = at(record, 4);
  if (record.length < SDR_HEADER_LENGTH + length)
    throw new IpmiPayloadError(`SDR record ${recordId}: ${record.length} bytes, header says ${SDR_HEADER_LENGTH + length}`);
  // Offsets below are the spec's 1-based byte numbers minus one.
  switch (recordType) {
    case SdrType.fullSensor:
    case SdrType.compactSensor: {
      const full = recordType === SdrType.fullSensor;
      need(record, full ? 48 : 32, 'sensor record');
      const units1 = at(record, 20);
      const common: SensorCommon = {
        recordId,
        ownerId: at(record, 5),
        ownerLun: at(record, 6) & 0x03,
        number: at(record, 7),
        entityId: at(record, 8),
        entityInstance: at(record, 9) & 0x7f,
        sensorType: at(record, 12),
        eventType: at(record, 13),
        unit: at(record, 21),
        unitModifier: at(record, 22),
        percentage: (units1 & 0x01) !== 0,
        name: idString(record, full ? 47 : 31),
        hysteresis: full ? { positive: at(record, 42), negative: at(record, 43) } : { positive: at(record, 25), negative: at(record, 26) },
      };
      if (!full) return { ...common, type: 'compact' };
      const conversion: Conversion = {
        format: ANALOG_FORMATS[(units1 >> 6) & 0x03] ?? 'none',
        linearization: LINEARIZATIONS[at(record, 23) & 0x7f] ?? 'non-linear',
        m: signed(at(record, 24) | ((at(record, 25) & 0xc0) << 2), 10),
        b: signed(at(record, 26) | ((at(record, 27) & 0xc0) << 2), 10),
        rExp: signed(at(record, 29) >> 4, 4),
        bExp: signed(at(record, 29) & 0x0f, 4),
      };
      // Readable threshold mask: bits 13:8 of the "settable/readable" word (byte 19: readable).
      const readable = at(record, 18) & 0x3f;
      const thresholds: Partial<Record<ThresholdName, number>> = {};
      const fieldOf: Record<ThresholdName, number> = { unr: 36, ucr: 37, unc: 38, lnr: 39, lcr: 40, lnc: 41 };
      THRESHOLD_ORDER.forEach((name, bit) => {
        if (readable & (1 << bit)) thresholds[name] = at(record, fieldOf[name]);
      });
      return { ...common, type: 'full', conversion, tolerance: at(record, 25) & 0x3f, thresholds };
    }
    case SdrType.fruLocator:
      need(record, 16, 'FRU device locator');
      return {
        type: 'fru-locator',
        recordId,
        deviceAddress: at(record, 5),
        fruId: at(record, 6),
        logical: (at(record, 7) & 0x80) !== 0,
        entityId: at(record, 12),
        name: idString(record, 15),
      };
    case SdrType.mcLocator:
      need(record, 16, 'MC device locator');
      return { type: 'mc-locator', recordId, slaveAddress: at(record, 5), channel: at(record, 6) & 0x0f, entityId: at(record, 12), name: idString(record, 15) };
    default:
      return { type: 'other', recordId, recordType };
  }
}

const LINEARIZE: Record<Linearization, (x: number) => number> = {
  linear: (x) => x,
  ln: Math.log,
  log10: Math.log10,
  log2: Math.log2,
  e: Math.exp,
  exp10: (x) => 10 ** x,
  exp2: (x) => 2 ** x,
  '1/x': (x) => 1 / x,
  sqr: (x) => x * x,
  cube: (x) => x * x * x,
  sqrt: Math.sqrt,
  'cube-1': Math.cbrt,
  'non-linear': (x) => x,
};

/** §36.3: y = L[(M·x + B·10^Bexp) · 10^Rexp], x interpreted per the analog data format. */
export function convertReading(raw: number, c: Conversion): number | undefined {
  let x: number;
  switch (c.format) {
    case 'unsigned':
      x = raw & 0xff;
      break;
    case 'ones-complement':
      x = raw & 0x80 ? -(~raw & 0xff) : raw & 0xff;
      break;
    case 'twos-complement':
      x = signed(raw & 0xff, 8);
      break;
    case 'none':
      return undefined;
  }
  const value = LINEARIZE[c.linearization]((c.m * x + c.b * 10 ** c.bExp) * 10 ** c.rExp);
  // Round away binary noise such as 0.30000000000000004 without hiding real precision.
  return Number(value.toPrecision(12));
}

export function getSensorReading(sensor: number): CommandRequest {
  return request('Get Sensor Reading', NetFn.SENSOR_EVENT, SensorCmd.GET_SENSOR_READING, [sensor]);
}

export interface SensorReading {
  readonly raw: number;
  readonly eventsEnabled: boolean;
  readonly scanningEnabled: boolean;
  /** Byte 2 bit 5: "reading/state unavailable" (§35.14). */
  readonly unavailable: boolean;
  /** Threshold sensors: which thresholds are crossed; discrete: the asserted state bits (15 bits). */
  readonly states: number;
  readonly crossed: readonly ThresholdName[];
}

export function decodeSensorReading(data: Uint8Array): SensorReading {
  need(data, 2, 'Get Sensor Reading');
  const flags = at(data, 1);
  const states = at(data, 2) | ((at(data, 3) & 0x7f) << 8);
  return {
    raw: at(data, 0),
    eventsEnabled: (flags & 0x80) !== 0,
    scanningEnabled: (flags & 0x40) !== 0,
    unavailable: (flags & 0x20) !== 0 || (flags & 0x40) === 0,
    states,
    crossed: THRESHOLD_ORDER.filter((_, bit) => (at(data, 2) & (1 << bit)) !== 0),
  };
}

/** ipmitool's status column: 'nr', 'cr', 'nc' for the worst threshold crossed, else 'ok'. */
export function thresholdStatus(reading: SensorReading): 'ok' | 'nc' | 'cr' | 'nr' | 'ns' {
  if (reading.unavailable) return 'ns';
  const crossed = new Set(reading.crossed);
  if (crossed.has('unr') || crossed.has('lnr')) return 'nr';
  if (crossed.has('ucr') || crossed.has('lcr')) return 'cr';
  if (crossed.has('unc') || crossed.has('lnc')) return 'nc';
  return 'ok';
}

export function getSensorThresholds(sensor: number): CommandRequest {
  return request('Get Sensor Thresholds', NetFn.SENSOR_EVENT, SensorCmd.GET_SENSOR_THRESHOLDS, [sensor]);
}

/** §35.9: a readable-mask byte then the six raw thresholds (lnc, lcr, lnr, unc, ucr, unr). */
export function decodeSensorThresholds(data: Uint8Array): Partial<Record<ThresholdName, number>> {
  need(data, 7, 'Get Sensor Thresholds');
  const mask = at(data, 0);
  const out: Partial<Record<ThresholdName, number>> = {};
  THRESHOLD_ORDER.forEach((name, bit) => {
    if (mask & (1 << bit)) out[name] = at(data, 1 + bit);
  });
  return out;
}

/**
 * Set Sensor Thresholds (§35.8): a mask of the thresholds to write, then the six raw values in
 * the order of THRESHOLD_ORDER (those outside the mask are ignored). An absolute write.
 */
export function setSensorThresholds(sensor: number, values: Partial<Record<ThresholdName, number>>): CommandRequest {
  let mask = 0;
  const bytes = THRESHOLD_ORDER.map((name, bit) => {
    const v = values[name];
    if (v === undefined) return 0;
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`raw threshold ${name} ${v} is not a byte`);
    mask |= 1 << bit;
    return v;
  });
  return request('Set Sensor Thresholds', NetFn.SENSOR_EVENT, SensorCmd.SET_SENSOR_THRESHOLDS, [sensor, mask, ...bytes]);
}

/**
 * The raw byte for a value (the inverse of §36.3 for linear sensors), rounded as ipmitool's
 * sdr_convert_sensor_value_to_raw: x = (y / 10^Rexp − B·10^Bexp) / M, half up, kept in a byte.
 */
export function valueToRaw(value: number, c: Conversion): number {
  if (c.m === 0) return 0;
  const x = (value / 10 ** c.rExp - c.b * 10 ** c.bExp) / c.m;
  const whole = Math.trunc(x);
  const raw = x - whole >= 0.5 ? Math.ceil(x) : whole;
  return raw & 0xff;
}

/**
 * A tolerance or hysteresis in the sensor's units (ipmitool's sdr_convert_sensor_tolerance and
 * _hysterisis): M·raw·10^Rexp, without B, halved for a tolerance (it counts half steps).
 */
export function convertSpan(raw: number, c: Conversion, half: boolean): number {
  let x: number;
  if (c.format === 'none') return 0;
  if (c.format === 'unsigned') x = raw & 0xff;
  else x = signed((c.format === 'ones-complement' && raw & 0x80 ? raw + 1 : raw) & 0xff, 8);
  const value = c.m * (half ? x / 2 : x) * 10 ** c.rExp;
  return Number(value.toPrecision(12));
}

export function getSensorEventStatus(sensor: number): CommandRequest {
  return request('Get Sensor Event Status', NetFn.SENSOR_EVENT, SensorCmd.GET_SENSOR_EVENT_STATUS, [sensor]);
}

export function getSensorEventEnable(sensor: number): CommandRequest {
  return request('Get Sensor Event Enable', NetFn.SENSOR_EVENT, SensorCmd.GET_SENSOR_EVENT_ENABLE, [sensor]);
}

/**
 * Get Sensor Event Status (§35.13) and Get Sensor Event Enable (§35.11) answer alike: a flags
 * byte, then up to four bytes of assertion (7:0, 14:8) and deassertion bits. The bytes that
 * came are kept as they came: how many there were changes what ipmitool prints.
 */
export interface SensorEventBits {
  readonly eventMessagesDisabled: boolean;
  readonly scanningDisabled: boolean;
  /** §35.13 only: bit 5 "reading/state unavailable". */
  readonly unavailable: boolean;
  readonly bytes: readonly number[];
}

export function decodeSensorEventBits(data: Uint8Array, what: string): SensorEventBits {
  need(data, 1, what);
  const flags = at(data, 0);
  return {
    eventMessagesDisabled: (flags & 0x80) === 0,
    scanningDisabled: (flags & 0x40) === 0,
    unavailable: (flags & 0x20) !== 0,
    bytes: Array.from(data.subarray(1, 5)),
  };
}

/** The 3-byte owner/number triple used to match SEL events to records. */
export function sensorKey(ownerId: number, number: number): number {
  return (ownerId << 8) | number;
}
