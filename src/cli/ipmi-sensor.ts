// `anvil ipmi sensor get <name>...` and `sensor thresh <name> <threshold> <value>`, as ipmitool
// does them and prints them (lib/ipmi_sensor.c: ipmi_sensor_get, ipmi_sensor_set_threshold;
// lib/ipmi_sdr.c for the event status and enable lines).
import type { Bmc } from '../protocols/ipmi/client/bmc.ts';
import type { SensorValue } from '../protocols/ipmi/client/inventory.ts';
import {
  convertReading,
  convertSpan,
  decodeSensorEventBits,
  decodeSensorThresholds,
  getSensorEventEnable,
  getSensorEventStatus,
  getSensorThresholds,
  setSensorThresholds,
  THRESHOLD_ORDER,
  valueToRaw,
} from '../protocols/ipmi/commands/sdr.ts';
import type { FullSensorRecord, SdrRecord, ThresholdName } from '../protocols/ipmi/commands/sdr.ts';
import { stateNames } from '../protocols/ipmi/commands/sel.ts';
import { sensorTypeName, unitName } from '../protocols/ipmi/commands/sensor-names.ts';
import { ipmitoolCompletionText, sensorListLines } from './ipmi-format.ts';
import { UsageError } from './command.ts';
import type { IpmiVerb } from './ipmi-commands.ts';

type SensorRecord = SensorValue['record'];
/** Event/reading type 01h: a threshold sensor (§42.1). */
const THRESHOLD_EVENT_TYPE = 0x01;

const isSensor = (r: SdrRecord): r is SensorRecord => r.type === 'full' || r.type === 'compact';
/** The record a name names: ipmitool compares the whole ID string (ipmi_sdr_find_sdr_byid). */
const findSensor = (records: readonly SdrRecord[], name: string) => records.filter(isSensor).find((r) => r.name === name);
/** Analog: a full threshold record whose readings convert (units not "no analog reading", §43.1 byte 21). */
const analogConversion = (r: SensorRecord): FullSensorRecord['conversion'] | undefined =>
  r.type === 'full' && r.conversion.format !== 'none' ? r.conversion : undefined;
/** ipmitool's "%.*f": no decimals for a whole number, else three. */
const decimal = (v: number) => (Number.isInteger(v) ? v.toFixed(0) : v.toFixed(3));
const units = (r: SensorRecord) => (r.percentage ? '%' : unitName(r.unit));

/** Threshold names by bit of the event bytes (Table 35-15), as ipmitool's assert_cond_1 and _2. */
const EVENT_BITS_1 = ['lnc-', 'lnc+', 'lcr-', 'lcr+', 'lnr-', 'lnr+', 'unc-', 'unc+'];
const EVENT_BITS_2 = ['ucr-', 'ucr+', 'unr-', 'unr+'];
/** ipmitool's labels of the threshold lines, lowest first, with the index into THRESHOLD_ORDER. */
const THRESHOLD_LINES: readonly [string, ThresholdName][] = [
  ['Lower Non-Recoverable', 'lnr'],
  ['Lower Critical', 'lcr'],
  ['Lower Non-Critical', 'lnc'],
  ['Upper Non-Critical', 'unc'],
  ['Upper Critical', 'ucr'],
  ['Upper Non-Recoverable', 'unr'],
];
/** The verbose status: the worst crossed threshold, in ipmitool's order of checking. */
const STATUS_ORDER: readonly [ThresholdName, string][] = [
  ['lnr', 'Lower Non-Recoverable'],
  ['unr', 'Upper Non-Recoverable'],
  ['lcr', 'Lower Critical'],
  ['ucr', 'Upper Critical'],
  ['lnc', 'Lower Non-Critical'],
  ['unc', 'Upper Non-Critical'],
];

const bitNames = (byte: number, names: readonly string[]) =>
  names
    .filter((_, i) => byte & (1 << i))
    .map((n) => `${n} `)
    .join('');

/**
 * The assertion lines of Get Sensor Event Status or Enable, as ipmi_sdr_print_sensor_event_status
 * and _enable print them for analog sensors; none when the BMC refuses the command.
 */
