// System Event Log: info, reservation, entries, clearing and time (IPMI v2.0 §31),
// and event descriptions in words (§29.7 event data, §42.1–42.2 event/reading types).
import { NetFn, StorageCmd } from '../constants.ts';
import { at, hex, need, request, u16le, u32le } from './request.ts';
import type { CommandRequest } from './request.ts';
import { sensorTypeName } from './sensor-names.ts';

export const SEL_RECORD_LENGTH = 16;
/** Record type 0x02 is a system event; 0xC0–0xDF OEM with timestamp; 0xE0–0xFF OEM without (§32). */
export const SYSTEM_EVENT_RECORD = 0x02;
const OEM_TIMESTAMPED_FIRST = 0xc0;
const OEM_NON_TIMESTAMPED_FIRST = 0xe0;
/** First and last record IDs in Get SEL Entry (§31.5). */
export const FIRST_ENTRY = 0x0000;
export const LAST_ENTRY = 0xffff;
/** Clear SEL magic "CLR" and its actions (§31.9). */
const CLR = [0x43, 0x4c, 0x52];
const CLEAR_INITIATE = 0xaa;
const CLEAR_GET_STATUS = 0x00;

export interface SelInfo {
  readonly version: string;
  readonly entries: number;
  readonly freeSpace: number;
  readonly lastAdd: number;
  readonly lastErase: number;
  readonly overflow: boolean;
  readonly operations: readonly string[];
}

export function getSelInfo(): CommandRequest {
  return request('Get SEL Info', NetFn.STORAGE, StorageCmd.GET_SEL_INFO);
}

export function decodeSelInfo(data: Uint8Array): SelInfo {
  need(data, 14, 'Get SEL Info');
  const ops = at(data, 13);
  const names = ['Get Alloc Info', 'Reserve', 'Partial Add', 'Delete'] as const;
  return {
    version: `${at(data, 0) & 0x0f}.${at(data, 0) >> 4}`,
    entries: u16le(data, 1),
    freeSpace: u16le(data, 3),
    lastAdd: u32le(data, 5),
    lastErase: u32le(data, 9),
    overflow: (ops & 0x80) !== 0,
    operations: names.filter((_, i) => (ops & (1 << i)) !== 0),
  };
}

export function reserveSel(): CommandRequest {
  return request('Reserve SEL', NetFn.STORAGE, StorageCmd.RESERVE_SEL);
}

export function getSelEntry(reservation: number, recordId: number): CommandRequest {
  return request('Get SEL Entry', NetFn.STORAGE, StorageCmd.GET_SEL_ENTRY, [reservation & 0xff, reservation >> 8, recordId & 0xff, recordId >> 8, 0, 0xff]);
}

/** Delete SEL Entry (§31.8): a resend after a lost reply finds the entry gone (0xCB), so it is not idempotent. */
export function deleteSelEntry(reservation: number, recordId: number): CommandRequest {
  return request('Delete SEL Entry', NetFn.STORAGE, StorageCmd.DELETE_SEL_ENTRY, [reservation & 0xff, reservation >> 8, recordId & 0xff, recordId >> 8], false);
}

/** Add SEL Entry (§31.6) is not idempotent: a resend would log the event twice. */
export function addSelEntry(record: Uint8Array): CommandRequest {
  return request('Add SEL Entry', NetFn.STORAGE, StorageCmd.ADD_SEL_ENTRY, record, false);
}

/** Initiating an erase twice erases once: harmless to resend. */
export function clearSel(reservation: number, action: 'initiate' | 'status' = 'initiate'): CommandRequest {
  return request('Clear SEL', NetFn.STORAGE, StorageCmd.CLEAR_SEL, [
    reservation & 0xff,
    reservation >> 8,
    ...CLR,
    action === 'initiate' ? CLEAR_INITIATE : CLEAR_GET_STATUS,
  ]);
}

/** Clear SEL's answer: erasure completed (1) or in progress (0). */
export function decodeClearSel(data: Uint8Array): 'complete' | 'in-progress' {
  need(data, 1, 'Clear SEL');
  return (at(data, 0) & 0x0f) === 1 ? 'complete' : 'in-progress';
}

export function getSelTime(): CommandRequest {
  return request('Get SEL Time', NetFn.STORAGE, StorageCmd.GET_SEL_TIME);
}

