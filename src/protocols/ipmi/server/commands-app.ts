// Application-netfn commands of the emulated BMC: device identity, resets, channel and
// session management, users and payload activation (IPMI v2.0 §20, §22, §24).
import {
  AppCmd,
  CloseSessionCode,
  CompletionCode,
  MAX_PASSWORD_LENGTH,
  MAX_USER_NAME_LENGTH,
  NetFn,
  Privilege,
  SetPasswordCode,
  SetPrivilegeCode,
} from '../constants.ts';
import { trimName } from '../session-commands.ts';
import type { CommandContext, CommandDef, CommandReply } from './context.ts';
import { commandKey, fail, ok } from './context.ts';
import type { BmcUser } from './handler.ts';
import { channelAuthCapabilities, channelCipherSuites } from './presession.ts';

/** The one LAN channel the emulated BMC has (IPMI v2.0 §6.3). */
export const LAN_CHANNEL = 1;
/** "This channel" in requests (§6.3). */
const CURRENT_CHANNEL = 0x0e;
/** Get Device ID: IPMI version 2.0 in BCD; additional support: chassis, FRU, SEL, SDR repository, sensor (§20.1). */
const IPMI_VERSION_20 = 0x02;
const DEVICE_SUPPORT = 0x8f;
/** Get Self Test Results: 0x55 = no error (§20.4). */
const SELF_TEST_OK = 0x55;
/**
 * Get Watchdog Timer (§27.7): a stopped SMS/OS timer set to hard-reset after 300.0 s, as an
 * OS watchdog daemon leaves it; the emulator never runs it down.
 */
const WATCHDOG = [0x04, 0x01, 0x00, 0x00, 0xb8, 0x0b, 0xb8, 0x0b];
/** Get Channel Info: medium 802.3 LAN, protocol IPMB-1.0, multi-session, IPMI forum IANA 7154 (§22.24). */
const MEDIUM_LAN = 0x04;
const PROTOCOL_IPMB = 0x01;
const MULTI_SESSION = 0x80;
const IPMI_FORUM_IANA = 7154;
/** Channel access modes (§22.22, bits 2:0 of the access byte): disabled, always available. */
export const ACCESS_MODE_BITS = 0x07;
export const ACCESS_DISABLED = 0x00;
const ACCESS_ALWAYS_AVAILABLE = 0x02;
/** Set User Password operations (§22.30). */
const PasswordOp = { DISABLE: 0, ENABLE: 1, SET: 2, TEST: 3 } as const;
/** User ID byte bit 7 of Set User Password: 20-byte password (§22.30). */
const PASSWORD_20_BYTES = 0x80;

function channelOk(channel: number): boolean {
  const c = channel & 0x0f;
  return c === LAN_CHANNEL || c === CURRENT_CHANNEL;
}

function getDeviceId(ctx: CommandContext): CommandReply {
  const id = ctx.bmc.identity;
  const out = Buffer.alloc(15);
  out[0] = id.deviceId;
  out[1] = id.deviceRevision & 0x0f;
  out[2] = id.firmwareMajor & 0x7f;
  out[3] = id.firmwareMinor;
  out[4] = IPMI_VERSION_20;
  out[5] = DEVICE_SUPPORT;
  out[6] = id.manufacturerId & 0xff;
  out[7] = (id.manufacturerId >> 8) & 0xff;
  out[8] = (id.manufacturerId >> 16) & 0x0f;
  out.writeUInt16LE(id.productId & 0xffff, 9);
  id.auxFirmware.copy(out, 11, 0, 4);
  return ok(out);
}

async function reset(ctx: CommandContext, kind: 'cold' | 'warm'): Promise<CommandReply> {
  await ctx.bmc.handler.resetBmc?.(kind);
  return ok();
}

function user(ctx: CommandContext, uid: number): BmcUser | undefined {
  return ctx.bmc.handler.users().find((u) => u.id === uid);
}

