// ipmitool's output for the BMC's own state (lib/ipmi_mc.c, ipmi_chassis.c, ipmi_channel.c,
// ipmi_session.c of ipmitool 1.8.19): `mc selftest`, `mc watchdog get`, `chassis policy`,
// `channel info` and `session info`. Pure functions: values in, lines out.
import type { ChannelAccess, ChannelInfo, SessionInfo } from '../protocols/ipmi/commands/channel.ts';
import type { PolicyRequest, PowerRestorePolicy } from '../protocols/ipmi/commands/chassis.ts';
import { SelfTestCode } from '../protocols/ipmi/commands/mc.ts';
import type { SelfTestResult, WatchdogTimer } from '../protocols/ipmi/commands/mc.ts';
import { privilegeText } from './ipmi-format.ts';

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** Bits of byte 2 when the self test says 0x57, from bit 7 down, as ipmitool words them. */
const CORRUPTED = [
  ' -> SEL device not accessible',
  ' -> SDR repository not accessible',
  'FRU device not accessible',
  'IPMB signal lines do not respond',
  'SDR repository empty',
  'Internal Use Area corrupted',
  'Controller update boot block corrupted',
  'controller operational firmware corrupted',
];

/** `mc selftest`, and whether ipmitool calls it a failure (exit status 1). */
export function selfTestLines(r: SelfTestResult): { lines: string[]; failed: boolean } {
  switch (r.code) {
    case SelfTestCode.PASSED:
      return { lines: ['Selftest: passed'], failed: false };
    case SelfTestCode.NOT_IMPLEMENTED:
      return { lines: ['Selftest: not implemented'], failed: true };
    case SelfTestCode.DEVICE_CORRUPTED:
      return { lines: ['Selftest: device corrupted', ...CORRUPTED.filter((_, i) => r.detail & (0x80 >> i))], failed: true };
    case SelfTestCode.FATAL_ERROR:
      return { lines: ['Selftest     : fatal error', `Failure code : ${hex2(r.detail)}`], failed: true };
    case 0xff:
      return { lines: ['Selftest: N/A'], failed: true };
    default:
      return {
        lines: [`Selftest     : device specific (${hex2(r.code).toUpperCase()}h)`, `Failure code : ${hex2(r.detail).toUpperCase()}h`],
        failed: false,
      };
  }
}

const TIMER_USE = ['Reserved', 'BIOS FRB2', 'BIOS/POST', 'OS Load', 'SMS/OS', 'OEM', 'Reserved', 'Reserved'];
const TIMER_ACTION = ['No action', 'Hard Reset', 'Power Down', 'Power Cycle', 'Reserved', 'Reserved', 'Reserved', 'Reserved'];
const PRE_TIMEOUT_INTERRUPT = ['None', 'SMI', 'NMI/Diagnostic', 'Messaging', 'Reserved', 'Reserved', 'Reserved', 'Reserved'];

/** `mc watchdog get`. A countdown the BMC left out prints as 0. */
export function watchdogLines(w: WatchdogTimer): string[] {
  const lines = [
    `Watchdog Timer Use:     ${TIMER_USE[w.use & 0x07]} (0x${hex2(w.use)})`,
    `Watchdog Timer Is:      ${w.use & 0x40 ? 'Started/Running' : 'Stopped'}`,
    `Watchdog Timer Logging: ${w.use & 0x80 ? 'Off' : 'On'}`,
    `Watchdog Timer Action:  ${TIMER_ACTION[w.action & 0x07]} (0x${hex2(w.action)})`,
    `Pre-timeout interrupt:  ${PRE_TIMEOUT_INTERRUPT[(w.action >> 4) & 0x07]}`,
    `Pre-timeout interval:   ${w.preTimeout} seconds`,
    `Timer Expiration Flags: ${w.expirationFlags ? '' : 'None '}(0x${hex2(w.expirationFlags)})`,
  ];
  for (let bit = 0; bit < 8; bit++) if (w.expirationFlags & (1 << bit)) lines.push(`                        * ${TIMER_USE[bit]}`);
  lines.push(
    `Initial Countdown:      ${(w.initialCountdown / 10).toFixed(1)} sec`,
    `Present Countdown:      ${((w.presentCountdown ?? 0) / 10).toFixed(1)} sec`,
  );
  return lines;
}

