// Storage commands of the emulated BMC: SDR repository (IPMI v2.0 §33), SEL (§31) and FRU
// inventory (§34).
import { BMC_SLAVE_ADDRESS, CompletionCode, NetFn, Privilege, StorageCmd } from '../constants.ts';
import type { CommandContext, CommandDef, CommandReply } from './context.ts';
import { commandKey, fail, ok } from './context.ts';
import { SEL_CAPACITY } from './memory-handler.ts';
import { fullSensorRecord } from './sdr-records.ts';

/** SDR and SEL version 1.5, encoded 51h (§33.9, §31.2). */
const VERSION_15 = 0x51;
/** Operation support: "Reserve supported" (§33.9 and §31.2, bit 1). */
const RESERVE_SUPPORTED = 0x02;
/** Record IDs meaning "first" and "last" in Get SDR / Get SEL Entry (§33.12, §31.5). */
const FIRST_RECORD = 0x0000;
const LAST_RECORD = 0xffff;
/** Read the whole record from the offset (§33.12). */
const WHOLE_RECORD = 0xff;
const SEL_RECORD_LENGTH = 16;
/** Clear SEL: 'C' 'L' 'R', then AAh initiate or 00h get status; reply 01h = erasure completed (§31.9). */
const CLR = Buffer.from('CLR', 'latin1');
const CLEAR_INITIATE = 0xaa;
const ERASURE_COMPLETED = 0x01;
/** Timestamps before this mean "unspecified" (§37.1); the SEL answers them as-is. */
const NO_UTC_OFFSET = 0x07ff;
/** Largest FRU read answered at once: fits any session framing. */
const MAX_FRU_READ = 128;
const FRU_DEVICE_ID = 0;

function sdrRecords(ctx: CommandContext): Buffer[] {
  return ctx.bmc.handler.sensors().map((s, i) => fullSensorRecord(i + 1, s, BMC_SLAVE_ADDRESS));
}

function reservationOk(expected: number, given: number, offset: number): boolean {
  // A reservation is needed only for partial reads (§33.12); 0 is accepted for a read from offset 0.
  return given === expected || (offset === 0 && given === 0);
}

/** Shared by Get SDR and Get SEL Entry: select a record, slice it, return [next ID, bytes]. */
function readRecord(records: readonly Buffer[], data: Buffer, reservation: number): CommandReply {
  if (data.length < 6) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const given = data.readUInt16LE(0);
  const id = data.readUInt16LE(2);
  const offset = data[4] as number;
  const count = data[5] as number;
  if (!reservationOk(reservation, given, offset)) return fail(CompletionCode.INVALID_RESERVATION);
  if (records.length === 0) return fail(CompletionCode.NOT_PRESENT);
  let index: number;
  if (id === FIRST_RECORD) index = 0;
  else if (id === LAST_RECORD) index = records.length - 1;
  else index = records.findIndex((r) => r.readUInt16LE(0) === id);
  const record = records[index];
  if (record === undefined) return fail(CompletionCode.NOT_PRESENT);
  if (offset > record.length) return fail(CompletionCode.PARAMETER_OUT_OF_RANGE);
  const end = count === WHOLE_RECORD ? record.length : Math.min(record.length, offset + count);
  const next = records[index + 1]?.readUInt16LE(0) ?? LAST_RECORD;
  const out = Buffer.alloc(2 + end - offset);
  out.writeUInt16LE(next, 0);
  record.copy(out, 2, offset, end);
  return ok(out);
}

function repositoryInfo(count: number, free: number): Buffer {
  const out = Buffer.alloc(14);
  out[0] = VERSION_15;
  out.writeUInt16LE(count, 1);
  out.writeUInt16LE(Math.min(free, 0xfffe), 3);
  out[13] = RESERVE_SUPPORTED;
  return out;
}

function selTime(ctx: CommandContext): number {
  return (Math.floor(ctx.bmc.now() / 1000) + ctx.bmc.state.selTimeOffset) >>> 0;
}

function reserveSdr(ctx: CommandContext): CommandReply {
  ctx.bmc.state.sdrReservation = ctx.bmc.newReservation();
  const out = Buffer.alloc(2);
  out.writeUInt16LE(ctx.bmc.state.sdrReservation);
  return ok(out);
}

function reserveSel(ctx: CommandContext): CommandReply {
  ctx.bmc.state.selReservation = ctx.bmc.newReservation();
  const out = Buffer.alloc(2);
  out.writeUInt16LE(ctx.bmc.state.selReservation);
  return ok(out);
}

function selAllocation(ctx: CommandContext): CommandReply {
  const free = SEL_CAPACITY - ctx.bmc.handler.selEntries().length;
  const out = Buffer.alloc(9);
  out.writeUInt16LE(SEL_CAPACITY, 0);
  out.writeUInt16LE(SEL_RECORD_LENGTH, 2);
  out.writeUInt16LE(free, 4);
  out.writeUInt16LE(free, 6);
  out[8] = 1;
  return ok(out);
}