/** The channels a BMC has: 0 primary IPMB, 1 this LAN, 15 the system interface (§6.3, table 6-1; §22.24). */
const CHANNELS: ReadonlyMap<number, { readonly medium: number; readonly protocol: number; readonly sessions: boolean }> = new Map([
  [0x00, { medium: 0x01, protocol: PROTOCOL_IPMB, sessions: false }],
  [LAN_CHANNEL, { medium: MEDIUM_LAN, protocol: PROTOCOL_IPMB, sessions: true }],
  [0x0f, { medium: 0x0c, protocol: 0x05, sessions: false }], // system interface, KCS
]);

function getChannelInfo(ctx: CommandContext): CommandReply {
  let channel = (ctx.data[0] ?? 0xff) & 0x0f;
  if (channel === CURRENT_CHANNEL) channel = LAN_CHANNEL;
  const info = CHANNELS.get(channel);
  if (info === undefined) return fail(CompletionCode.INVALID_DATA_FIELD);
  const active = info.sessions ? [...ctx.bmc.sessions()].filter((s) => s.state === 'active').length : 0;
  return ok(
    Buffer.from([
      channel,
      info.medium,
      info.protocol,
      (info.sessions ? MULTI_SESSION : 0) | Math.min(active, 0x3f),
      IPMI_FORUM_IANA & 0xff,
      (IPMI_FORUM_IANA >> 8) & 0xff,
      0,
      0,
      0,
    ]),
  );
}

/** A LAN channel always available to administrators, as a BMC leaves the factory (Get Channel Access data, §22.23). */
export function defaultChannelAccess(): Buffer {
  return Buffer.from([ACCESS_ALWAYS_AVAILABLE, Privilege.ADMINISTRATOR]);
}

/**
 * The set bits 7:6 name, in Get Channel Access byte 2 (§22.23) and Set Channel Access bytes 2
 * and 3 (§22.22): 01b non-volatile, 10b volatile (active); 00b (set: leave alone) and 11b none.
 */
function accessSet(byte: number): 'non-volatile' | 'volatile' | undefined {
  const bits = byte & 0xc0;
  return bits === 0x40 ? 'non-volatile' : bits === 0x80 ? 'volatile' : undefined;
}
/** Access byte: alerting, per-message and user-level authentication disabled, access mode. */
const ACCESS_BITS = 0x3f;

function getChannelAccess(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 2 || !channelOk(ctx.data[0] as number)) return fail(CompletionCode.INVALID_DATA_FIELD);
  const which = accessSet(ctx.data[1] as number);
  if (which === undefined) return fail(CompletionCode.INVALID_DATA_FIELD);
  return ok(Buffer.from(ctx.bmc.state.channelAccess[which]));
}

/** Set Channel Access (§22.22): the access byte and the privilege limit, each into the set its top bits name. */
function setChannelAccess(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 3) return fail(CompletionCode.DATA_LENGTH_INVALID);
  if (!channelOk(ctx.data[0] as number)) return fail(CompletionCode.INVALID_DATA_FIELD);
  const access = ctx.data[1] as number;
  const privilege = ctx.data[2] as number;
  const limit = privilege & 0x0f;
  if ((access & 0xc0) === 0xc0 || (privilege & 0xc0) === 0xc0) return fail(CompletionCode.INVALID_DATA_FIELD);
  const accessTo = accessSet(access);
  const privilegeTo = accessSet(privilege);
  if (privilegeTo !== undefined && (limit < Privilege.CALLBACK || limit > Privilege.OEM)) return fail(CompletionCode.INVALID_DATA_FIELD);
  if (accessTo !== undefined) ctx.bmc.state.channelAccess[accessTo][0] = access & ACCESS_BITS;
  if (privilegeTo !== undefined) ctx.bmc.state.channelAccess[privilegeTo][1] = limit;
  return ok();
}

