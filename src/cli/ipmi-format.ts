// Text output of `anvil ipmi`, line for line as ipmitool 1.8.19 prints it (lib/ipmi_chassis.c,
// ipmi_mc.c, ipmi_user.c, ipmi_sdr.c, ipmi_sel.c, ipmi_fru.c, ipmi_lanp.c), so scripts that
// parse ipmitool keep working. Pure functions: values in, lines out.
import type { BootOptionsResponse, ChassisStatus } from '../protocols/ipmi/commands/chassis.ts';
import { MANUFACTURERS } from '../protocols/ipmi/commands/device.ts';
import type { DeviceId } from '../protocols/ipmi/commands/device.ts';
import type { UserAccess } from '../protocols/ipmi/commands/users.ts';
import type { SdrRecord, ThresholdName } from '../protocols/ipmi/commands/sdr.ts';
import { convertReading, THRESHOLD_ORDER } from '../protocols/ipmi/commands/sdr.ts';
import { unitName } from '../protocols/ipmi/commands/sensor-names.ts';
import type { SelInfo, SelRecord } from '../protocols/ipmi/commands/sel.ts';
import { SEL_RECORD_LENGTH } from '../protocols/ipmi/commands/sel.ts';
import type { FruInventory } from '../protocols/ipmi/commands/fru.ts';
import type { SensorValue } from '../protocols/ipmi/client/inventory.ts';

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

export function chassisStatusLines(s: ChassisStatus): string[] {
  return [
    `System Power         : ${s.powerOn ? 'on' : 'off'}`,
    `Power Overload       : ${s.powerOverload}`,
    `Power Interlock      : ${s.powerInterlock ? 'active' : 'inactive'}`,
    `Main Power Fault     : ${s.mainPowerFault}`,
    `Power Control Fault  : ${s.powerControlFault}`,
    `Power Restore Policy : ${s.powerRestorePolicy}`,
    // ipmitool puts a space after every word but the last possible one, "command".
    `Last Power Event     : ${s.lastPowerEvent.map((e) => (e === 'command' ? e : e + ' ')).join('')}`,
    `Chassis Intrusion    : ${s.chassisIntrusion ? 'active' : 'inactive'}`,
    `Front-Panel Lockout  : ${s.frontPanelLockout ? 'active' : 'inactive'}`,
    `Drive Fault          : ${s.driveFault}`,
    `Cooling/Fan Fault    : ${s.coolingFault}`,
    ...frontPanelLines(s.frontPanel),
  ];
}

/** Byte 4 of Get Chassis Status (§28.2): bits 7:4 "disable allowed", bits 3:0 "disabled" (sleep, diag, reset, power). */
function frontPanelLines(b: number | undefined): string[] {
  if (b === undefined) return [];
  if (b === 0) return ['Front Panel Control  : none'];
  const buttons = ['Sleep', 'Diag', 'Reset', 'Power'];
  return [
    ...buttons.map((n, i) => `${`${n} Button Disable`.padEnd(21)}: ${b & (0x80 >> i) ? 'allowed' : 'not allowed'}`),
    ...buttons.map((n, i) => `${`${n} Button Disabled`.padEnd(21)}: ${b & (0x08 >> i) ? 'true' : 'false'}`),
  ];
}

export function mcInfoLines(d: DeviceId): string[] {
  const lines = [
    `Device ID                 : ${d.deviceId}`,
    `Device Revision           : ${d.deviceRevision}`,
    `Firmware Revision         : ${d.firmwareMajor}.${String(d.firmwareMinor).padStart(2, '0')}`,
    `IPMI Version              : ${d.ipmiVersion}`,
    `Manufacturer ID           : ${d.manufacturerId}`,
    `Manufacturer Name         : ${MANUFACTURERS[d.manufacturerId] ?? `Unknown (0x${d.manufacturerId.toString(16).toUpperCase()})`}`,
    `Product ID                : ${d.productId} (0x${d.productId.toString(16).padStart(4, '0')})`,
    `Product Name              : Unknown (0x${d.productId.toString(16).toUpperCase().padStart(2, '0')})`,
    `Device Available          : ${d.available ? 'yes' : 'no'}`,
    `Provides Device SDRs      : ${d.providesSdrs ? 'yes' : 'no'}`,
    'Additional Device Support :',
    ...d.support.map((s) => `    ${s}`),
  ];
  if (d.auxFirmware) lines.push('Aux Firmware Rev Info     : ', ...Array.from(d.auxFirmware, (b) => `    0x${hex2(b)}`));
  return lines;
}

