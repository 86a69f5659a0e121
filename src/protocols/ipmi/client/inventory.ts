// Reading the BMC's repositories over a session: the SDR walk with reservation and partial
// reads (IPMI v2.0 §33.11–33.12), sensor readings (§35.14), the SEL (§31) and FRU data (§34).
import {
  convertReading,
  decodeGetSdr,
  decodeSensorThresholds,
  getSensorThresholds,
  decodeReservation,
  decodeSdrRecord,
  decodeSensorReading,
  getSdr,
  getSensorReading,
  reserveSdrRepository,
  thresholdStatus,
  LAST_RECORD,
  SDR_HEADER_LENGTH,
} from '../commands/sdr.ts';
import type { FullSensorRecord, SdrRecord, SensorReading, ThresholdName } from '../commands/sdr.ts';
import {
  clearSel,
  decodeClearSel,
  deleteSelEntry,
  decodeSelEntry,
  decodeSelInfo,
  decodeSelTime,
  getSelEntry,
  getSelInfo,
  getSelTime,
  reserveSel,
  setSelTime,
  FIRST_ENTRY,
  LAST_ENTRY,
  SEL_RECORD_LENGTH,
} from '../commands/sel.ts';
import type { SelInfo, SelRecord } from '../commands/sel.ts';
import { decodeFru, decodeFruInventoryAreaInfo, decodeReadFruData, getFruInventoryAreaInfo, readFruData, DEFAULT_FRU_CHUNK } from '../commands/fru.ts';
import type { FruInventory } from '../commands/fru.ts';
import { IpmiPayloadError } from '../commands/request.ts';
import { CompletionCode, NetFn, StorageCmd } from '../constants.ts';
import { IpmiCommandError } from './errors.ts';
import type { Session } from './session.ts';

/** Bytes asked per Get SDR; halved on 0xCA/0xC7/0xC8 down to MIN_SDR_CHUNK (pyghmi's fallback). */
export const DEFAULT_SDR_CHUNK = 32;
export const MIN_SDR_CHUNK = 8;
/** Times a record is re-read after its reservation was cancelled (0xC5) before giving up. */
export const MAX_RESERVATION_RETRIES = 5;
/** Upper bound on records and SEL entries walked, so a BMC with a looping "next" chain cannot hang us. */
export const MAX_RECORDS = 4096;
/** Clear SEL status polls while the BMC erases. */
export const MAX_CLEAR_POLLS = 50;

const SHRINK_CODES: ReadonlySet<number> = new Set([
  CompletionCode.CANNOT_RETURN_REQUESTED_BYTES,
  CompletionCode.DATA_LENGTH_INVALID,
  CompletionCode.DATA_FIELD_LENGTH_EXCEEDED,
]);

export interface SensorValue {
  readonly record: FullSensorRecord | Extract<SdrRecord, { type: 'compact' }>;
  readonly reading?: SensorReading;
  /** Converted value for analog (full record, threshold) sensors. */
  readonly value?: number;
  readonly status: 'ok' | 'nc' | 'cr' | 'nr' | 'ns';
}

export class Inventory {
  readonly #session: Session;
  #chunk = DEFAULT_SDR_CHUNK;

  constructor(session: Session) {
    this.#session = session;
  }

