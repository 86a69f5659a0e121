// `anvil ipmi sel get <id>...`: one SEL record spelled out, then the sensor that logged it, as
// ipmitool 1.8.19 prints them (lib/ipmi_sel.c: ipmi_sel_show_entry and the verbose entry
// printers; the record layout is IPMI v2.0 §32.1, the event data §29.7 Table 29-6).
import type { Bmc } from '../protocols/ipmi/client/bmc.ts';
import type { FullSensorRecord, SdrRecord } from '../protocols/ipmi/commands/sdr.ts';
import { convertReading } from '../protocols/ipmi/commands/sdr.ts';
import { decodeSelRecord } from '../protocols/ipmi/commands/sel.ts';
import { sensorTypeName, unitName } from '../protocols/ipmi/commands/sensor-names.ts';
import { UsageError } from './command.ts';
import type { IpmiVerb } from './ipmi-commands.ts';
import { ipmitoolCompletionText } from './ipmi-format.ts';
import { sensorVerboseLines } from './ipmi-sensor.ts';

/** Record types from 0xC0 are OEM, timestamped below 0xE0 (§32.2, §32.3); 0xF0 is Linux's kernel panic record. */
const OEM_TIMESTAMPED = 0xc0;
const OEM_NON_TIMESTAMPED = 0xe0;
const LINUX_PANIC = 0xf0;
/** Timestamps below this count seconds since the BMC started (§37.1); 0xFFFFFFFF is "unspecified". */
const PRE_INIT_LIMIT = 0x20000000;
const UNSPECIFIED_TIME = 0xffffffff;
const THRESHOLD_EVENT_TYPE = 0x01;

const hex2 = (n: number) => n.toString(16).padStart(2, '0');
const hex = (bytes: ArrayLike<number>) => Array.from(bytes, hex2).join('');
const line = (label: string, value: string) => ` ${label.padEnd(22)}: ${value}`;

/**
 * ipmitool's timestamp: "%x" in C (MM/DD/YY), or "S+ %y/%j" for a time since start-up. It
 * prints the date twice, as 1.8.19 does: its date and time share one static buffer.
 */
