// Full Sensor Records (type 01h) for the emulator's threshold sensors (IPMI v2.0 §43.1, table 43-1).
import type { SensorDefinition } from './handler.ts';

/** SDR version 1.5 (encoded 51h) and record type "full sensor" (§43). */
const SDR_VERSION = 0x51;
const FULL_SENSOR_RECORD = 0x01;
/** Bytes of a full sensor record before the ID string. */
const FULL_RECORD_FIXED = 48;
/** Sensor initialization: scanning, events, thresholds, hysteresis and type initialised (§43.1 byte 11). */
const SENSOR_INIT = 0x7f;
/** Capabilities: auto re-arm; thresholds readable and settable (10b in bits 3:2) (§43.1 byte 12). */
const SENSOR_CAPS = 0x48;
/** Event/reading type code 01h: threshold (§42.1, table 42-1). */
const READING_THRESHOLD = 0x01;
/** All six thresholds (bits 5:0). */
const ALL_THRESHOLDS = 0x3f;
/** ID string type/length: 8-bit ASCII + Latin-1 (§43.15). */
const ID_ASCII = 0xc0;
const MAX_ID_LENGTH = 16;

function signed4(n: number): number {
  return n & 0x0f;
}

/** The record for one sensor, with the given record ID. */
export function fullSensorRecord(recordId: number, s: SensorDefinition, ownerAddress: number): Buffer {
  const name = Buffer.from(s.name.slice(0, MAX_ID_LENGTH), 'latin1');
  const r = Buffer.alloc(FULL_RECORD_FIXED + name.length);
  r.writeUInt16LE(recordId, 0);
  r[2] = SDR_VERSION;
  r[3] = FULL_SENSOR_RECORD;
  r[4] = r.length - 5;
  r[5] = ownerAddress;
  r[6] = 0x00;
  r[7] = s.number;
  r[8] = s.entityId;
  r[9] = 0x01;
  r[10] = SENSOR_INIT;
  r[11] = SENSOR_CAPS;
  r[12] = s.sensorType;
  r[13] = READING_THRESHOLD;
  r[18] = ALL_THRESHOLDS; // readable thresholds
  r[19] = ALL_THRESHOLDS; // settable thresholds
  r[20] = 0x00; // unsigned analog readings
  r[21] = s.unit;
  r[22] = 0x00;
  r[23] = 0x00; // linear
  r[24] = s.m & 0xff;
  r[25] = (s.m >> 2) & 0xc0;
  r[26] = s.b & 0xff;
  r[27] = (s.b >> 2) & 0xc0;
  r[29] = (signed4(s.rExp) << 4) | signed4(s.bExp);
  r[30] = 0x00;
  const t = s.thresholds;
  r[31] = Math.round((t.unc + t.lnc) / 2); // nominal
  r[32] = t.unc;
  r[33] = t.lnc;
  r[34] = 0xff;
  r[35] = 0x00;
  r[36] = t.unr;
  r[37] = t.ucr;
  r[38] = t.unc;
  r[39] = t.lnr;
  r[40] = t.lcr;
  r[41] = t.lnc;
  r[47] = ID_ASCII | name.length;
  name.copy(r, FULL_RECORD_FIXED);
  return r;
}