async function eventLines(b: Bmc, r: SensorRecord, kind: 'status' | 'enable'): Promise<string[]> {
  const res = await b.session.requestRaw(kind === 'status' ? getSensorEventStatus(r.number) : getSensorEventEnable(r.number));
  if (res.completionCode !== 0 || res.data.length === 0) return [];
  const e = decodeSensorEventBits(res.data, kind === 'status' ? 'Get Sensor Event Status' : 'Get Sensor Event Enable');
  const label = kind === 'status' ? ['Event Status', 'Assertion Events', 'Deassertion Events'] : ['Event Enable', 'Assertions Enabled', 'Deassertions Enabled'];
  const line = (name: string, text: string) => ` ${name.padEnd(22)}: ${text}`;
  if (kind === 'status' && e.unavailable) return [line(label[0]!, 'Unavailable')];
  const lines: string[] = [];
  if (e.eventMessagesDisabled) lines.push(line(label[0]!, 'Event Messages Disabled'));
  const [a1 = 0, a2, d1, d2] = e.bytes;
  let text = bitNames(a1, EVENT_BITS_1);
  if (a2 !== undefined) text += bitNames(a2, EVENT_BITS_2);
  lines.push(line(label[1]!, text));
  // ipmitool's own conditions: with both deassertion bytes, Event Status wants both non-zero, Enable either.
  const deassert = d2 === undefined ? (d1 ?? 0) !== 0 : kind === 'status' ? d1 !== 0 && d2 !== 0 : d1 !== 0 || d2 !== 0;
  if (a2 !== undefined && deassert) lines.push(line(label[2]!, bitNames(d1 ?? 0, EVENT_BITS_1) + (d2 !== undefined ? bitNames(d2, EVENT_BITS_2) : '')));
  return lines;
}

function hysteresisLines(r: SensorRecord): string[] {
  return (['positive', 'negative'] as const).map((which) => {
    const raw = r.hysteresis[which];
    const label = ` ${which === 'positive' ? 'Positive' : 'Negative'} Hysteresis   : `;
    const conversion = analogConversion(r);
    if (conversion === undefined) return label + (raw === 0 || raw === 0xff ? 'Unspecified' : `0x${raw.toString(16).toUpperCase().padStart(2, '0')}`);
    const value = convertSpan(raw, conversion, false);
    return label + (raw === 0 || raw === 0xff || value === 0 ? 'Unspecified' : value.toFixed(3));
  });
}

/** One threshold sensor in ipmitool's verbose form (dump_sensor_fc_thredshold_verbose); false when it could not be read. */
async function thresholdSensorLines(b: Bmc, s: SensorValue, lines: string[]): Promise<boolean> {
  const r = s.record;
  lines.push(`Sensor ID              : ${r.name} (0x${r.number.toString(16)})`, ` Entity ID             : ${r.entityId}.${r.entityInstance}`);
  lines.push(` Sensor Type (Threshold)  : ${sensorTypeName(r.sensorType)}`);
  const valid = s.reading !== undefined && !s.reading.unavailable;
  if (valid && s.reading) {
    const conversion = analogConversion(r);
    if (r.type === 'full' && conversion !== undefined) {
      const value = convertReading(s.reading.raw, conversion) ?? 0;
      const tolerance = convertSpan(r.tolerance, conversion, true);
      lines.push(` Sensor Reading        : ${decimal(value)} (+/- ${decimal(tolerance)}) ${units(r)}`);
    } else if (r.type === 'full') lines.push(` Sensor Reading        : 0x${s.reading.raw.toString(16)} (+/- 0x${r.tolerance.toString(16)}) `);
    else lines.push(` Sensor Reading        : 0x${s.reading.raw.toString(16)} `);
    const crossed = new Set(s.reading.crossed);
    lines.push(` Status                : ${STATUS_ORDER.find(([t]) => crossed.has(t))?.[1] ?? 'ok'}`);
    const answer = await b.session.requestRaw(getSensorThresholds(r.number));
    if (answer.completionCode !== 0 || answer.data.length === 0) lines.push(' Sensor Threshold Settings not available');
    else {
      const thresholds = decodeSensorThresholds(answer.data);
      if (r.type === 'full')
        for (const [label, name] of THRESHOLD_LINES) {
          const raw = thresholds[name];
          const text =
            raw === undefined ? 'na' : r.conversion.format !== 'none' ? (convertReading(raw, r.conversion) ?? 0).toFixed(3) : `0x${raw.toString(16)}`;
          lines.push(` ${label.padEnd(22)}: ${text}`);
        }
      lines.push(...hysteresisLines(r));
    }
  } else lines.push(' Unable to read sensor: Device Not Present', '');
  lines.push(...(await eventLines(b, r, 'status')), ...(await eventLines(b, r, 'enable')), '');
  return valid;
}

