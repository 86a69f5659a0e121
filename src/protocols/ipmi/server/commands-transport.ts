// Transport commands of the emulated BMC: LAN configuration (IPMI v2.0 §23) and SOL
// configuration (§26) parameters.
import { CompletionCode, NetFn, PARAMETER_NOT_SUPPORTED, Privilege, TransportCmd } from '../constants.ts';
import type { CommandContext, CommandDef, CommandReply } from './context.ts';
import { commandKey, fail, ok } from './context.ts';
import type { LanSettings } from './handler.ts';

/** Parameter revision 1.1, the first byte of every Get LAN/SOL Configuration reply (§23.2, §26.3). */
const PARAMETER_REVISION = 0x11;
/** Request byte 1 bit 7: "get parameter revision only". */
const REVISION_ONLY = 0x80;
const LAN_CHANNEL = 1;
const CURRENT_CHANNEL = 0x0e;

/** LAN configuration parameter numbers (§23.2, table 23-4). */
export const LanParam = {
  SET_IN_PROGRESS: 0,
  AUTH_TYPE_SUPPORT: 1,
  AUTH_TYPE_ENABLES: 2,
  IP_ADDRESS: 3,
  IP_SOURCE: 4,
  MAC_ADDRESS: 5,
  SUBNET_MASK: 6,
  IPV4_HEADER: 7,
  ARP_CONTROL: 10,
  GRATUITOUS_ARP_INTERVAL: 11,
  DEFAULT_GATEWAY: 12,
  DEFAULT_GATEWAY_MAC: 13,
  BACKUP_GATEWAY: 14,
  BACKUP_GATEWAY_MAC: 15,
  COMMUNITY_STRING: 16,
  VLAN_ID: 20,
  VLAN_PRIORITY: 21,
  CIPHER_SUITE_SUPPORT: 22,
  CIPHER_SUITE_ENTRIES: 23,
  CIPHER_SUITE_PRIVILEGES: 24,
} as const;

/** SOL configuration parameter numbers (§26.3, table 26-5). */
export const SolParam = {
  SET_IN_PROGRESS: 0,
  ENABLE: 1,
  AUTHENTICATION: 2,
  ACCUMULATE: 3,
  RETRY: 4,
  NV_BIT_RATE: 5,
  VOLATILE_BIT_RATE: 6,
  PAYLOAD_CHANNEL: 7,
  PAYLOAD_PORT: 8,
} as const;

/** 115200 baud (§26.3, parameter 5). */
const BIT_RATE_115200 = 0x0a;
/** SOL authentication: privilege user, no forced encryption/authentication (§26.3, parameter 2). */
const SOL_AUTH_USER = 0x02;
/** VLAN ID enable bit, in byte 2 of parameter 20. */
const VLAN_ENABLE = 0x80;

function ip(text: string): Buffer {
  const parts = text.split('.').map(Number);
  return Buffer.from(parts.length === 4 && parts.every((n) => n >= 0 && n <= 255) ? parts : [0, 0, 0, 0]);
}

function mac(text: string): Buffer {
  const parts = text.split(':').map((h) => Number.parseInt(h, 16));
  return Buffer.from(parts.length === 6 && parts.every((n) => n >= 0 && n <= 255) ? parts : [0, 0, 0, 0, 0, 0]);
}

const ipText = (b: Buffer) => [...b].join('.');
const macText = (b: Buffer) => [...b].map((n) => n.toString(16).padStart(2, '0')).join(':');

