// Chassis commands of the emulated BMC: status, control, identify and boot options
// (IPMI v2.0 §28). Boot flags (parameter 5) are kept whole, all five bytes.
import { BootFlags, BootParam, ChassisCmd, ChassisControl, CompletionCode, NetFn, PARAMETER_NOT_SUPPORTED, Privilege } from '../constants.ts';
import type { CommandContext, CommandDef, CommandReply } from './context.ts';
import { andThen, commandKey, fail, ok } from './context.ts';
import type { Awaitable, PowerAction } from './handler.ts';

/** Parameter revision byte of Get System Boot Options (§28.13). */
const BOOT_OPTIONS_VERSION = 0x01;
/** Boot flags data length (§28.13, table 28-14, parameter 5). */
const BOOT_FLAGS_LENGTH = 5;
/** Data lengths of the other writable parameters: set-in-progress 1, valid-bit clearing 1, acknowledge 2. */
const PARAM_LENGTH: ReadonlyMap<number, number> = new Map([
  [BootParam.SET_IN_PROGRESS, 1],
  [BootParam.BMC_BOOT_FLAG_VALID_CLEAR, 1],
  [BootParam.BOOT_INFO_ACKNOWLEDGE, 2],
]);
/** Power restore policy "previous state" in bits 6:5 of status byte 1 (§28.2). */
const RESTORE_POLICY_PREVIOUS = 0x20;
/** Misc chassis state bit 6: chassis identify command and state info supported (§28.2). */
const IDENTIFY_SUPPORTED = 0x40;
/** Set Power Restore Policy answers which policies are supported: all three (§28.8). */
const ALL_RESTORE_POLICIES = 0x07;
/** Restart cause 1: Chassis Control command (§28.11, table 28-11). */
const RESTART_CAUSE_CHASSIS_CONTROL = 0x01;

const actions: ReadonlyMap<number, PowerAction> = new Map([
  [ChassisControl.POWER_DOWN, 'off'],
  [ChassisControl.POWER_UP, 'on'],
  [ChassisControl.POWER_CYCLE, 'cycle'],
  [ChassisControl.HARD_RESET, 'reset'],
  [ChassisControl.PULSE_DIAGNOSTIC, 'diag'],
  [ChassisControl.SOFT_SHUTDOWN, 'soft-off'],
]);

/** Not async: the power-status poll of a fleet is the hottest command, and most handlers answer at once. */
function getChassisStatus(ctx: CommandContext): Awaitable<CommandReply> {
  return andThen(ctx.bmc.handler.getPower(), (power) =>
    ok(Buffer.from([(power === 'on' ? 0x01 : 0x00) | RESTORE_POLICY_PREVIOUS, 0x00, IDENTIFY_SUPPORTED, 0x00])),
  );
}

async function chassisControl(ctx: CommandContext): Promise<CommandReply> {
  const action = actions.get((ctx.data[0] ?? 0xff) & 0x0f);
  if (action === undefined || ctx.data.length < 1) return fail(CompletionCode.INVALID_DATA_FIELD);
  await ctx.bmc.handler.setPower(action);
  if (action === 'on' || action === 'cycle' || action === 'reset') {
    // A one-time boot device applies to the next boot only: clear its valid bit once used (§28.12, parameter 5).
    const flags = await ctx.bmc.handler.getBootFlags();
    const b0 = flags[0] ?? 0;
    if ((b0 & BootFlags.VALID) !== 0 && (b0 & BootFlags.PERSISTENT) === 0) {
      const cleared = Buffer.from(flags);
      cleared[0] = b0 & ~BootFlags.VALID;
      await ctx.bmc.handler.setBootFlags(cleared);
    }
  }
  return ok();
}

async function setBootOptions(ctx: CommandContext): Promise<CommandReply> {
  if (ctx.data.length < 1) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const param = (ctx.data[0] as number) & 0x7f;
  const value = ctx.data.subarray(1);
  if (param === BootParam.BOOT_FLAGS) {
    if (value.length !== BOOT_FLAGS_LENGTH) return fail(CompletionCode.DATA_LENGTH_INVALID);
    await ctx.bmc.handler.setBootFlags(Buffer.from(value));
    return ok();
  }
  const length = PARAM_LENGTH.get(param);
  if (length === undefined) return fail(PARAMETER_NOT_SUPPORTED);
  if (value.length !== length) return fail(CompletionCode.DATA_LENGTH_INVALID);
  ctx.bmc.state.bootParams.set(param, Buffer.from(value));
  return ok();
}

async function getBootOptions(ctx: CommandContext): Promise<CommandReply> {
  if (ctx.data.length < 1) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const param = (ctx.data[0] as number) & 0x7f;
  let value: Buffer;
  if (param === BootParam.BOOT_FLAGS) {
    value = await ctx.bmc.handler.getBootFlags();
  } else {
    const length = PARAM_LENGTH.get(param);
    if (length === undefined) return fail(PARAMETER_NOT_SUPPORTED);
    value = ctx.bmc.state.bootParams.get(param) ?? Buffer.alloc(length);
  }
  return ok(Buffer.concat([Buffer.from([BOOT_OPTIONS_VERSION, param]), value]));
}

export const chassisCommands: ReadonlyMap<number, CommandDef> = new Map<number, CommandDef>([
  [commandKey(NetFn.CHASSIS, ChassisCmd.GET_CHASSIS_CAPABILITIES), { privilege: Privilege.USER, run: () => ok(Buffer.from([0x00, 0x20, 0x20, 0x20, 0x20])) }],
  [commandKey(NetFn.CHASSIS, ChassisCmd.GET_CHASSIS_STATUS), { privilege: Privilege.USER, run: getChassisStatus }],
  [commandKey(NetFn.CHASSIS, ChassisCmd.CHASSIS_CONTROL), { privilege: Privilege.OPERATOR, run: chassisControl }],
  [commandKey(NetFn.CHASSIS, ChassisCmd.CHASSIS_IDENTIFY), { privilege: Privilege.OPERATOR, run: () => ok() }],
  [commandKey(NetFn.CHASSIS, ChassisCmd.SET_POWER_RESTORE_POLICY), { privilege: Privilege.OPERATOR, run: () => ok(Buffer.from([ALL_RESTORE_POLICIES])) }],
  [
    commandKey(NetFn.CHASSIS, ChassisCmd.GET_SYSTEM_RESTART_CAUSE),
    { privilege: Privilege.USER, run: () => ok(Buffer.from([RESTART_CAUSE_CHASSIS_CONTROL, 0x01])) },
  ],
  [commandKey(NetFn.CHASSIS, ChassisCmd.SET_SYSTEM_BOOT_OPTIONS), { privilege: Privilege.OPERATOR, run: setBootOptions }],
  [commandKey(NetFn.CHASSIS, ChassisCmd.GET_SYSTEM_BOOT_OPTIONS), { privilege: Privilege.OPERATOR, run: getBootOptions }],
]);
