// The `anvil ipmi` verbs that read or change a BMC's configuration, as ipmitool spells them
// and prints them: user priv (lib/ipmi_user.c), lan set (lib/ipmi_lanp.c) and sol info
// (lib/ipmi_sol.c).
import type { Bmc } from '../protocols/ipmi/client/bmc.ts';
import { IpmiCommandError, IpmiSessionError } from '../protocols/ipmi/client/errors.ts';
import { decodeChannelAccess, decodeChannelInfo, getChannelAccess, getChannelInfo, setChannelAccess } from '../protocols/ipmi/commands/channel.ts';
import { encodeIpv4, LanParam, setLanConfig } from '../protocols/ipmi/commands/lan.ts';
import {
  decodeSolAuthentication,
  decodeSolCharacterInterval,
  decodeSolConfig,
  decodeSolPayloadPort,
  decodeSolRetry,
  getSolConfig,
  SOL_BIT_RATES,
  SolParam,
} from '../protocols/ipmi/commands/sol-config.ts';
import { setUserPrivilege } from '../protocols/ipmi/commands/users.ts';
import { NetFn, PARAMETER_NOT_SUPPORTED, TransportCmd } from '../protocols/ipmi/constants.ts';
import { UsageError } from './command.ts';
import { hexByte } from './ipmi-args.ts';
import type { IpmiVerb, OutputFlags } from './ipmi-commands.ts';
import { LAN_MEDIA } from './ipmi-format-mc.ts';

/** Channel numbers ipmitool accepts (is_ipmi_channel_num): 0..0xB, 0xE, 0xF. */
function channelNumber(text: string, verb: string): number {
  const n = hexByte(text);
  if (n > 0x0b && n !== 0x0e && n !== 0x0f) throw new UsageError(`${verb}: channel '${text}' must be 0 to 11, 14 or 15`);
  return n;
}

/** ipmitool's privilege words for a user limit (ipmi_privlvl_vals). */
const PRIVILEGE_NAMES: Readonly<Record<number, string>> = { 1: 'CALLBACK', 2: 'USER', 3: 'OPERATOR', 4: 'ADMINISTRATOR', 5: 'OEM', 15: 'NO ACCESS' };

const userPriv: IpmiVerb = {
  words: ['user', 'priv'],
  args: '<id> <privilege level> [channel]',
  note: '(levels: 1 callback, 2 user, 3 operator, 4 administrator, 5 OEM, 15 no access)',
  fleet: false,
  prepare: ([idText, levelText, channelText, ...rest]) => {
    if (idText === undefined || levelText === undefined || rest.length > 0) return undefined;
    const uid = Number(idText);
    if (!Number.isInteger(uid) || uid < 1 || uid > 63) throw new UsageError(`user priv: user id must be 1 to 63, not '${idText}'`);
    const level = hexByte(levelText);
    if (PRIVILEGE_NAMES[level] === undefined) throw new UsageError(`user priv: privilege level '${levelText}' is not 1 to 5 or 15 (0xF)`);
    const channel = channelText === undefined ? undefined : channelNumber(channelText, 'user priv');
    return async (b) => {
      try {
        await b.send(setUserPrivilege(uid, level, channel));
      } catch (error) {
        if (error instanceof IpmiCommandError) error.message = `Set Privilege Level command failed (user ${uid}): ${error.message}`;
        throw error;
      }
      return { lines: [`Set Privilege Level command successful (user ${uid})`], json: { id: uid, privilege: level, channel: channel ?? null } };
    };
  },
};

/** Set In Progress values (§23.2 parameter 0). */
const SetState = { complete: 0, inProgress: 1, commitWrite: 2 } as const;

/**
 * One LAN parameter written the way ipmitool's set_lan_param writes it: set-in-progress taken
 * (where the BMC has it; a refusal is no error, it is optional), the value written and read
 * back, then committed and released.
 */
async function writeLanParam(b: Bmc, channel: number, param: number, value: Uint8Array): Promise<void> {
  const lockable = (await b.lanParamOptional(LanParam.setInProgress, channel)) !== undefined;
  const setState = (state: number) => b.session.requestRaw(setLanConfig(LanParam.setInProgress, [state], channel));
  if (lockable) await setState(SetState.inProgress);
  try {
    await b.setLanParam(param, value, channel);
    const back = await b.lanParamOptional(param, channel);
    if (back !== undefined && Buffer.compare(Buffer.from(back.subarray(0, value.length)), Buffer.from(value)) !== 0)
      throw new IpmiSessionError(b.host, `LAN parameter ${param} reads back other data than was set: the write may have failed`);
  } finally {
    if (lockable) {
      await setState(SetState.commitWrite);
      await setState(SetState.complete);
    }
  }
}