function lanValue(ctx: CommandContext, param: number): Buffer | undefined {
  const lan = ctx.bmc.handler.lan();
  const auth = ctx.bmc.authTypes15.reduce((m, t) => m | (t === 'none' ? 0x01 : t === 'md5' ? 0x04 : 0x10), 0);
  const suites = ctx.bmc.cipherSuites.map((s) => s.id);
  switch (param) {
    case LanParam.SET_IN_PROGRESS:
      return Buffer.from([0]);
    case LanParam.AUTH_TYPE_SUPPORT:
      return Buffer.from([auth]);
    case LanParam.AUTH_TYPE_ENABLES:
      return Buffer.from([auth, auth, auth, auth, 0]);
    case LanParam.IP_ADDRESS:
      return ip(lan.ip);
    case LanParam.IP_SOURCE:
      return Buffer.from([lan.ipSource]);
    case LanParam.MAC_ADDRESS:
      return mac(lan.mac);
    case LanParam.SUBNET_MASK:
      return ip(lan.netmask);
    case LanParam.IPV4_HEADER:
      return Buffer.from([0x40, 0x40, 0x10]);
    case LanParam.ARP_CONTROL:
    case LanParam.GRATUITOUS_ARP_INTERVAL:
      return Buffer.from([0]);
    case LanParam.DEFAULT_GATEWAY:
      return ip(lan.gateway);
    case LanParam.DEFAULT_GATEWAY_MAC:
      return mac(lan.gatewayMac);
    case LanParam.BACKUP_GATEWAY:
      return Buffer.alloc(4);
    case LanParam.BACKUP_GATEWAY_MAC:
      return Buffer.alloc(6);
    case LanParam.COMMUNITY_STRING:
      return Buffer.concat([Buffer.from('public'), Buffer.alloc(12)]);
    case LanParam.VLAN_ID:
      return Buffer.from([lan.vlanId & 0xff, ((lan.vlanId >> 8) & 0x0f) | (lan.vlanId !== 0 ? VLAN_ENABLE : 0)]);
    case LanParam.VLAN_PRIORITY:
      return Buffer.from([0]);
    case LanParam.CIPHER_SUITE_SUPPORT:
      return Buffer.from([suites.length]);
    case LanParam.CIPHER_SUITE_ENTRIES:
      return Buffer.concat([Buffer.from([0]), Buffer.from(suites)]);
    case LanParam.CIPHER_SUITE_PRIVILEGES: {
      // Two suites per byte, maximum privilege administrator (4) for each (§23.2, parameter 24).
      const out = Buffer.alloc(9);
      for (let i = 0; i < suites.length && i < 16; i++) out[1 + (i >> 1)] = (out[1 + (i >> 1)] as number) | (0x04 << ((i & 1) * 4));
      return out;
    }
    default:
      return undefined;
  }
}

function getLanConfig(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 4) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const channel = (ctx.data[0] as number) & 0x0f;
  if (channel !== LAN_CHANNEL && channel !== CURRENT_CHANNEL) return fail(CompletionCode.INVALID_DATA_FIELD);
  const value = lanValue(ctx, ctx.data[1] as number);
  if (value === undefined) return fail(PARAMETER_NOT_SUPPORTED);
  if (((ctx.data[0] as number) & REVISION_ONLY) !== 0) return ok(Buffer.from([PARAMETER_REVISION]));
  return ok(Buffer.concat([Buffer.from([PARAMETER_REVISION]), value]));
}

/** Writable LAN parameters and how each lands in LanSettings. */
const lanSetters: ReadonlyMap<number, { readonly length: number; readonly apply: (lan: LanSettings, v: Buffer) => void }> = new Map([
  [LanParam.SET_IN_PROGRESS, { length: 1, apply: () => undefined }],
  [LanParam.IP_ADDRESS, { length: 4, apply: (lan, v) => (lan.ip = ipText(v)) }],
  [LanParam.IP_SOURCE, { length: 1, apply: (lan, v) => (lan.ipSource = (v[0] as number) & 0x0f) }],
  [LanParam.MAC_ADDRESS, { length: 6, apply: (lan, v) => (lan.mac = macText(v)) }],
  [LanParam.SUBNET_MASK, { length: 4, apply: (lan, v) => (lan.netmask = ipText(v)) }],
  [LanParam.DEFAULT_GATEWAY, { length: 4, apply: (lan, v) => (lan.gateway = ipText(v)) }],
  [LanParam.DEFAULT_GATEWAY_MAC, { length: 6, apply: (lan, v) => (lan.gatewayMac = macText(v)) }],
  [LanParam.VLAN_ID, { length: 2, apply: (lan, v) => (lan.vlanId = ((v[1] as number) & VLAN_ENABLE) !== 0 ? v.readUInt16LE(0) & 0x0fff : 0) }],
] as const);