export function decodeSelTime(data: Uint8Array): Date {
  need(data, 4, 'Get SEL Time');
  return new Date(u32le(data, 0) * 1000);
}

export function setSelTime(time: Date): CommandRequest {
  const s = Math.floor(time.getTime() / 1000) >>> 0;
  return request('Set SEL Time', NetFn.STORAGE, StorageCmd.SET_SEL_TIME, [s & 0xff, (s >> 8) & 0xff, (s >> 16) & 0xff, s >>> 24]);
}

export interface SelEvent {
  readonly kind: 'event';
  readonly recordId: number;
  readonly timestamp: Date;
  readonly generatorId: number;
  readonly sensorType: number;
  readonly sensorTypeName: string;
  readonly sensorNumber: number;
  readonly eventType: number;
  readonly asserted: boolean;
  readonly data: readonly [number, number, number];
  readonly description: string;
}
export interface SelOemRecord {
  readonly kind: 'oem';
  readonly recordId: number;
  readonly recordType: number;
  readonly timestamp?: Date;
  readonly data: string;
}
export type SelRecord = SelEvent | SelOemRecord;

/** Get SEL Entry response: next record ID, then the 16-byte record. */
export function decodeSelEntry(data: Uint8Array): { next: number; record: SelRecord } {
  need(data, 2 + SEL_RECORD_LENGTH, 'Get SEL Entry');
  return { next: u16le(data, 0), record: decodeSelRecord(data.subarray(2, 2 + SEL_RECORD_LENGTH)) };
}

export function decodeSelRecord(r: Uint8Array): SelRecord {
  need(r, SEL_RECORD_LENGTH, 'SEL record');
  const recordId = u16le(r, 0);
  const recordType = at(r, 2);
  if (recordType === SYSTEM_EVENT_RECORD) {
    const dirType = at(r, 12);
    const eventType = dirType & 0x7f;
    const sensorType = at(r, 10);
    const data = [at(r, 13), at(r, 14), at(r, 15)] as const;
    return {
      kind: 'event',
      recordId,
      timestamp: new Date(u32le(r, 3) * 1000),
      generatorId: u16le(r, 7),
      sensorType,
      sensorTypeName: sensorTypeName(sensorType),
      sensorNumber: at(r, 11),
      eventType,
      asserted: (dirType & 0x80) === 0,
      data,
      description: describeEvent(eventType, sensorType, data[0]),
    };
  }
  if (recordType >= OEM_TIMESTAMPED_FIRST && recordType < OEM_NON_TIMESTAMPED_FIRST) {
    return { kind: 'oem', recordId, recordType, timestamp: new Date(u32le(r, 3) * 1000), data: hex(r.subarray(7)) };
  }
  return { kind: 'oem', recordId, recordType, data: hex(r.subarray(3)) };
}

/** Threshold event offsets, §42.2 Table 42-2 (event/reading type 0x01). */
const THRESHOLD_EVENTS = [
  'Lower Non-critical going low',
  'Lower Non-critical going high',
  'Lower Critical going low',
  'Lower Critical going high',
  'Lower Non-recoverable going low',
  'Lower Non-recoverable going high',
  'Upper Non-critical going low',
  'Upper Non-critical going high',
  'Upper Critical going low',
  'Upper Critical going high',
  'Upper Non-recoverable going low',
  'Upper Non-recoverable going high',
];

/** Generic discrete event types 0x02–0x0C, §42.2 Table 42-2. */
const GENERIC_EVENTS: Readonly<Record<number, readonly string[]>> = {
  0x02: ['Transition to Idle', 'Transition to Active', 'Transition to Busy'],
  0x03: ['State Deasserted', 'State Asserted'],
  0x04: ['Predictive Failure Deasserted', 'Predictive Failure Asserted'],
  0x05: ['Limit Not Exceeded', 'Limit Exceeded'],
  0x06: ['Performance Met', 'Performance Lags'],
  0x07: [
    'Transition to OK',
    'Transition to Non-critical from OK',
    'Transition to Critical from less severe',
    'Transition to Non-recoverable from less severe',
    'Transition to Non-critical from more severe',
    'Transition to Critical from Non-recoverable',
    'Transition to Non-recoverable',
    'Monitor',
    'Informational',
  ],
  0x08: ['Device Absent', 'Device Present'],
  0x09: ['Device Disabled', 'Device Enabled'],
  0x0a: [
    'Transition to Running',
    'Transition to In Test',
    'Transition to Power Off',
    'Transition to On Line',
    'Transition to Off Line',
    'Transition to Off Duty',
    'Transition to Degraded',
    'Transition to Power Save',
    'Install Error',
  ],
  0x0b: [
    'Fully Redundant',
    'Redundancy Lost',
    'Redundancy Degraded',
    'Non-redundant: Sufficient from Redundant',
    'Non-redundant: Sufficient from Insufficient',
    'Non-redundant: Insufficient Resources',
    'Redundancy Degraded from Fully Redundant',
    'Redundancy Degraded from Non-redundant',
  ],
  0x0c: ['D0 Power State', 'D1 Power State', 'D2 Power State', 'D3 Power State'],
};