function ipArgument(text: string | undefined): Uint8Array {
  try {
    if (text === undefined) throw new RangeError('none');
    return encodeIpv4(text);
  } catch {
    throw new UsageError(`lan set: invalid IP address: ${text ?? '(none)'}`);
  }
}

/** A MAC address as ipmitool's str2mac reads one: six groups of one or two hex digits. */
function macArgument(text: string | undefined): Uint8Array {
  const groups = text?.split(':') ?? [];
  if (groups.length !== 6 || !groups.every((g) => /^[0-9a-f]{1,2}$/i.test(g))) throw new UsageError(`lan set: invalid MAC address: ${text ?? '(none)'}`);
  return Uint8Array.from(groups, (g) => Number.parseInt(g, 16));
}

/** ipmitool's ipsrc words (Table 23-4 parameter 4). */
const IP_SOURCES: Readonly<Record<string, number>> = { none: 0, static: 1, dhcp: 2, bios: 3 };
/** Channel access modes of `lan set access` (§22.22): disabled, always available. */
const ACCESS_MODES: Readonly<Record<string, number>> = { off: 0, on: 2 };
/** `lan set access` gives the channel this privilege limit, as ipmitool does. */
const ACCESS_PRIVILEGE = 4;

type LanSetting = { readonly label?: string; readonly param: number; readonly value: Uint8Array; readonly shown?: string } | { readonly access: number };

function lanSetting(words: readonly string[]): LanSetting | undefined {
  const [what, a, b] = words;
  const address = (label: string, param: number, text: string | undefined): LanSetting => {
    const value = ipArgument(text);
    return { label, param, value, shown: Array.from(value).join('.') };
  };
  if (what === 'ipaddr' && words.length === 2) return address('IP Address', LanParam.ipAddress, a);
  if (what === 'netmask' && words.length === 2) return address('Subnet Mask', LanParam.subnetMask, a);
  if (what === 'defgw' && a === 'ipaddr' && words.length === 3) return address('Default Gateway IP', LanParam.defaultGatewayIp, b);
  const hardware = (label: string, param: number, text: string | undefined): LanSetting => {
    const value = macArgument(text);
    return { label, param, value, shown: Array.from(value, (n) => n.toString(16).padStart(2, '0')).join(':') };
  };
  if (what === 'macaddr' && words.length === 2) return hardware('MAC Address', LanParam.macAddress, a);
  if (what === 'defgw' && a === 'macaddr' && words.length === 3) return hardware('Default Gateway MAC', LanParam.defaultGatewayMac, b);
  if (what === 'ipsrc' && words.length === 2) {
    const source = a === undefined ? undefined : IP_SOURCES[a];
    if (source === undefined) throw new UsageError(`lan set ipsrc: source '${a ?? ''}' is not one of none, static, dhcp, bios`);
    return { param: LanParam.ipAddressSource, value: Uint8Array.of(source) };
  }
  if (what === 'access' && words.length === 2) {
    const mode = a === undefined ? undefined : ACCESS_MODES[a];
    if (mode === undefined) throw new UsageError(`lan set access: expected on or off, not '${a ?? ''}'`);
    return { access: mode };
  }
  return undefined;
}

/** `lan set access on|off` (ipmi_set_channel_access): both sets, privilege limit administrator. */
async function setLanAccess(b: Bmc, channel: number, mode: number): Promise<void> {
  for (const which of ['non-volatile', 'volatile'] as const) {
    const current = decodeChannelAccess(await b.send(getChannelAccess(channel, which)));
    await b.send(setChannelAccess(channel, which, { ...current, accessMode: mode, privilegeLimit: ACCESS_PRIVILEGE }));
  }
}

/** As ipmitool's is_lan_channel: a channel 1..11 whose medium is 802.3 or other LAN (§6.5); a channel the BMC does not have is none. */
async function isLanChannel(b: Bmc, channel: number): Promise<boolean> {
  if (channel < 1 || channel > 0x0b) return false;
  const res = await b.session.requestRaw(getChannelInfo(channel));
  return res.completionCode === 0 && LAN_MEDIA.has(decodeChannelInfo(res.data).medium);
}