function getUserAccess(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 2 || !channelOk(ctx.data[0] as number)) return fail(CompletionCode.INVALID_DATA_FIELD);
  const users = ctx.bmc.handler.users();
  const u = user(ctx, (ctx.data[1] as number) & 0x3f);
  if (u === undefined) return fail(CompletionCode.INVALID_DATA_FIELD);
  const enabled = users.filter((x) => x.enabled).length;
  const access = (u.callbackOnly ? 0x40 : 0) | (u.linkAuth ? 0x20 : 0) | (u.ipmiMessaging ? 0x10 : 0) | (u.privilege & 0x0f);
  // Byte 2 bits 7:6: 01b enabled, 10b disabled via Set User Password (§22.27).
  return ok(Buffer.from([users.length & 0x3f, ((u.enabled ? 0x40 : 0x80) | (enabled & 0x3f)) & 0xff, 1, access]));
}

function setUserAccess(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 3) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const b0 = ctx.data[0] as number;
  if (!channelOk(b0)) return fail(CompletionCode.INVALID_DATA_FIELD);
  const u = user(ctx, (ctx.data[1] as number) & 0x3f);
  const privilege = (ctx.data[2] as number) & 0x0f;
  if (u === undefined || (privilege > Privilege.OEM && privilege !== Privilege.NO_ACCESS) || privilege === 0) return fail(CompletionCode.INVALID_DATA_FIELD);
  if ((b0 & 0x80) !== 0) {
    u.callbackOnly = (b0 & 0x40) !== 0;
    u.linkAuth = (b0 & 0x20) !== 0;
    u.ipmiMessaging = (b0 & 0x10) !== 0;
  }
  u.privilege = privilege;
  return ok();
}

function getUserName(ctx: CommandContext): CommandReply {
  const u = user(ctx, (ctx.data[0] ?? 0) & 0x3f);
  if (u === undefined) return fail(CompletionCode.INVALID_DATA_FIELD);
  const out = Buffer.alloc(MAX_USER_NAME_LENGTH);
  Buffer.from(u.name, 'utf8').copy(out);
  return ok(out);
}

function setUserName(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 1 + MAX_USER_NAME_LENGTH) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const u = user(ctx, (ctx.data[0] as number) & 0x3f);
  // User 1 is the null user, whose name is fixed (§22.28).
  if (u === undefined || u.id === 1) return fail(CompletionCode.INVALID_DATA_FIELD);
  u.name = trimName(ctx.data.subarray(1, 1 + MAX_USER_NAME_LENGTH)).toString('utf8');
  return ok();
}

function setUserPassword(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 2) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const b0 = ctx.data[0] as number;
  const u = user(ctx, b0 & 0x3f);
  if (u === undefined) return fail(CompletionCode.INVALID_DATA_FIELD);
  const op = (ctx.data[1] as number) & 0x03;
  if (op === PasswordOp.DISABLE) u.enabled = false;
  else if (op === PasswordOp.ENABLE) u.enabled = true;
  else {
    const size = (b0 & PASSWORD_20_BYTES) !== 0 ? MAX_PASSWORD_LENGTH : 16;
    const field = ctx.data.subarray(2);
    if (field.length !== size) return fail(op === PasswordOp.TEST ? SetPasswordCode.WRONG_SIZE : CompletionCode.DATA_LENGTH_INVALID);
    const password = trimName(field);
    if (op === PasswordOp.SET) u.password = password;
    else if (!password.equals(u.password)) return fail(SetPasswordCode.TEST_FAILED);
  }
  return ok();
}

function setSessionPrivilege(ctx: CommandContext): CommandReply {
  const s = ctx.session;
  if (s === undefined) return fail(CompletionCode.INSUFFICIENT_PRIVILEGE);
  const requested = (ctx.data[0] ?? 0) & 0x0f;
  if (requested === 0) return ok(Buffer.from([s.privilege]));
  if (requested > Privilege.ADMINISTRATOR || requested < Privilege.USER) return fail(CompletionCode.INVALID_DATA_FIELD);
  const userLimit = s.user?.privilege ?? 0;
  if (requested > userLimit) return fail(SetPrivilegeCode.NOT_AVAILABLE_FOR_USER);
  const ceiling = s.kind === 'rmcp+' ? (s.maxPrivilegeGranted ?? s.maxPrivilege) : s.maxPrivilege;
  if (requested > ceiling) return fail(SetPrivilegeCode.EXCEEDS_LIMIT);
  s.privilege = requested;
  return ok(Buffer.from([requested]));
}