/** Sensor-specific offsets (event type 0x6F) for the sensor types BMCs log most, §42.2 Table 42-3. */
const SENSOR_SPECIFIC: Readonly<Record<number, readonly string[]>> = {
  0x05: [
    'General Chassis intrusion',
    'Drive Bay intrusion',
    'I/O Card area intrusion',
    'Processor area intrusion',
    'System unplugged from LAN',
    'Unauthorized dock',
    'FAN area intrusion',
  ],
  0x07: [
    'IERR',
    'Thermal Trip',
    'FRB1/BIST failure',
    'FRB2/Hang in POST failure',
    'FRB3/Processor Startup/Init failure',
    'Configuration Error',
    'SM BIOS Uncorrectable CPU-complex Error',
    'Presence detected',
    'Disabled',
    'Terminator presence detected',
    'Throttled',
  ],
  0x08: [
    'Presence detected',
    'Failure detected',
    'Predictive failure',
    'Power Supply AC lost',
    'AC lost or out-of-range',
    'AC out-of-range, but present',
    'Config Error',
  ],
  0x09: [
    'Power off/down',
    'Power cycle',
    '240VA power down',
    'Interlock power down',
    'AC lost',
    'Soft-power control failure',
    'Failure detected',
    'Predictive failure',
  ],
  0x0c: [
    'Correctable ECC',
    'Uncorrectable ECC',
    'Parity',
    'Memory Scrub Error',
    'Memory Device Disabled',
    'Correctable ECC logging limit reached',
    'Presence Detected',
    'Configuration Error',
    'Spare',
    'Throttled',
    'Critical Overtemperature',
  ],
  0x10: [
    'Correctable memory error logging disabled',
    'Event logging disabled',
    'Log area reset/cleared',
    'All event logging disabled',
    'Log full',
    'Log almost full',
  ],
  0x12: [
    'System Reconfigured',
    'OEM System boot event',
    'Undetermined system hardware failure',
    'Entry added to auxiliary log',
    'PEF Action',
    'Timestamp Clock Sync',
  ],
  0x14: ['Power Button pressed', 'Sleep Button pressed', 'Reset Button pressed', 'FRU latch open', 'FRU service request button'],
  0x1d: [
    'Initiated by power up',
    'Initiated by hard reset',
    'Initiated by warm reset',
    'User requested PXE boot',
    'Automatic boot to diagnostic',
    'OS initiated hard reset',
    'OS initiated warm reset',
    'System Restart',
  ],
  0x23: ['Timer expired', 'Hard reset', 'Power down', 'Power cycle', 'reserved', 'reserved', 'reserved', 'reserved', 'Timer interrupt'],
};

/** The state names of an event/reading type (for 0x6F, of the sensor type), by offset; undefined when anvil knows none. */
export function stateNames(eventType: number, sensorType: number): readonly string[] | undefined {
  if (eventType === 0x01) return THRESHOLD_EVENTS;
  if (eventType === 0x6f) return SENSOR_SPECIFIC[sensorType];
  return GENERIC_EVENTS[eventType];
}

/** The event in words, as ipmitool's "sel list" prints it. Event data 1 bits 3:0 are the offset (§29.7). */
export function describeEvent(eventType: number, sensorType: number, data1: number): string {
  const offset = data1 & 0x0f;
  let table: readonly string[] | undefined;
  if (eventType === 0x01) table = THRESHOLD_EVENTS;
  else if (eventType === 0x6f) table = SENSOR_SPECIFIC[sensorType];
  else table = GENERIC_EVENTS[eventType];
  return table?.[offset] ?? `Event type 0x${eventType.toString(16).padStart(2, '0')} offset 0x${offset.toString(16).padStart(2, '0')}`;
}