const lanSet: IpmiVerb = {
  words: ['lan', 'set'],
  args: '<channel> ipaddr|netmask|defgw ipaddr <x.x.x.x>, macaddr|defgw macaddr <xx:xx:xx:xx:xx:xx>, ipsrc static|dhcp|none|bios, access on|off',
  fleet: false,
  prepare: ([channelText, ...words]) => {
    if (channelText === undefined) return undefined;
    const channel = hexByte(channelText);
    const setting = lanSetting(words);
    if (setting === undefined) return undefined;
    return async (b) => {
      // As ipmitool: only a LAN channel (802.3 or other LAN, §6.5) takes LAN parameters.
      if (!(await isLanChannel(b, channel))) throw new UsageError(`lan set: channel ${channel} is not a LAN channel`);
      if ('access' in setting) {
        await setLanAccess(b, channel, setting.access);
        return { lines: [`Set Channel Access for channel ${channel} was successful.`], json: { channel, access: setting.access === 0 ? 'off' : 'on' } };
      }
      // ipmitool says what it sets before it sets it: the line is on stdout even when the write fails.
      const lines = setting.label !== undefined ? [`Setting LAN ${setting.label} to ${setting.shown}`] : [];
      const json = { channel, param: setting.param, value: Buffer.from(setting.value).toString('hex') };
      try {
        await writeLanParam(b, channel, setting.param, setting.value);
      } catch (error) {
        if (!(error instanceof IpmiCommandError || error instanceof IpmiSessionError)) throw error;
        process.stderr.write(`anvil ipmi: ${error.message}\n`);
        return { lines, json: { ...json, error: error.message }, code: 1 };
      }
      return { lines, json };
    };
  },
};

/** ipmitool's names of the SOL parameters, for its messages (sol_parameter_vals). */
const SOL_PARAM_NAMES: Readonly<Record<number, string>> = {
  [SolParam.setInProgress]: 'Set In Progress (0)',
  [SolParam.enable]: 'Enable (1)',
  [SolParam.authentication]: 'Authentication (2)',
  [SolParam.characterInterval]: 'Character Interval (3)',
  [SolParam.retry]: 'Retry (4)',
  [SolParam.nonVolatileBitRate]: 'Nonvolatile Bitrate (5)',
  [SolParam.volatileBitRate]: 'Volatile Bitrate (6)',
  [SolParam.payloadChannel]: 'Payload Channel (7)',
  [SolParam.payloadPort]: 'Payload Port (8)',
};
/** The data length of each parameter ipmitool accepts; another length is reported and the value left at 0. */
const SOL_PARAM_LENGTHS: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 1, 3: 2, 4: 2, 5: 1, 6: 1, 7: 1, 8: 2 };
const SET_IN_PROGRESS_NAMES = ['set-complete', 'set-in-progress', 'commit-write'];

const unknown = (n: number) => `Unknown (0x${n.toString(16).toUpperCase().padStart(2, '0')})`;

export interface SolInfo {
  readonly setInProgress: string;
  readonly enabled: boolean;
  readonly forceEncryption: boolean;
  readonly forceAuthentication: boolean;
  readonly privilege: string;
  readonly accumulateMs: number;
  readonly sendThreshold: number;
  readonly retryCount: number;
  readonly retryIntervalMs: number;
  readonly volatileBitRate: string;
  readonly nonVolatileBitRate: string;
  readonly payloadChannel: number;
  readonly payloadPort: number;
}