function closeSession(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 4 || ctx.session === undefined) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const id = ctx.data.readUInt32LE(0);
  if (id !== ctx.session.bmcSessionId && ctx.session.privilege < Privilege.ADMINISTRATOR) return fail(CompletionCode.INSUFFICIENT_PRIVILEGE);
  return ctx.bmc.closeSession(id) ? ok() : fail(CloseSessionCode.INVALID_SESSION_ID);
}

/**
 * Get Channel Payload Support (§24.8): IPMI and SOL (bits 0, 1), the session-setup payloads
 * 10h–15h (bits 0–5 of bytes 3–4), no OEM payloads.
 */
function getChannelPayloadSupport(ctx: CommandContext): CommandReply {
  if (!channelOk(ctx.data[0] ?? 0xff)) return fail(CompletionCode.INVALID_DATA_FIELD);
  return ok(Buffer.from([0x03, 0x00, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00]));
}

/** Get User Payload Access (§24.7): every enabled user may use SOL (standard payload 1). */
function getUserPayloadAccess(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 2 || !channelOk(ctx.data[0] as number)) return fail(CompletionCode.INVALID_DATA_FIELD);
  const u = user(ctx, (ctx.data[1] as number) & 0x3f);
  if (u === undefined) return fail(CompletionCode.INVALID_DATA_FIELD);
  return ok(Buffer.from([u.enabled ? 0x02 : 0x00, 0x00, 0x00, 0x00]));
}

/**
 * Get Session Info (§22.20): index 0 = this session, 1..N = the Nth active session,
 * 0xFE = by handle (byte 2), 0xFF = by session ID (bytes 2–5). Handles are 1-based positions.
 */
function getSessionInfo(ctx: CommandContext): CommandReply {
  const active = [...ctx.bmc.sessions()].filter((s) => s.state === 'active');
  const index = ctx.data[0];
  let target;
  if (index === undefined) return fail(CompletionCode.DATA_LENGTH_INVALID);
  if (index === 0x00) target = ctx.session;
  else if (index === 0xfe) target = active[(ctx.data[1] ?? 0) - 1];
  else if (index === 0xff) target = ctx.data.length >= 5 ? active.find((s) => s.bmcSessionId === ctx.data.readUInt32LE(1)) : undefined;
  else target = active[index - 1];
  const head = [active.indexOf(target as never) + 1, ctx.bmc.maxSessions & 0x3f, active.length & 0x3f];
  if (target === undefined || target.state !== 'active') return ok(Buffer.from([0, head[1] as number, head[2] as number]));
  const ip = target.remote.address.split('.').map(Number);
  const out = Buffer.alloc(18);
  out[0] = head[0] as number;
  out[1] = head[1] as number;
  out[2] = head[2] as number;
  out[3] = (target.user?.id ?? 0) & 0x3f;
  out[4] = target.privilege & 0x0f;
  // Bits 7:4 session protocol (0 IPMI 1.5, 1 IPMI 2.0/RMCP+), bits 3:0 channel.
  out[5] = ((target.kind === 'rmcp+' ? 1 : 0) << 4) | LAN_CHANNEL;
  if (ip.length === 4 && ip.every((n) => n >= 0 && n <= 255)) Buffer.from(ip).copy(out, 6);
  // MAC unknown over UDP: zeros. Port in network order, as the IP address.
  out.writeUInt16BE(target.remote.port, 16);
  return ok(out);
}