/** `chassis policy list` and `chassis policy <policy>`. */
export function policyLines(asked: PolicyRequest, supported: readonly PowerRestorePolicy[]): string[] {
  if (asked === 'no-change') return [`Supported chassis power policy:  ${supported.map((p) => (p === 'previous' ? p : `${p} `)).join('')}`];
  return [`Set chassis power restore policy to ${asked}`];
}

/** Channel medium types (§6.5, table 6-3) in ipmitool's words. */
const MEDIUM = [
  'reserved',
  'IPMB (I2C)',
  'ICMB v1.0',
  'ICMB v0.9',
  '802.3 LAN',
  'Serial/Modem',
  'Other LAN',
  'PCI SMBus',
  'SMBus v1.0/v1.1',
  'SMBus v2.0',
  'USB 1.x',
  'USB 2.x',
  'System Interface',
];
/** Channel protocol types (§6.6, table 6-2). */
const PROTOCOL: Readonly<Record<number, string>> = {
  0x00: 'reserved',
  0x01: 'IPMB-1.0',
  0x02: 'ICMB-1.0',
  0x03: 'reserved',
  0x04: 'IPMI-SMBus',
  0x05: 'KCS',
  0x06: 'SMIC',
  0x07: 'BT-10',
  0x08: 'BT-15',
  0x09: 'TMode',
  0x1c: 'OEM 1',
  0x1d: 'OEM 2',
  0x1e: 'OEM 3',
  0x1f: 'OEM 4',
};
const ACCESS_MODE = ['disabled', 'pre-boot only', 'always available', 'shared'];
const unknown = (n: number) => `Unknown (0x${hex2(n).toUpperCase()})`;
/** Medium types that are LAN channels, whose access settings ipmitool goes on to print. */
export const LAN_MEDIA: ReadonlySet<number> = new Set([0x04, 0x06]);

function accessLines(a: ChannelAccess): string[] {
  const able = (disabled: boolean) => (disabled ? 'disabled' : 'enabled');
  return [
    `    Alerting            : ${able(a.alertingDisabled)}`,
    `    Per-message Auth    : ${able(a.perMessageAuthDisabled)}`,
    `    User Level Auth     : ${able(a.userLevelAuthDisabled)}`,
    `    Access Mode         : ${ACCESS_MODE[a.accessMode] ?? 'unknown'}`,
  ];
}

/** `channel info [n]`; the access settings are there for LAN channels only. */
export function channelInfoLines(i: ChannelInfo, access?: { volatile: ChannelAccess; nonVolatile: ChannelAccess }): string[] {
  const lines = [
    `Channel 0x${i.channel.toString(16)} info:`,
    `  Channel Medium Type   : ${MEDIUM[i.medium] ?? unknown(i.medium)}`,
    `  Channel Protocol Type : ${PROTOCOL[i.protocol] ?? unknown(i.protocol)}`,
    `  Session Support       : ${i.sessionSupport}`,
    `  Active Session Count  : ${i.activeSessions}`,
    `  Protocol Vendor ID    : ${i.vendorId}`,
  ];
  if (access) lines.push('  Volatile(active) Settings', ...accessLines(access.volatile), '  Non-Volatile Settings', ...accessLines(access.nonVolatile));
  return lines;
}

/** `session info active` (one block per session; ipmitool ends each with an empty line). With csv, `-c session info`. */
export function sessionInfoLines(s: SessionInfo, csv = false): string[] {
  const fields: [string, string][] = [
    ['session handle', String(s.handle)],
    ['slot count', String(s.slotCount)],
    ['active sessions', String(s.activeSessions)],
  ];
  const d = s.session;
  if (d) {
    fields.push(
      ['user id', String(d.userId)],
      ['privilege level', privilegeText(d.privilege)],
      ['session type', d.protocol ? 'IPMIv2/RMCP+' : 'IPMIv1.5'],
      ['channel number', `0x${hex2(d.channel)}`],
    );
    if (d.lan) fields.push(['console ip', d.lan.ip], ['console mac', d.lan.mac], ['console port', String(d.lan.port)]);
  }
  if (csv) return [fields.map(([, v]) => v).join(',')];
  return [...fields.map(([k, v]) => `${k.padEnd(30)}: ${v}`), ''];
}