  async #reserveSdr(): Promise<number> {
    const res = await this.#session.requestRaw(reserveSdrRepository());
    // A BMC without reservations answers 0xC1; reading with reservation 0 then works for offset 0.
    return res.completionCode === CompletionCode.OK ? decodeReservation(res.data) : 0;
  }

  /** One record: the 5-byte header first, then the body in chunks. */
  async #readRecord(reservation: { id: number }, recordId: number): Promise<{ next: number; bytes: Uint8Array }> {
    for (let retry = 0; ; retry++) {
      const head = await this.#session.requestRaw(getSdr(reservation.id, recordId, 0, SDR_HEADER_LENGTH));
      if (head.completionCode === CompletionCode.INVALID_RESERVATION && retry < MAX_RESERVATION_RETRIES) {
        reservation.id = await this.#reserveSdr();
        continue;
      }
      if (head.completionCode !== CompletionCode.OK)
        throw new IpmiCommandError(this.#session.host, 'Get SDR', NetFn.STORAGE, StorageCmd.GET_SDR, head.completionCode);
      const { next, bytes: header } = decodeGetSdr(head.data);
      if (header.length < SDR_HEADER_LENGTH) throw new IpmiPayloadError(`Get SDR: record ${recordId} header is ${header.length} bytes`);
      const total = SDR_HEADER_LENGTH + header[4]!;
      const record = new Uint8Array(total);
      record.set(header.subarray(0, SDR_HEADER_LENGTH));
      let offset = SDR_HEADER_LENGTH;
      let cancelled = false;
      while (offset < total) {
        const count = Math.min(this.#chunk, total - offset);
        const part = await this.#session.requestRaw(getSdr(reservation.id, recordId, offset, count));
        if (SHRINK_CODES.has(part.completionCode) && this.#chunk > MIN_SDR_CHUNK) {
          this.#chunk = Math.max(MIN_SDR_CHUNK, this.#chunk >> 1);
          continue;
        }
        if (part.completionCode === CompletionCode.INVALID_RESERVATION) {
          cancelled = true;
          break;
        }
        if (part.completionCode !== CompletionCode.OK)
          throw new IpmiCommandError(this.#session.host, 'Get SDR', NetFn.STORAGE, StorageCmd.GET_SDR, part.completionCode);
        const chunk = decodeGetSdr(part.data).bytes;
        if (chunk.length === 0) throw new IpmiPayloadError(`Get SDR: empty partial read of record ${recordId}`);
        record.set(chunk.subarray(0, total - offset), offset);
        offset += chunk.length;
      }
      if (!cancelled) return { next, bytes: record };
      if (retry >= MAX_RESERVATION_RETRIES)
        throw new IpmiCommandError(this.#session.host, 'Get SDR', NetFn.STORAGE, StorageCmd.GET_SDR, CompletionCode.INVALID_RESERVATION);
      reservation.id = await this.#reserveSdr();
    }
  }

  /** Every SDR in the repository, decoded. */
  async sdrRecords(): Promise<SdrRecord[]> {
    const reservation = { id: await this.#reserveSdr() };
    const out: SdrRecord[] = [];
    let recordId = 0;
    while (recordId !== LAST_RECORD && out.length < MAX_RECORDS) {
      let read;
      try {
        read = await this.#readRecord(reservation, recordId);
      } catch (error) {
        // An empty repository answers the first read with "not present".
        if (recordId === 0 && error instanceof IpmiCommandError && error.completionCode === CompletionCode.NOT_PRESENT) return out;
        throw error;
      }
      out.push(decodeSdrRecord(read.bytes));
      if (read.next === recordId) break;
      recordId = read.next;
    }
    return out;
  }

  /** Reading of one sensor record, converted where the record says how. */
  async sensor(record: SensorValue['record']): Promise<SensorValue> {
    const res = await this.#session.requestRaw(getSensorReading(record.number));
    if (res.completionCode !== CompletionCode.OK) return { record, status: 'ns' };
    const reading = decodeSensorReading(res.data);
    const value = record.type === 'full' && !reading.unavailable ? convertReading(reading.raw, record.conversion) : undefined;
    return { record, reading, ...(value !== undefined ? { value } : {}), status: thresholdStatus(reading) };
  }

  /** Thresholds from Get Sensor Thresholds (§35.9); empty when the BMC refuses (ipmitool prints 'na'). */
  async thresholds(sensor: number): Promise<Partial<Record<ThresholdName, number>>> {
    const res = await this.#session.requestRaw(getSensorThresholds(sensor));
    return res.completionCode === CompletionCode.OK ? decodeSensorThresholds(res.data) : {};
  }

  /** Every sensor with its reading (ipmitool sdr list / sensor list). */
  async sensors(): Promise<SensorValue[]> {
    const records = await this.sdrRecords();
    const out: SensorValue[] = [];
    for (const record of records) {
      if (record.type === 'full' || record.type === 'compact') out.push(await this.sensor(record));
    }
    return out;
  }

  async selInfo(): Promise<SelInfo> {
    return decodeSelInfo(await this.#session.request(getSelInfo()));
  }

  async selEntries(): Promise<SelRecord[]> {
    const info = await this.selInfo();
    if (info.entries === 0) return [];
    const res = await this.#session.requestRaw(reserveSel());
    const reservation = res.completionCode === CompletionCode.OK ? decodeReservation(res.data) : 0;
    const out: SelRecord[] = [];
    let id = FIRST_ENTRY;
    while (out.length < MAX_RECORDS) {
      const { next, record } = decodeSelEntry(await this.#session.request(getSelEntry(reservation, id)));
      out.push(record);
      if (next === LAST_ENTRY || next === id) break;
      id = next;
    }
    return out;
  }

  /**
   * One SEL record by ID (Get SEL Entry, §31.5), its 16 bytes as stored, under a reservation
   * where the BMC has them; the completion code instead when the BMC refuses (no such ID: 0xCB).
   */
  async selEntry(recordId: number): Promise<{ completionCode: number; bytes?: Uint8Array }> {
    const reserved = await this.#session.requestRaw(reserveSel());
    const reservation = reserved.completionCode === CompletionCode.OK ? decodeReservation(reserved.data) : 0;
    const res = await this.#session.requestRaw(getSelEntry(reservation, recordId));
    if (res.completionCode !== CompletionCode.OK) return { completionCode: res.completionCode };
    if (res.data.length < 2 + SEL_RECORD_LENGTH) throw new IpmiPayloadError(`Get SEL Entry: ${res.data.length} data bytes, expected ${2 + SEL_RECORD_LENGTH}`);
    return { completionCode: 0, bytes: res.data.slice(2, 2 + SEL_RECORD_LENGTH) };
  }

  /** Delete SEL Entry (§31.8) under a fresh reservation; returns the BMC's completion code (ipmitool reports each id alone). */
  async deleteSelEntry(recordId: number): Promise<number> {
    const reservation = decodeReservation(await this.#session.request(reserveSel()));
    return (await this.#session.requestRaw(deleteSelEntry(reservation, recordId))).completionCode;
  }

  /** Clear SEL (§31.9): initiate, then poll until the BMC reports the erase complete. */
  async clearSel(): Promise<void> {
    const reservation = decodeReservation(await this.#session.request(reserveSel()));
    let state = decodeClearSel(await this.#session.request(clearSel(reservation, 'initiate')));
    for (let poll = 0; state !== 'complete' && poll < MAX_CLEAR_POLLS; poll++) {
      state = decodeClearSel(await this.#session.request(clearSel(reservation, 'status')));
    }
  }

  async selTime(): Promise<Date> {
    return decodeSelTime(await this.#session.request(getSelTime()));
  }

  async setSelTime(time: Date): Promise<void> {
    await this.#session.request(setSelTime(time));
  }

  /** The FRU image of a device, read in chunks and decoded (§34.1–34.2). */
  async fruBytes(fruId = 0): Promise<Uint8Array> {
    const info = decodeFruInventoryAreaInfo(await this.#session.request(getFruInventoryAreaInfo(fruId)));
    const out = new Uint8Array(info.size);
    let offset = 0;
    let chunk = DEFAULT_FRU_CHUNK;
    while (offset < info.size) {
      const count = Math.min(chunk, info.size - offset);
      const res = await this.#session.requestRaw(readFruData(fruId, info.byWords ? offset >> 1 : offset, info.byWords ? count >> 1 : count));
      if (SHRINK_CODES.has(res.completionCode) && chunk > MIN_SDR_CHUNK) {
        chunk >>= 1;
        continue;
      }
      if (res.completionCode !== CompletionCode.OK)
        throw new IpmiCommandError(this.#session.host, 'Read FRU Data', NetFn.STORAGE, StorageCmd.READ_FRU_DATA, res.completionCode);
      const bytes = decodeReadFruData(res.data);
      if (bytes.length === 0) break;
      out.set(bytes.subarray(0, info.size - offset), offset);
      offset += info.byWords ? bytes.length * 2 : bytes.length;
    }
    return out;
  }

  async fru(fruId = 0): Promise<FruInventory> {
    return decodeFru(await this.fruBytes(fruId));
  }
}
