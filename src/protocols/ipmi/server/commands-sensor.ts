// Sensor commands of the emulated BMC: readings, thresholds, hysteresis (IPMI v2.0 §35).
import { CompletionCode, NetFn, Privilege, SensorCmd } from '../constants.ts';
import type { CommandContext, CommandDef, CommandReply } from './context.ts';
import { commandKey, fail, ok } from './context.ts';
import type { SensorDefinition, SensorThresholds } from './handler.ts';

/** Reading byte 2: event messages and scanning enabled; bit 5 reading unavailable (§35.14). */
const SCANNING_ENABLED = 0xc0;
const READING_UNAVAILABLE = 0x20;
/** Threshold bit order, bits 0..5: LNC, LCR, LNR, UNC, UCR, UNR (§35.8). */
const ORDER: readonly (keyof SensorThresholds)[] = ['lnc', 'lcr', 'lnr', 'unc', 'ucr', 'unr'];
const ALL_THRESHOLDS = 0x3f;
/** Event/reading type 01h: threshold (§42.1). */
const READING_THRESHOLD = 0x01;

function sensor(ctx: CommandContext): SensorDefinition | undefined {
  return ctx.bmc.handler.sensors().find((s) => s.number === ctx.data[0]);
}

/** Threshold comparison status, byte 3 of Get Sensor Reading (§35.14). */
export function thresholdStatus(raw: number, t: SensorThresholds): number {
  return (
    (raw <= t.lnc ? 0x01 : 0) |
    (raw <= t.lcr ? 0x02 : 0) |
    (raw <= t.lnr ? 0x04 : 0) |
    (raw >= t.unc ? 0x08 : 0) |
    (raw >= t.ucr ? 0x10 : 0) |
    (raw >= t.unr ? 0x20 : 0)
  );
}

async function getReading(ctx: CommandContext): Promise<CommandReply> {
  const s = sensor(ctx);
  if (s === undefined) return fail(CompletionCode.NOT_PRESENT);
  const raw = await ctx.bmc.handler.readSensor(s.number);
  if (raw === undefined) return ok(Buffer.from([0x00, SCANNING_ENABLED | READING_UNAVAILABLE, 0x00]));
  return ok(Buffer.from([raw & 0xff, SCANNING_ENABLED, thresholdStatus(raw, s.thresholds)]));
}

/**
 * Get Sensor Event Status (§35.13): the going-low events of the lower thresholds the reading is
 * at or below and the going-high events of the upper ones it is at or above (bits of Table
 * 35-15: byte 2 lnc- 0, lcr- 2, lnr- 4, unc+ 7; byte 3 ucr+ 1, unr+ 3); no deassertions.
 */
async function getEventStatus(ctx: CommandContext): Promise<CommandReply> {
  const s = sensor(ctx);
  if (s === undefined) return fail(CompletionCode.NOT_PRESENT);
  const raw = await ctx.bmc.handler.readSensor(s.number);
  if (raw === undefined) return ok(Buffer.from([SCANNING_ENABLED | READING_UNAVAILABLE, 0, 0, 0, 0]));
  const crossed = thresholdStatus(raw, s.thresholds);
  const low = (crossed & 0x01 ? 0x01 : 0) | (crossed & 0x02 ? 0x04 : 0) | (crossed & 0x04 ? 0x10 : 0) | (crossed & 0x08 ? 0x80 : 0);
  const high = (crossed & 0x10 ? 0x02 : 0) | (crossed & 0x20 ? 0x08 : 0);
  return ok(Buffer.from([SCANNING_ENABLED, low, high, 0, 0]));
}

function getThresholds(ctx: CommandContext): CommandReply {
  const s = sensor(ctx);
  if (s === undefined) return fail(CompletionCode.NOT_PRESENT);
  return ok(Buffer.from([ALL_THRESHOLDS, ...ORDER.map((k) => s.thresholds[k])]));
}

function setThresholds(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 8) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const s = sensor(ctx);
  if (s === undefined) return fail(CompletionCode.NOT_PRESENT);
  const mask = ctx.data[1] as number;
  ORDER.forEach((k, i) => {
    if ((mask & (1 << i)) !== 0) s.thresholds[k] = ctx.data[2 + i] as number;
  });
  return ok();
}

export const sensorCommands: ReadonlyMap<number, CommandDef> = new Map<number, CommandDef>([
  [commandKey(NetFn.SENSOR_EVENT, SensorCmd.GET_SENSOR_READING), { privilege: Privilege.USER, run: getReading }],
  [commandKey(NetFn.SENSOR_EVENT, SensorCmd.GET_SENSOR_THRESHOLDS), { privilege: Privilege.USER, run: getThresholds }],
  [commandKey(NetFn.SENSOR_EVENT, SensorCmd.SET_SENSOR_THRESHOLDS), { privilege: Privilege.OPERATOR, run: setThresholds }],
  [
    commandKey(NetFn.SENSOR_EVENT, SensorCmd.GET_SENSOR_HYSTERESIS),
    { privilege: Privilege.USER, run: (c) => (sensor(c) ? ok(Buffer.from([0, 0])) : fail(CompletionCode.NOT_PRESENT)) },
  ],
  [commandKey(NetFn.SENSOR_EVENT, SensorCmd.GET_SENSOR_EVENT_STATUS), { privilege: Privilege.USER, run: getEventStatus }],
  [
    commandKey(NetFn.SENSOR_EVENT, SensorCmd.GET_SENSOR_EVENT_ENABLE),
    { privilege: Privilege.USER, run: (c) => (sensor(c) ? ok(Buffer.from([SCANNING_ENABLED, 0, 0, 0, 0])) : fail(CompletionCode.NOT_PRESENT)) },
  ],
  [
    commandKey(NetFn.SENSOR_EVENT, SensorCmd.GET_SENSOR_TYPE),
    {
      privilege: Privilege.USER,
      run: (c) => {
        const s = sensor(c);
        return s ? ok(Buffer.from([s.sensorType, READING_THRESHOLD])) : fail(CompletionCode.NOT_PRESENT);
      },
    },
  ],
]);