/** RFC 4122 §4.1.3 versions, in ipmitool's words. */
const GUID_VERSIONS: Readonly<Record<number, string>> = {
  1: 'Time-based',
  2: 'DCE Security with POSIX UIDs (not for IPMI)',
  3: 'Name-based using MD5',
  4: 'Random or pseudo-random',
  5: 'Name-based using SHA-1',
};

/** 100 ns intervals between the RFC 4122 epoch (1582-10-15) and the Unix epoch (§4.1.4). */
const UUID_EPOCH_OFFSET = 122192928000000000n;

export function guidLines(guid: string): string[] {
  const version = parseInt(guid[14] ?? '0', 16);
  const lines = [`System GUID   : ${guid}`, 'GUID Encoding : IPMI', `GUID Version  : ${GUID_VERSIONS[version] ?? `Unknown (${version})`}`];
  if (version === 1) {
    // Time-based: time_hi (12 bits) ‖ time_mid ‖ time_low counts 100 ns since 1582 (RFC 4122 §4.1.4).
    // (ipmitool squeezes the seconds into 32 bits, so it prints other dates after 2106.)
    const [low = '0', mid = '0', hi = '0'] = guid.split('-');
    const ticks = (BigInt(`0x${hi.slice(1)}`) << 48n) | (BigInt(`0x${mid}`) << 32n) | BigInt(`0x${low}`);
    lines.push(`Timestamp     : ${shortDate(new Date(Number((ticks - UUID_EPOCH_OFFSET) / 10000n)))}`);
  }
  return lines;
}