/** The nine parameters in ipmitool's order, each defaulting as ipmi_get_sol_info does when the BMC lacks it. */
async function solInfo(b: Bmc, channel: number): Promise<SolInfo> {
  const read = async (param: number): Promise<Uint8Array | undefined> => {
    const res = await b.session.requestRaw(getSolConfig(param, channel));
    const name = SOL_PARAM_NAMES[param] ?? String(param);
    if (res.completionCode === PARAMETER_NOT_SUPPORTED) {
      const fallback =
        param === SolParam.payloadChannel
          ? ` - defaulting to 0x${channel.toString(16).padStart(2, '0')}`
          : param === SolParam.payloadPort
            ? ` - defaulting to ${b.session.target.port}`
            : '';
      process.stderr.write(`Info: SOL parameter '${name}' not supported${fallback}\n`);
      return undefined;
    }
    if (res.completionCode !== 0)
      throw new IpmiCommandError(
        b.host,
        `Get SOL Configuration Parameters '${name}'`,
        NetFn.TRANSPORT,
        TransportCmd.GET_SOL_CONFIG_PARAMETERS,
        res.completionCode,
      );
    const value = decodeSolConfig(res.data);
    if (value.length !== SOL_PARAM_LENGTHS[param]) {
      process.stderr.write(`Error: Unexpected data length (${res.data.length}) received for SOL parameter '${name}'\n`);
      return undefined;
    }
    return value;
  };
  const sip = await read(SolParam.setInProgress);
  const enable = await read(SolParam.enable);
  const auth = await read(SolParam.authentication);
  const interval = await read(SolParam.characterInterval);
  const retry = await read(SolParam.retry);
  const nonVolatile = await read(SolParam.nonVolatileBitRate);
  const volatile = await read(SolParam.volatileBitRate);
  const payloadChannel = await read(SolParam.payloadChannel);
  const payloadPort = await read(SolParam.payloadPort);
  const a = auth ? decodeSolAuthentication(auth) : { forceEncryption: false, forceAuthentication: false, privilege: 0 };
  const i = interval ? decodeSolCharacterInterval(interval) : { accumulateMs: 0, sendThreshold: 0 };
  const r = retry ? decodeSolRetry(retry) : { count: 0, intervalMs: 0 };
  const rate = (v: Uint8Array | undefined) => {
    const code = (v?.[0] ?? 0) & 0x0f;
    return code === 0 ? 'IPMI-Over-Serial-Setting' : (SOL_BIT_RATES[code] ?? unknown(code));
  };
  const sipCode = (sip?.[0] ?? 0) & 0x03;
  return {
    setInProgress: SET_IN_PROGRESS_NAMES[sipCode] ?? unknown(sipCode),
    enabled: (enable?.[0] ?? 0) !== 0,
    forceEncryption: a.forceEncryption,
    forceAuthentication: a.forceAuthentication,
    privilege: PRIVILEGE_NAMES[a.privilege] ?? unknown(a.privilege),
    accumulateMs: i.accumulateMs,
    sendThreshold: i.sendThreshold,
    retryCount: r.count,
    retryIntervalMs: r.intervalMs,
    volatileBitRate: rate(volatile),
    nonVolatileBitRate: rate(nonVolatile),
    payloadChannel: payloadChannel ? (payloadChannel[0] ?? 0) : channel,
    payloadPort: payloadPort ? decodeSolPayloadPort(payloadPort) : b.session.target.port,
  };
}

/** ipmitool's ipmi_print_sol_info, in its table or -c form (whose fourth field repeats Force Encryption, as ipmitool's does). */
export function solInfoLines(s: SolInfo, csv: boolean): string[] {
  if (csv)
    return [
      [
        s.setInProgress,
        s.enabled,
        s.forceEncryption,
        s.forceEncryption,
        s.privilege,
        s.accumulateMs,
        s.sendThreshold,
        s.retryCount,
        s.retryIntervalMs,
        s.volatileBitRate,
        s.nonVolatileBitRate,
        s.payloadChannel,
        s.payloadPort,
      ].join(','),
    ];
  const row = (label: string, value: string | number | boolean) => `${label.padEnd(32)}: ${value}`;
  return [
    row('Set in progress', s.setInProgress),
    row('Enabled', s.enabled),
    row('Force Encryption', s.forceEncryption),
    row('Force Authentication', s.forceAuthentication),
    row('Privilege Level', s.privilege),
    row('Character Accumulate Level (ms)', s.accumulateMs),
    row('Character Send Threshold', s.sendThreshold),
    row('Retry Count', s.retryCount),
    row('Retry Interval (ms)', s.retryIntervalMs),
    row('Volatile Bit Rate (kbps)', s.volatileBitRate),
    row('Non-Volatile Bit Rate (kbps)', s.nonVolatileBitRate),
    row('Payload Channel', `${s.payloadChannel} (0x${s.payloadChannel.toString(16).padStart(2, '0')})`),
    row('Payload Port', s.payloadPort),
  ];
}

const solInfoVerb: IpmiVerb = {
  words: ['sol', 'info'],
  args: '[channel]',
  fleet: false,
  prepare: ([text, ...rest], flags: OutputFlags) => {
    if (rest.length > 0) return undefined;
    const channel = text === undefined ? 0x0e : channelNumber(text, 'sol info');
    return async (b) => {
      const s = await solInfo(b, channel);
      return { lines: solInfoLines(s, flags.csv), json: s };
    };
  },
};

export const CONFIG_VERBS = { user: [userPriv], lan: [lanSet], sol: [solInfoVerb] } as const;