function addSelEntry(ctx: CommandContext): CommandReply {
  if (ctx.data.length !== SEL_RECORD_LENGTH) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const record = Buffer.from(ctx.data);
  // System event records (type 02h) get the BMC's timestamp (§31.6).
  if (record[2] === 0x02) record.writeUInt32LE(selTime(ctx), 3);
  ctx.bmc.state.selReservation = 0; // adding cancels reservations (§31.4)
  const id = ctx.bmc.handler.addSelEntry(record);
  const out = Buffer.alloc(2);
  out.writeUInt16LE(id);
  return ok(out);
}

function clearSel(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 6) return fail(CompletionCode.DATA_LENGTH_INVALID);
  if (ctx.data.readUInt16LE(0) !== ctx.bmc.state.selReservation || ctx.bmc.state.selReservation === 0) return fail(CompletionCode.INVALID_RESERVATION);
  if (!ctx.data.subarray(2, 5).equals(CLR)) return fail(CompletionCode.INVALID_DATA_FIELD);
  if (ctx.data[5] === CLEAR_INITIATE) ctx.bmc.handler.clearSel();
  return ok(Buffer.from([ERASURE_COMPLETED]));
}

function setSelTime(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 4) return fail(CompletionCode.DATA_LENGTH_INVALID);
  ctx.bmc.state.selTimeOffset = ctx.data.readUInt32LE(0) - Math.floor(ctx.bmc.now() / 1000);
  return ok();
}

function fruAreaInfo(ctx: CommandContext): CommandReply {
  if (ctx.data[0] !== FRU_DEVICE_ID) return fail(CompletionCode.NOT_PRESENT);
  const out = Buffer.alloc(3);
  out.writeUInt16LE(ctx.bmc.handler.fru().length, 0);
  out[2] = 0x00; // accessed by bytes
  return ok(out);
}

function readFru(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 4) return fail(CompletionCode.DATA_LENGTH_INVALID);
  if (ctx.data[0] !== FRU_DEVICE_ID) return fail(CompletionCode.NOT_PRESENT);
  const image = ctx.bmc.handler.fru();
  const offset = ctx.data.readUInt16LE(1);
  if (offset >= image.length) return fail(CompletionCode.PARAMETER_OUT_OF_RANGE);
  const bytes = image.subarray(offset, Math.min(image.length, offset + Math.min(ctx.data[3] as number, MAX_FRU_READ)));
  return ok(Buffer.concat([Buffer.from([bytes.length]), bytes]));
}

export const storageCommands: ReadonlyMap<number, CommandDef> = new Map<number, CommandDef>([
  [
    commandKey(NetFn.STORAGE, StorageCmd.GET_SDR_REPOSITORY_INFO),
    { privilege: Privilege.USER, run: (c) => ok(repositoryInfo(c.bmc.handler.sensors().length, 0x4000)) },
  ],
  [commandKey(NetFn.STORAGE, StorageCmd.RESERVE_SDR_REPOSITORY), { privilege: Privilege.USER, run: reserveSdr }],
  [commandKey(NetFn.STORAGE, StorageCmd.GET_SDR), { privilege: Privilege.USER, run: (c) => readRecord(sdrRecords(c), c.data, c.bmc.state.sdrReservation) }],
  [
    commandKey(NetFn.STORAGE, StorageCmd.GET_SEL_INFO),
    {
      privilege: Privilege.USER,
      run: (c) => ok(repositoryInfo(c.bmc.handler.selEntries().length, (SEL_CAPACITY - c.bmc.handler.selEntries().length) * SEL_RECORD_LENGTH)),
    },
  ],
  [commandKey(NetFn.STORAGE, StorageCmd.GET_SEL_ALLOCATION_INFO), { privilege: Privilege.USER, run: selAllocation }],
  [commandKey(NetFn.STORAGE, StorageCmd.RESERVE_SEL), { privilege: Privilege.USER, run: reserveSel }],
  [
    commandKey(NetFn.STORAGE, StorageCmd.GET_SEL_ENTRY),
    { privilege: Privilege.USER, run: (c) => readRecord(c.bmc.handler.selEntries(), c.data, c.bmc.state.selReservation) },
  ],
  [commandKey(NetFn.STORAGE, StorageCmd.ADD_SEL_ENTRY), { privilege: Privilege.OPERATOR, run: addSelEntry }],
  [commandKey(NetFn.STORAGE, StorageCmd.CLEAR_SEL), { privilege: Privilege.OPERATOR, run: clearSel }],
  [
    commandKey(NetFn.STORAGE, StorageCmd.GET_SEL_TIME),
    {
      privilege: Privilege.USER,
      run: (c) => {
        const out = Buffer.alloc(4);
        out.writeUInt32LE(selTime(c));
        return ok(out);
      },
    },
  ],
  [commandKey(NetFn.STORAGE, StorageCmd.SET_SEL_TIME), { privilege: Privilege.OPERATOR, run: setSelTime }],
  [
    commandKey(NetFn.STORAGE, StorageCmd.GET_SEL_TIME_UTC_OFFSET),
    { privilege: Privilege.USER, run: () => ok(Buffer.from([NO_UTC_OFFSET & 0xff, NO_UTC_OFFSET >> 8])) },
  ],
  [commandKey(NetFn.STORAGE, StorageCmd.GET_FRU_INVENTORY_AREA_INFO), { privilege: Privilege.USER, run: fruAreaInfo }],
  [commandKey(NetFn.STORAGE, StorageCmd.READ_FRU_DATA), { privilege: Privilege.USER, run: readFru }],
]);
