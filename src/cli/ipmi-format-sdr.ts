// More of ipmitool's sensor output (lib/ipmi_sdr.c, ipmi_sensor.c): `sdr elist`, `sdr type`,
// and the -c (CSV) forms of `sdr list` and `sensor list`, line for line as ipmitool 1.8.19
// prints them. Pure functions: values in, lines out.
import type { SensorValue } from '../protocols/ipmi/client/inventory.ts';
import { unitName, SENSOR_TYPES } from '../protocols/ipmi/commands/sensor-names.ts';
import { describeEvent } from '../protocols/ipmi/commands/sel.ts';

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

function number(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function units(record: SensorValue['record']): string {
  return record.percentage ? '%' : unitName(record.unit);
}

/** A discrete sensor's asserted states in words, joined as ipmitool's "mini" state print does. */
function discreteStates(s: SensorValue): string {
  const states = s.reading?.states ?? 0;
  const words: string[] = [];
  for (let bit = 0; bit < 15; bit++) if (states & (1 << bit)) words.push(describeEvent(s.record.eventType, s.record.sensorType, bit));
  return words.join(', ');
}

/** The reading column of `sdr elist`: value and unit for analog sensors, asserted states for discrete ones. */
function elistValue(s: SensorValue): string {
  if (s.record.type === 'full' && s.record.eventType === 0x01) return s.value !== undefined ? `${number(s.value)} ${units(s.record)}` : 'No Reading';
  return discreteStates(s);
}

/** The fields of one `sdr elist` line: name, sensor number, status, entity, reading. */
function elistFields(s: SensorValue): [string, string, string, string, string] {
  const entity = `${String(s.record.entityId).padStart(2)}.${s.record.entityInstance}`;
  return [s.record.name, `${hex2(s.record.number)}h`, s.status, entity, elistValue(s)];
}

/** `sdr elist` (and `sdr type`, which prints the same lines for one sensor type). */
export function sdrElistLines(sensors: readonly SensorValue[]): string[] {
  return sensors.map((s) => {
    const [name, id, status, entity, value] = elistFields(s);
    return `${name.slice(0, 16).padEnd(16)} | ${id} | ${status.padEnd(3)} | ${entity} | ${value}`;
  });
}

/** `sdr list -c` (and `sdr elist -c`, the same): analog sensors as name,value,unit,status; others in elist's fields. */
export function sdrCsvLines(sensors: readonly SensorValue[]): string[] {
  return sensors.map((s) => {
    if (s.record.type === 'full' && s.value !== undefined) return [s.record.name, number(s.value), units(s.record), s.status].join(',');
    const [name, id, status, entity, value] = elistFields(s);
    return [name, id, status, entity.trim(), value].join(',');
  });
}

/** `sdr type <type>`: the sensor type a word names, by name (any case) or as 0x-hex; undefined when none. */
export function sensorTypeCode(text: string): number | undefined {
  if (/^0x[0-9a-f]{1,2}$/i.test(text)) return Number(text);
  const i = SENSOR_TYPES.findIndex((name, code) => code > 0 && name.toLowerCase() === text.toLowerCase());
  return i > 0 ? i : undefined;
}

/** `sdr type` alone (or with a type it does not know): ipmitool's table of sensor types, two per line. */
export function sensorTypeTableLines(): string[] {
  const lines = ['Sensor Types:'];
  const cell = (code: number) => `${(SENSOR_TYPES[code] ?? '').padEnd(25)} (0x${hex2(code)})`;
  for (let code = 1; code < SENSOR_TYPES.length; code += 2) {
    lines.push(`\t${cell(code)}${code + 1 < SENSOR_TYPES.length ? `   ${cell(code + 1)}` : ''}`);
  }
  return lines;
}