/** A discrete sensor in ipmitool's verbose form (ipmi_sensor_print_fc_discrete). */
function discreteSensorLines(s: SensorValue, lines: string[]): boolean {
  const r = s.record;
  lines.push(`Sensor ID              : ${r.name} (0x${r.number.toString(16)})`, ` Entity ID             : ${r.entityId}.${r.entityInstance}`);
  lines.push(` Sensor Type (Discrete): ${sensorTypeName(r.sensorType)}`);
  if (s.reading === undefined || s.reading.unavailable) {
    lines.push(' Unable to read sensor: Device Not Present', '');
    return false;
  }
  const states = s.reading.states;
  const names = stateNames(r.eventType, r.sensorType);
  if (states !== 0 && names !== undefined && names.length > 0) {
    lines.push(` ${'States Asserted'.padEnd(21)} : ${sensorTypeName(r.sensorType)}`);
    names.forEach((name, offset) => {
      if (states & (1 << offset)) lines.push(`                         [${name}]`);
    });
  }
  lines.push('');
  return true;
}

/**
 * A sensor in ipmitool's verbose form, as `sensor get` and `sel get` print it
 * (ipmi_sensor_print_fc with verbose set); false when its reading could not be had.
 */
export async function sensorVerboseLines(b: Bmc, record: SensorRecord, lines: string[], csv = false): Promise<{ ok: boolean; value: SensorValue }> {
  const s = await b.inventory.sensor(record);
  // With -c, ipmitool prints the sensor's `sensor list -c` line instead (csv_output wins over verbose).
  if (csv) {
    const limits = new Map([[record.number, record.type === 'full' ? await b.inventory.thresholds(record.number) : {}]]);
    lines.push(...sensorListLines([s], limits, true));
    return { ok: s.reading !== undefined && !s.reading.unavailable, value: s };
  }
  const ok = record.eventType === THRESHOLD_EVENT_TYPE ? await thresholdSensorLines(b, s, lines) : discreteSensorLines(s, lines);
  return { ok, value: s };
}

const sensorGet: IpmiVerb = {
  words: ['sensor', 'get'],
  args: '<name>...',
  sameHelpLine: true,
  fleet: false,
  prepare: (names, flags) => {
    if (names.length === 0) return undefined;
    return async (b) => {
      const records = await b.inventory.sdrRecords();
      const lines = ['Locating sensor record...'];
      const found: unknown[] = [];
      let failed = false;
      for (const name of names) {
        const record = findSensor(records, name);
        if (record === undefined) {
          process.stderr.write(`Sensor data record "${name}" not found!\n`);
          failed = true;
          continue;
        }
        const { ok, value: s } = await sensorVerboseLines(b, record, lines, flags.csv);
        if (!ok) failed = true;
        found.push({ name, number: record.number, value: s.value ?? null, status: s.status, raw: s.reading?.raw ?? null });
      }
      return { lines, json: found, ...(failed ? { code: 1 } : {}) };
    };
  },
};

const THRESHOLD_WORDS: ReadonlySet<string> = new Set(THRESHOLD_ORDER);
/** ipmitool's names of the thresholds in its "Setting sensor" lines (threshold_vals). */
const THRESHOLD_LABELS: Readonly<Record<ThresholdName, string>> = {
  unr: 'Upper Non-Recoverable',
  ucr: 'Upper Critical',
  unc: 'Upper Non-Critical',
  lnr: 'Lower Non-Recoverable',
  lcr: 'Lower Critical',
  lnc: 'Lower Non-Critical',
};

/** A number as strtod reads a whole word: decimal, exponent or 0x-hex. */
function thresholdValue(text: string, what: string): number {
  const n = /^\s*[+-]?(\d+\.?\d*(e[+-]?\d+)?|\.\d+(e[+-]?\d+)?|0x[0-9a-f]+)$/i.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(n)) throw new UsageError(`sensor thresh: ${what} '${text}' is not a number`);
  return n;
}

/**
 * Whether a new value keeps the thresholds in order, as ipmitool checks before it sets one
 * threshold alone: a present neighbour on the wrong side makes it refuse. Current values below
 * 0 count as 0 there, as ipmitool's do.
 */