/** ipmitool's strftime("%x %X %Z") in UTC: 06/21/03 08:54:15 UTC. */
function shortDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${p(d.getUTCFullYear() % 100)} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC`;
}

const DEVICE_SELECTOR: Readonly<Record<number, string>> = {
  0x00: 'No override',
  0x04: 'Force PXE',
  0x08: 'Force Boot from default Hard-Drive',
  0x0c: 'Force Boot from default Hard-Drive, request Safe-Mode',
  0x10: 'Force Boot from Diagnostic Partition',
  0x14: 'Force Boot from CD/DVD',
  0x18: 'Force Boot into BIOS Setup',
  0x1c: 'Force Boot from remotely connected Floppy/primary removable media',
  0x20: 'Force Boot from remotely connected CD/DVD',
  0x24: 'Force Boot from primary remote media',
  0x2c: 'Force Boot from remotely connected Hard-Drive',
  0x3c: 'Force Boot from Floppy/primary removable media',
};
const VERBOSITY = ['System Default', 'Request Quiet Display', 'Request Verbose Display', 'Flag error'];
const REDIRECTION = [
  'Console redirection occurs per BIOS configuration setting (default)',
  'Suppress (skip) console redirection if enabled',
  'Request console redirection be enabled',
  'reserved',
];
const MUX = [
  'BIOS uses recommended setting of the mux at the end of POST',
  'Requests BIOS to force mux to BMC at conclusion of POST/start of OS boot',
  'Requests BIOS to force mux to system at conclusion of POST/start of OS boot',
  'reserved',
];

/** `chassis bootparam get N`; parameter 5 is spelled out as ipmitool does. */
export function bootParamLines(param: number, r: BootOptionsResponse): string[] {
  const lines = [
    `Boot parameter version: ${r.version}`,
    `Boot parameter ${param} is ${r.locked ? 'invalid/locked' : 'valid/unlocked'}`,
    `Boot parameter data: ${Array.from(r.data, hex2).join('')}`,
  ];
  if (param !== 5 || r.data.length < 5) return lines;
  const [b1 = 0, b2 = 0, b3 = 0, , b5 = 0] = r.data;
  lines.push(
    ' Boot Flags :',
    `   - Boot Flag ${b1 & 0x80 ? 'Valid' : 'Invalid'}`,
    `   - Options apply to ${b1 & 0x40 ? 'all future boots' : 'only next boot'}`,
    `   - ${b1 & 0x20 ? 'BIOS EFI boot ' : 'BIOS PC Compatible (legacy) boot '}`,
  );
  if (b2 & 0x80) lines.push('   - CMOS Clear');
  if (b2 & 0x40) lines.push('   - Lock Keyboard');
  lines.push(`   - Boot Device Selector : ${DEVICE_SELECTOR[b2 & 0x3c] ?? 'Reserved'}`);
  if (b2 & 0x02) lines.push('   - Screen Blank');
  if (b2 & 0x01) lines.push('   - Lock out Reset buttons');
  if (b3 & 0x80) lines.push('   - Lock out (power off/sleep request) via Power Button');
  lines.push(
    `   - BIOS verbosity : ${VERBOSITY[(b3 >> 5) & 0x03]}`,
    `   - Console Redirection control : ${REDIRECTION[b3 & 0x03]}`,
    `   - BIOS Mux Control Override : ${MUX[b5 & 0x03]}`,
  );
  return lines;
}

const PRIVILEGE_NAMES: Readonly<Record<number, string>> = { 1: 'CALLBACK', 2: 'USER', 3: 'OPERATOR', 4: 'ADMINISTRATOR', 5: 'OEM', 0x0f: 'NO ACCESS' };

export function privilegeText(level: number): string {
  return PRIVILEGE_NAMES[level] ?? `Unknown (0x${hex2(level).toUpperCase()})`;
}

export function userListLines(users: { id: number; name: string; access: UserAccess }[]): string[] {
  return [
    'ID  Name\t     Callin  Link Auth\tIPMI Msg   Channel Priv Limit',
    ...users.map(
      (u) =>
        `${String(u.id).padEnd(4)}${u.name.padEnd(17)}${String(!u.access.callbackOnly).padEnd(8)}${String(u.access.linkAuth).padEnd(11)}${String(u.access.ipmiMessaging).padEnd(11)}${privilegeText(u.access.privilegeLimit)}`,
    ),
  ];
}

function number(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function units(record: SensorValue['record']): string {
  return record.percentage ? '%' : unitName(record.unit);
}

export function sdrListLines(sensors: SensorValue[]): string[] {
  return sensors.map((s) => {
    let value: string;
    if (s.value !== undefined) value = `${number(s.value)} ${units(s.record)}`;
    else if (s.reading && !s.reading.unavailable) value = `0x${hex2(s.reading.states & 0xff)}`;
    else value = 'no reading';
    return `${s.record.name.slice(0, 16).padEnd(16)} | ${value.padEnd(17)} | ${s.status}`;
  });
}

/** `sensor list`; thresholds come from Get Sensor Thresholds as ipmitool reads them, 'na' when refused. With csv, `sensor list -c`. */
export function sensorListLines(
  sensors: SensorValue[],
  thresholds: ReadonlyMap<number, Partial<Record<ThresholdName, number>>> = new Map(),
  csv = false,
): string[] {
  return sensors.map((s) => {
    let cells: [string, string, string, string, string[]];
    if (s.record.type === 'full' && s.value !== undefined) {
      const full = s.record;
      const read = thresholds.get(full.number) ?? {};
      const t = THRESHOLD_ORDER.map((n) => read[n]);
      // ipmitool's column order: lnr, lcr, lnc, unc, ucr, unr.
      const order = [t[2], t[1], t[0], t[3], t[4], t[5]].map((raw) => (raw === undefined ? 'na' : (convertReading(raw, full.conversion) ?? 0).toFixed(3)));
      cells = [s.record.name, s.value.toFixed(3), units(full), s.status, order];
    } else {
      const value = s.reading && !s.reading.unavailable ? `0x${s.reading.raw.toString(16)}` : 'na';
      const status = s.reading ? `0x${s.reading.states.toString(16).padStart(4, '0')}` : 'na';
      cells = [s.record.name, value, 'discrete', status, Array<string>(6).fill('na')];
    }
    const [name, value, unit, status, limits] = cells;
    if (csv) return [name, value, unit, status, ...limits].join(',');
    return `${name.slice(0, 16).padEnd(16)} | ${value.padEnd(10)} | ${unit.padEnd(10)} | ${status.padEnd(6)}${limits.map((v) => `| ${v.padEnd(9)} `).join('')}`;
  });
}

/** Timestamps below 0x20000000 count seconds since the BMC started, not since 1970 (§37.1). */
const PRE_INIT_LIMIT = 0x20000000;

function selTime(d: Date): string {
  const secs = Math.floor(d.getTime() / 1000);
  if (secs < PRE_INIT_LIMIT) return ` Pre-Init  |${String(secs).padStart(10, '0')}|`;
  const p = (n: number) => String(n).padStart(2, '0');
  // ipmitool's strftime("%x") and ("%X %Z"), in UTC: 11/21/26 | 06:19:38 UTC.
  return `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${p(d.getUTCFullYear() % 100)} | ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC |`;
}

/** `sel list`, or `sel elist` when the SDRs are given (sensor names and threshold readings). */
export function selLines(records: SelRecord[], sdrs?: SdrRecord[]): string[] {
  const byNumber = new Map<number, SdrRecord>();
  for (const r of sdrs ?? []) if (r.type === 'full' || r.type === 'compact') byNumber.set(r.number, r);
  return records.map((r) => {
    const id = r.recordId.toString(16).padStart(4);
    if (r.kind === 'oem') return `${id} | ${r.timestamp ? selTime(r.timestamp) : ''} OEM record ${hex2(r.recordType)} | ${r.data}`;
    const sdr = byNumber.get(r.sensorNumber);
    const sensor =
      sdrs && sdr && (sdr.type === 'full' || sdr.type === 'compact') ? `${r.sensorTypeName} ${sdr.name}` : `${r.sensorTypeName} #0x${hex2(r.sensorNumber)}`;
    let line = `${id} | ${selTime(r.timestamp)} ${sensor} | ${r.description} | ${r.asserted ? 'Asserted' : 'Deasserted'}`;
    // Threshold events whose data 2/3 carry the reading and the threshold (§29.7, event data 1 bits 7:4 = 0101).
    if (sdrs && sdr?.type === 'full' && r.eventType === 0x01 && (r.data[0] & 0xf0) === 0x50) {
      const reading = convertReading(r.data[1], sdr.conversion);
      const threshold = convertReading(r.data[2], sdr.conversion);
      if (reading !== undefined && threshold !== undefined)
        line += ` | Reading ${number(reading)} ${r.data[0] & 0x01 ? '>' : '<'} Threshold ${number(threshold)} ${units(sdr)}`;
    }
    return line;
  });
}