/** Every application command the emulator answers, with the least privilege it needs. */
export const appCommands: ReadonlyMap<number, CommandDef> = new Map<number, CommandDef>([
  [commandKey(NetFn.APP, AppCmd.GET_DEVICE_ID), { privilege: Privilege.USER, run: getDeviceId }],
  [commandKey(NetFn.APP, AppCmd.COLD_RESET), { privilege: Privilege.ADMINISTRATOR, run: (c) => reset(c, 'cold') }],
  [commandKey(NetFn.APP, AppCmd.WARM_RESET), { privilege: Privilege.ADMINISTRATOR, run: (c) => reset(c, 'warm') }],
  [commandKey(NetFn.APP, AppCmd.GET_SELF_TEST_RESULTS), { privilege: Privilege.USER, run: () => ok(Buffer.from([SELF_TEST_OK, 0x00])) }],
  [commandKey(NetFn.APP, AppCmd.GET_WATCHDOG_TIMER), { privilege: Privilege.USER, run: () => ok(Buffer.from(WATCHDOG)) }],
  [commandKey(NetFn.APP, AppCmd.GET_DEVICE_GUID), { privilege: Privilege.USER, run: (c) => ok(c.bmc.guid) }],
  [commandKey(NetFn.APP, AppCmd.GET_SYSTEM_GUID), { privilege: Privilege.USER, run: (c) => ok(c.bmc.guid) }],
  [commandKey(NetFn.APP, AppCmd.GET_CHANNEL_AUTH_CAPABILITIES), { privilege: Privilege.CALLBACK, run: (c) => channelAuthCapabilities(c) }],
  [commandKey(NetFn.APP, AppCmd.GET_CHANNEL_CIPHER_SUITES), { privilege: Privilege.CALLBACK, run: (c) => channelCipherSuites(c) }],
  [commandKey(NetFn.APP, AppCmd.SET_SESSION_PRIVILEGE_LEVEL), { privilege: Privilege.CALLBACK, run: setSessionPrivilege }],
  [commandKey(NetFn.APP, AppCmd.CLOSE_SESSION), { privilege: Privilege.CALLBACK, run: closeSession }],
  [commandKey(NetFn.APP, AppCmd.GET_SESSION_INFO), { privilege: Privilege.USER, run: getSessionInfo }],
  [commandKey(NetFn.APP, AppCmd.GET_CHANNEL_INFO), { privilege: Privilege.USER, run: getChannelInfo }],
  [commandKey(NetFn.APP, AppCmd.GET_CHANNEL_ACCESS), { privilege: Privilege.USER, run: getChannelAccess }],
  [commandKey(NetFn.APP, AppCmd.SET_CHANNEL_ACCESS), { privilege: Privilege.ADMINISTRATOR, run: setChannelAccess }],
  [commandKey(NetFn.APP, AppCmd.GET_USER_ACCESS), { privilege: Privilege.OPERATOR, run: getUserAccess }],
  [commandKey(NetFn.APP, AppCmd.SET_USER_ACCESS), { privilege: Privilege.ADMINISTRATOR, run: setUserAccess }],
  [commandKey(NetFn.APP, AppCmd.GET_USER_NAME), { privilege: Privilege.OPERATOR, run: getUserName }],
  [commandKey(NetFn.APP, AppCmd.SET_USER_NAME), { privilege: Privilege.ADMINISTRATOR, run: setUserName }],
  [commandKey(NetFn.APP, AppCmd.SET_USER_PASSWORD), { privilege: Privilege.ADMINISTRATOR, run: setUserPassword }],
  [commandKey(NetFn.APP, AppCmd.GET_CHANNEL_PAYLOAD_SUPPORT), { privilege: Privilege.USER, run: getChannelPayloadSupport }],
  [commandKey(NetFn.APP, AppCmd.GET_USER_PAYLOAD_ACCESS), { privilege: Privilege.OPERATOR, run: getUserPayloadAccess }],
  [commandKey(NetFn.APP, AppCmd.ACTIVATE_PAYLOAD), { privilege: Privilege.USER, run: (c) => c.bmc.sol.activate(c) }],
  [commandKey(NetFn.APP, AppCmd.DEACTIVATE_PAYLOAD), { privilege: Privilege.USER, run: (c) => c.bmc.sol.deactivate(c) }],
  [commandKey(NetFn.APP, AppCmd.GET_PAYLOAD_ACTIVATION_STATUS), { privilege: Privilege.USER, run: (c) => c.bmc.sol.activationStatus(c) }],
  [commandKey(NetFn.APP, AppCmd.GET_PAYLOAD_INSTANCE_INFO), { privilege: Privilege.USER, run: (c) => c.bmc.sol.instanceInfo(c) }],
]);