function inOrder(which: ThresholdName, value: number, current: Partial<Record<ThresholdName, number>>): boolean {
  const has = (t: ThresholdName) => current[t] !== undefined;
  const v = (t: ThresholdName) => Math.max(0, current[t] ?? 0);
  if (!has(which)) return true;
  switch (which) {
    case 'unr':
      return !((has('ucr') && value <= v('ucr')) || (has('unc') && value <= v('unc')));
    case 'ucr':
      return !((has('unr') && value >= v('unr')) || (has('unc') && value <= v('unc')));
    case 'unc':
      return !((has('unr') && value >= v('unr')) || (has('ucr') && value >= v('ucr')) || (has('lnc') && value <= v('lnc')));
    case 'lnc':
      return !((has('lcr') && value <= v('lcr')) || (has('lnr') && value <= v('lnr')) || (has('unc') && value >= v('unc')));
    case 'lcr':
      return !((has('lnc') && value >= v('lnc')) || (has('lnr') && value <= v('lnr')));
    case 'lnr':
      return !((has('lnc') && value >= v('lnc')) || (has('lcr') && value >= v('lcr')));
  }
}

const sensorThresh: IpmiVerb = {
  words: ['sensor', 'thresh'],
  args: '<name> <unr|ucr|unc|lnc|lcr|lnr> <value> | <name> upper <unc> <ucr> <unr> | <name> lower <lnr> <lcr> <lnc>',
  fleet: false,
  prepare: ([name, which, ...values]) => {
    if (name === undefined || which === undefined || values.length === 0) return undefined;
    let settings: [ThresholdName, number][];
    if (which === 'upper' || which === 'lower') {
      if (values.length !== 3) throw new UsageError(`sensor thresh: ${which} wants three values (${which === 'upper' ? 'unc ucr unr' : 'lnr lcr lnc'})`);
      const order: ThresholdName[] = which === 'upper' ? ['unc', 'ucr', 'unr'] : ['lnr', 'lcr', 'lnc'];
      settings = order.map((t, i) => [t, thresholdValue(values[i]!, t)]);
    } else {
      if (!THRESHOLD_WORDS.has(which)) throw new UsageError(`sensor thresh: '${which}' is not one of unr, ucr, unc, lnc, lcr, lnr, upper, lower`);
      if (values.length !== 1) throw new UsageError(`sensor thresh: ${which} wants one value`);
      settings = [[which as ThresholdName, thresholdValue(values[0]!, `${which} threshold value`)]];
    }
    return async (b) => {
      const lines = [`Locating sensor record '${name}'...`];
      // As ipmitool: what failed on stderr, after the line that says what was looked for.
      const refuse = (message: string) => {
        process.stderr.write(`${message}\n`);
        return { lines, json: { sensor: name, set: {} }, code: 1 };
      };
      const record = findSensor(await b.inventory.sdrRecords(), name);
      if (record === undefined) return refuse('Sensor data record not found!');
      // ipmitool's words: the record type (§43: 02h compact) or event/reading type it cannot set thresholds of.
      if (record.type !== 'full') return refuse('Invalid sensor type 02');
      if (record.eventType !== THRESHOLD_EVENT_TYPE) return refuse(`Invalid sensor event type ${record.eventType.toString(16).padStart(2, '0')}`);
      const conversion = record.conversion;
      if (settings.length === 1) {
        const [[t, value]] = settings as [[ThresholdName, number]];
        const raw = await b.inventory.thresholds(record.number);
        const current = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, convertReading(v, conversion) ?? 0]));
        if (!inOrder(t, value, current)) return refuse('Invalid Threshold data values. Cannot Set Threshold Data.');
      }
      const set: Record<string, number> = {};
      let failed = false;
      for (const [t, value] of settings) {
        lines.push(`Setting sensor "${record.name}" ${THRESHOLD_LABELS[t]} threshold to ${value.toFixed(3)}`);
        const rawValue = conversion.format === 'none' ? Math.min(255, Math.max(0, Math.trunc(value))) : valueToRaw(value, conversion);
        const res = await b.session.requestRaw(setSensorThresholds(record.number, { [t]: rawValue }));
        // As ipmitool: each threshold on its own, a failure said on stderr, the next still tried.
        if (res.completionCode !== 0) {
          process.stderr.write(`Error setting threshold: ${ipmitoolCompletionText(res.completionCode)}\n`);
          failed = true;
        } else set[t] = value;
      }
      return { lines, json: { sensor: record.name, set }, ...(failed ? { code: 1 } : {}) };
    };
  },
};

export const SENSOR_VERBS: readonly IpmiVerb[] = [sensorGet, sensorThresh];