/** SEL timestamps that mean "never" (§31.2): 0 and 0xFFFFFFFF. */
const NO_TIME = new Set([0, 0xffffffff]);

function selInfoTime(t: number): string {
  if (NO_TIME.has(t)) return 'Not Available';
  const d = new Date(t * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/** `sel info` (Get SEL Info, §31.2). */
export function selInfoLines(i: SelInfo): string[] {
  const used = i.entries * SEL_RECORD_LENGTH;
  const percent = used === 0 ? 0 : Math.floor((100 * used) / (used + i.freeSpace));
  return [
    'SEL Information',
    `Version          : ${i.version} (${i.version === '1.5' ? 'v1.5, v2 compliant' : 'unknown'})`,
    `Entries          : ${i.entries}`,
    `Free Space       : ${i.freeSpace} bytes `,
    `Percent Used     : ${percent}%`,
    `Last Add Time    : ${selInfoTime(i.lastAdd)}`,
    `Last Del Time    : ${selInfoTime(i.lastErase)}`,
    `Overflow         : ${i.overflow}`,
    // ipmitool lists the operations from bit 3 down.
    `Supported Cmds   : ${[...i.operations]
      .reverse()
      .map((op) => `'${op}' `)
      .join('')}`,
  ];
}

function ctime(d: Date): string {
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()];
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${day} ${month} ${String(d.getUTCDate()).padStart(2)} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()} UTC`;
}

export function fruLines(id: number, fru: FruInventory): string[] {
  const lines = [`FRU Device Description : Builtin FRU Device (ID ${id})`];
  const field = (label: string, value: string | undefined) => {
    if (value) lines.push(` ${label.padEnd(22)}: ${value}`);
  };
  if (fru.chassis) {
    field('Chassis Type', fru.chassis.type);
    field('Chassis Part Number', fru.chassis.partNumber);
    field('Chassis Serial', fru.chassis.serial);
    fru.chassis.extra.forEach((e) => field('Chassis Extra', e));
  }
  if (fru.board) {
    field('Board Mfg Date', ctime(fru.board.mfgDate));
    field('Board Mfg', fru.board.manufacturer);
    field('Board Product', fru.board.product);
    field('Board Serial', fru.board.serial);
    field('Board Part Number', fru.board.partNumber);
    fru.board.extra.forEach((e) => field('Board Extra', e));
  }
  if (fru.product) {
    field('Product Manufacturer', fru.product.manufacturer);
    field('Product Name', fru.product.name);
    field('Product Part Number', fru.product.partNumber);
    field('Product Version', fru.product.version);
    field('Product Serial', fru.product.serial);
    field('Product Asset Tag', fru.product.assetTag);
    fru.product.extra.forEach((e) => field('Product Extra', e));
  }
  lines.push('');
  return lines;
}

/** `raw`: the response data as ipmitool prints it, 16 bytes per line. */
export function rawLines(data: Uint8Array): string[] {
  const lines: string[] = [];
  for (let i = 0; i < data.length; i += 16) lines.push(Array.from(data.subarray(i, i + 16), (b) => ` ${hex2(b)}`).join(''));
  return lines;
}

/** Completion codes in ipmitool's words (lib/ipmi_strings.c completion_code_vals), for the messages it prints. */
const IPMITOOL_COMPLETION_CODES: Readonly<Record<number, string>> = {
  0x00: 'Command completed normally',
  0xc0: 'Node busy',
  0xc1: 'Invalid command',
  0xc2: 'Invalid command on LUN',
  0xc3: 'Timeout',
  0xc4: 'Out of space',
  0xc5: 'Reservation cancelled or invalid',
  0xc6: 'Request data truncated',
  0xc7: 'Request data length invalid',
  0xc8: 'Request data field length limit exceeded',
  0xc9: 'Parameter out of range',
  0xca: 'Cannot return number of requested data bytes',
  0xcb: 'Requested sensor, data, or record not found',
  0xcc: 'Invalid data field in request',
  0xcd: 'Command illegal for specified sensor or record type',
  0xce: 'Command response could not be provided',
  0xcf: 'Cannot execute duplicated request',
  0xd0: 'SDR Repository in update mode',
  0xd1: 'Device firmeware in update mode',
  0xd2: 'BMC initialization in progress',
  0xd3: 'Destination unavailable',
  0xd4: 'Insufficient privilege level',
  0xd5: 'Command not supported in present state',
  0xd6: 'Cannot execute command, command disabled',
  0xff: 'Unspecified error',
};

export function ipmitoolCompletionText(code: number): string {
  return IPMITOOL_COMPLETION_CODES[code] ?? `Unknown (0x${code.toString(16).toUpperCase().padStart(2, '0')})`;
}