function setLanConfig(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 2) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const channel = (ctx.data[0] as number) & 0x0f;
  if (channel !== LAN_CHANNEL && channel !== CURRENT_CHANNEL) return fail(CompletionCode.INVALID_DATA_FIELD);
  const setter = lanSetters.get(ctx.data[1] as number);
  if (setter === undefined) return fail(PARAMETER_NOT_SUPPORTED);
  const value = ctx.data.subarray(2);
  if (value.length !== setter.length) return fail(CompletionCode.DATA_LENGTH_INVALID);
  setter.apply(ctx.bmc.handler.lan(), Buffer.from(value));
  return ok();
}

function solValue(ctx: CommandContext, param: number): Buffer | undefined {
  const stored = ctx.bmc.state.solConfig.get(param);
  if (stored !== undefined) return stored;
  switch (param) {
    case SolParam.SET_IN_PROGRESS:
      return Buffer.from([0]);
    case SolParam.ENABLE:
      return Buffer.from([ctx.bmc.handler.attachSol === undefined ? 0 : 1]);
    case SolParam.AUTHENTICATION:
      return Buffer.from([SOL_AUTH_USER]);
    case SolParam.ACCUMULATE:
      return Buffer.from([0x0c, 0x60]); // 60 ms, 96 characters
    case SolParam.RETRY:
      return Buffer.from([0x07, 0x32]); // 7 retries, 500 ms
    case SolParam.NV_BIT_RATE:
    case SolParam.VOLATILE_BIT_RATE:
      return Buffer.from([BIT_RATE_115200]);
    case SolParam.PAYLOAD_CHANNEL:
      return Buffer.from([LAN_CHANNEL]);
    case SolParam.PAYLOAD_PORT:
      return Buffer.from([ctx.bmc.port & 0xff, ctx.bmc.port >> 8]);
    default:
      return undefined;
  }
}

function getSolConfig(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 4) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const value = solValue(ctx, ctx.data[1] as number);
  if (value === undefined) return fail(PARAMETER_NOT_SUPPORTED);
  if (((ctx.data[0] as number) & REVISION_ONLY) !== 0) return ok(Buffer.from([PARAMETER_REVISION]));
  return ok(Buffer.concat([Buffer.from([PARAMETER_REVISION]), value]));
}

function setSolConfig(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 3) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const param = ctx.data[1] as number;
  const current = solValue(ctx, param);
  if (current === undefined || param === SolParam.PAYLOAD_PORT || param === SolParam.PAYLOAD_CHANNEL) return fail(PARAMETER_NOT_SUPPORTED);
  const value = ctx.data.subarray(2);
  if (value.length !== current.length) return fail(CompletionCode.DATA_LENGTH_INVALID);
  if (param !== SolParam.SET_IN_PROGRESS) ctx.bmc.state.solConfig.set(param, Buffer.from(value));
  return ok();
}

export const transportCommands: ReadonlyMap<number, CommandDef> = new Map<number, CommandDef>([
  [commandKey(NetFn.TRANSPORT, TransportCmd.GET_LAN_CONFIG_PARAMETERS), { privilege: Privilege.OPERATOR, run: getLanConfig }],
  [commandKey(NetFn.TRANSPORT, TransportCmd.SET_LAN_CONFIG_PARAMETERS), { privilege: Privilege.ADMINISTRATOR, run: setLanConfig }],
  [commandKey(NetFn.TRANSPORT, TransportCmd.GET_SOL_CONFIG_PARAMETERS), { privilege: Privilege.USER, run: getSolConfig }],
  [commandKey(NetFn.TRANSPORT, TransportCmd.SET_SOL_CONFIG_PARAMETERS), { privilege: Privilege.ADMINISTRATOR, run: setSolConfig }],
]);