export function timestampText(stamp: number): string {
  if (stamp === UNSPECIFIED_TIME) return 'Unspecified Unspecified';
  const d = new Date(stamp * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  let date: string;
  if (stamp < PRE_INIT_LIMIT) {
    const dayOfYear = Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
    date = `S+ ${p(d.getUTCFullYear() % 100)}/${p(dayOfYear, 3)}`;
  } else date = `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${p(d.getUTCFullYear() % 100)}`;
  return `${date} ${date}`;
}

function eventTypeName(code: number): string {
  if (code === 0) return 'Unspecified';
  if (code === 1) return 'Threshold';
  if (code >= 0x02 && code <= 0x0b) return 'Generic Discrete';
  if (code === 0x6f) return 'Sensor-specific Discrete';
  if (code >= 0x70 && code <= 0x7f) return 'OEM';
  return 'Reserved';
}

/** OEM bytes as ipmitool's hex2ascii shows them: '@'..'~' as they are, anything else a dot. */
const ascii = (bytes: Uint8Array) => Array.from(bytes, (b) => (b < 0x40 || b > 0x7e ? '.' : String.fromCharCode(b))).join('');

/** The sensor record ipmitool matches a system event to: same owner, sensor number and sensor type. */
function sensorFor(sdrs: readonly SdrRecord[], r: Uint8Array): Extract<SdrRecord, { type: 'full' | 'compact' }> | undefined {
  const owner = r[7] ?? 0;
  const number = r[11] ?? 0;
  const type = r[10] ?? 0;
  for (const s of sdrs) if ((s.type === 'full' || s.type === 'compact') && s.number === number && s.ownerId === owner && s.sensorType === type) return s;
  return undefined;
}

/** Bytes 2 and 3 of a threshold event's data, by what byte 1 bits 7:6 and 5:4 say they hold (Table 29-6). */
function thresholdDataLines(record: FullSensorRecord, data: readonly number[]): string[] {
  const units = record.percentage ? '%' : unitName(record.unit);
  const value = (raw: number) => `${(convertReading(raw, record.conversion) ?? 0).toFixed(3)}${units}`;
  const out: string[] = [];
  const [d1 = 0, d2 = 0, d3 = 0] = data;
  const byte2 = (d1 >> 6) & 3;
  const byte3 = (d1 >> 4) & 3;
  if (byte2 === 1) out.push(line('Trigger Reading', value(d2)));
  else if (byte2 === 2) out.push(line('OEM Data', hex2(d2)));
  else if (byte2 === 3) out.push(line('Sensor Extension Code', hex2(d2)));
  if (byte3 === 1) out.push(line('Trigger Threshold', value(d3)));
  else if (byte3 === 2) out.push(line('OEM Data', hex2(d3)));
  else if (byte3 === 3) out.push(line('Sensor Extension Code', hex2(d3)));
  return out;
}

/** ipmi_sel_print_extended_entry_verbose, or _std_entry_verbose when no sensor record matches. */
function entryLines(r: Uint8Array, sensor: Extract<SdrRecord, { type: 'full' | 'compact' }> | undefined): string[] {
  const id = (r[0] ?? 0) | ((r[1] ?? 0) << 8);
  const type = r[2] ?? 0;
  const lines = [`SEL Record ID          : ${id.toString(16).padStart(4, '0')}`];
  if (type === LINUX_PANIC) {
    lines.push(line('Record Type', `Linux kernel panic (OEM record ${hex2(type)})`), line('Panic string', ascii(r.subarray(5, 16)).slice(0, 11)), '');
    return lines;
  }
  const stamp = Buffer.from(r).readUInt32LE(3);
  const oem = type >= OEM_TIMESTAMPED;
  lines.push(line('Record Type', `${hex2(type)}${!sensor && oem ? (type < OEM_NON_TIMESTAMPED ? '  (OEM timestamped)' : '  (OEM non-timestamped)') : ''}`));
  if (type < OEM_NON_TIMESTAMPED) lines.push(line('Timestamp', timestampText(stamp)));
  if (!sensor && oem) {
    // The IANA number most significant byte first (ipmitool turns the stored order round), and its spelling of the label.
    if (type < OEM_NON_TIMESTAMPED)
      lines.push(
        line('Manufactacturer ID', hex(r.slice(7, 10).reverse())),
        line('OEM Defined', `${hex(r.subarray(10, 16))} [${ascii(r.subarray(10, 16))}]`),
        '',
      );
    else lines.push(line('OEM Defined', `${hex(r.subarray(3, 16))} [${ascii(r.subarray(3, 16))}]`), '');
    return lines;
  }
  const event = decodeSelRecord(r);
  const eventType = (r[12] ?? 0) & 0x7f;
  const data = Array.from(r.subarray(13, 16));
  lines.push(
    line('Generator ID', ((r[7] ?? 0) | ((r[8] ?? 0) << 8)).toString(16).padStart(4, '0')),
    line('EvM Revision', hex2(r[9] ?? 0)),
    line('Sensor Type', sensorTypeName(r[10] ?? 0)),
    line('Sensor Number', hex2(r[11] ?? 0)),
    line('Event Type', eventTypeName(eventType)),
    line('Event Direction', (r[12] ?? 0) & 0x80 ? 'Deassertion Event' : 'Assertion Event'),
  );
  if (!sensor) lines.push(line('Event Data', hex(data)));
  else {
    lines.push(line('Event Data (RAW)', hex(data)));
    if (eventType === THRESHOLD_EVENT_TYPE && sensor.type === 'full') lines.push(...thresholdDataLines(sensor, data));
    else if (eventType === 0x6f) {
      // ipmitool's special cases of sensor-specific events: memory ECC from sensor 0, version change with data 2.
      if (r[10] === 0x0c && r[11] === 0 && ((data[0] ?? 0) & 0x30) === 0x20)
        lines.push(line('Event Data', `CPU ${(data[2] ?? 0) & 0x0f} DIMM ${(data[2] ?? 0) >> 4}`));
      else if (!(r[10] === 0x2b && data[0] === 0xc1)) lines.push(line('Event Interpretation', 'Missing'));
    } else if (!(eventType >= 0x02 && eventType <= 0x0c) && !(eventType >= 0x70 && eventType <= 0x7f)) lines.push(line('Event Data', hex(data)));
  }
  lines.push(line('Description', event.kind === 'event' ? event.description : ''), '');
  return lines;
}

export const SEL_GET_VERB: IpmiVerb = {
  words: ['sel', 'get'],
  args: '<id>...',
  sameHelpLine: true,
  fleet: false,
  prepare: (ids, flags) => {
    if (ids.length === 0) return undefined;
    const numbers = ids.map((text) => {
      const n = Number(text);
      if (!/^(0x[0-9a-f]+|\d+)$/i.test(text) || n > 0xffff) throw new UsageError(`sel get: Given SEL ID '${text}' is invalid.`);
      return n;
    });
    return async (b: Bmc) => {
      const sdrs = await b.inventory.sdrRecords();
      const lines: string[] = [];
      const found: unknown[] = [];
      let failed = false;
      for (const [i, id] of numbers.entries()) {
        const entry = await b.inventory.selEntry(id);
        if (entry.bytes === undefined) {
          process.stderr.write(`Get SEL Entry ${id.toString(16)} command failed: ${ipmitoolCompletionText(entry.completionCode)}\n`);
          failed = true;
          continue;
        }
        const r = entry.bytes;
        if (r[11] === 0 && r[10] === 0 && r[2] === 0) {
          process.stderr.write(`SEL Entry 0x${id.toString(16)} not found\n`);
          failed = true;
          continue;
        }
        const sensor = (r[2] ?? 0) < OEM_TIMESTAMPED ? sensorFor(sdrs, r) : undefined;
        found.push({ id, raw: hex(r), record: decodeSelRecord(r), sensor: sensor?.name ?? null });
        lines.push(...entryLines(r, sensor));
        // As ipmitool: the sensor's own verbose block follows; entries without one get no separator.
        if (sensor === undefined) continue;
        await sensorVerboseLines(b, sensor, lines, flags.csv);
        if (i < numbers.length - 1) lines.push('----------------------', '');
      }
      return { lines, json: found, ...(failed ? { code: 1 } : {}) };
    };
  },
};
