// Chassis commands: status, power control, identify and system boot options
// (IPMI v2.0 §28). Pure payload builders and decoders.
import { ChassisCmd, NetFn } from '../constants.ts';
import { at, hex, need, request, IpmiPayloadError } from './request.ts';
import type { CommandRequest } from './request.ts';

export type PowerRestorePolicy = 'always-off' | 'previous' | 'always-on' | 'unknown';
const RESTORE_POLICIES: readonly PowerRestorePolicy[] = ['always-off', 'previous', 'always-on', 'unknown'];

export interface ChassisStatus {
  readonly powerOn: boolean;
  readonly powerOverload: boolean;
  readonly powerInterlock: boolean;
  readonly mainPowerFault: boolean;
  readonly powerControlFault: boolean;
  readonly powerRestorePolicy: PowerRestorePolicy;
  /** Causes of the last power event, in ipmitool's words: 'ac-failed', 'overload', 'interlock', 'fault', 'command'. */
  readonly lastPowerEvent: readonly string[];
  readonly chassisIntrusion: boolean;
  readonly frontPanelLockout: boolean;
  readonly driveFault: boolean;
  readonly coolingFault: boolean;
  /** Chassis identify state, when the BMC reports it (§28.2 byte 3 bit 6). */
  readonly identify?: 'off' | 'temporary' | 'indefinite';
  /** Optional byte 4: front panel button capabilities and disable/enable status (§28.2). */
  readonly frontPanel?: number;
}

export function getChassisStatus(): CommandRequest {
  return request('Get Chassis Status', NetFn.CHASSIS, ChassisCmd.GET_CHASSIS_STATUS);
}

/** §28.2 Table 28-3. pyghmi's fake BMC answers only 3 bytes; byte 4 is optional anyway. */
export function decodeChassisStatus(data: Uint8Array): ChassisStatus {
  need(data, 3, 'Get Chassis Status');
  const power = at(data, 0);
  const last = at(data, 1);
  const misc = at(data, 2);
  const events = (['ac-failed', 'overload', 'interlock', 'fault', 'command'] as const).filter((_, i) => (last & (1 << i)) !== 0);
  const identifyStates = ['off', 'temporary', 'indefinite'] as const;
  const identify = (misc & 0x40) !== 0 ? identifyStates[(misc >> 4) & 0x03] : undefined;
  return {
    powerOn: (power & 0x01) !== 0,
    powerOverload: (power & 0x02) !== 0,
    powerInterlock: (power & 0x04) !== 0,
    mainPowerFault: (power & 0x08) !== 0,
    powerControlFault: (power & 0x10) !== 0,
    powerRestorePolicy: RESTORE_POLICIES[(power >> 5) & 0x03] ?? 'unknown',
    lastPowerEvent: events,
    chassisIntrusion: (misc & 0x01) !== 0,
    frontPanelLockout: (misc & 0x02) !== 0,
    driveFault: (misc & 0x04) !== 0,
    coolingFault: (misc & 0x08) !== 0,
    ...(identify !== undefined ? { identify } : {}),
    ...(data.length > 3 ? { frontPanel: at(data, 3) } : {}),
  };
}

/** §28.3 Table 28-4, Chassis Control data byte 1. */
export const ChassisControl = {
  off: 0x00,
  on: 0x01,
  cycle: 0x02,
  reset: 0x03,
  diag: 0x04, // pulse diagnostic interrupt (NMI)
  soft: 0x05, // ACPI soft shutdown
} as const;
export type PowerAction = keyof typeof ChassisControl;

/** Never idempotent: a resent "cycle" may cycle the machine twice. */
export function chassisControl(action: PowerAction): CommandRequest {
  return request('Chassis Control', NetFn.CHASSIS, ChassisCmd.CHASSIS_CONTROL, [ChassisControl[action]], false);
}

/** Set Power Restore Policy (§28.8): the policy to set, or 'no-change' to only read which are supported. */
const POLICY_CODES = { 'always-off': 0x00, previous: 0x01, 'always-on': 0x02, 'no-change': 0x03 } as const;
export type PolicyRequest = keyof typeof POLICY_CODES;

/** Idempotent: setting the same policy twice leaves it set. */
export function setPowerRestorePolicy(policy: PolicyRequest): CommandRequest {
  return request('Set Power Restore Policy', NetFn.CHASSIS, ChassisCmd.SET_POWER_RESTORE_POLICY, [POLICY_CODES[policy]]);
}

/** The response: which policies the BMC supports (bit n for policy code n). */
export function decodePowerRestorePolicySupport(data: Uint8Array): PowerRestorePolicy[] {
  need(data, 1, 'Set Power Restore Policy');
  return (['always-off', 'always-on', 'previous'] as const).filter((p) => (at(data, 0) & (1 << POLICY_CODES[p])) !== 0);
}

/** §28.5: interval in seconds (0 turns it off), or force it on until told otherwise. */
export function chassisIdentify(seconds: number | 'force'): CommandRequest {
  if (seconds === 'force') return request('Chassis Identify', NetFn.CHASSIS, ChassisCmd.CHASSIS_IDENTIFY, [0, 1]);
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > 255) throw new RangeError('identify interval must be 0..255 seconds');
  return request('Chassis Identify', NetFn.CHASSIS, ChassisCmd.CHASSIS_IDENTIFY, [seconds]);
}

/** Boot option parameter numbers, §28.13 Table 28-14. */
export const BootParam = {
  setInProgress: 0,
  servicePartitionSelector: 1,
  serviceParititionScan: 2,
  bootFlagValidBitClearing: 3,
  bootInfoAcknowledge: 4,
  bootFlags: 5,
  bootInitiatorInfo: 6,
  bootInitiatorMailbox: 7,
} as const;

/** Boot device selector, parameter 5 data byte 2 bits 5:2 (§28.13 Table 28-14). */
export const BootDevice = {
  none: 0x00,
  pxe: 0x04,
  disk: 0x08,
  safe: 0x0c,
  diag: 0x10,
  cdrom: 0x14,
  bios: 0x18,
  'remote-floppy': 0x1c,
  'remote-cdrom': 0x20,
  'remote-disk': 0x2c,
  floppy: 0x3c,
} as const;
export type BootDeviceName = keyof typeof BootDevice;
const DEVICE_MASK = 0x3c;

export interface BootFlags {
  readonly valid: boolean;
  readonly persistent: boolean;
  readonly efi: boolean;
  readonly device: BootDeviceName;
  readonly clearCmos: boolean;
  /** All five data bytes, for the fields this module does not name (lockouts, verbosity, redirection). */
  readonly raw: Uint8Array;
}

export interface SetBootDeviceOptions {
  readonly persistent?: boolean;
  readonly efi?: boolean;
  readonly clearCmos?: boolean;
}

const VALID = 0x80;
const PERSISTENT = 0x40;
const EFI = 0x20;
const CLEAR_CMOS = 0x80;

/** Parameter 5 data (§28.13): byte 1 valid/persistent/EFI, byte 2 the device. */
export function encodeBootFlags(device: BootDeviceName, options: SetBootDeviceOptions = {}): Uint8Array {
  const code = BootDevice[device];
  if (code === undefined) throw new RangeError(`unknown boot device '${String(device)}'`);
  // "none" means "no override": the valid bit stays clear so firmware uses its own order.
  const byte1 = device === 'none' ? 0 : VALID | (options.persistent ? PERSISTENT : 0) | (options.efi ? EFI : 0);
  return Uint8Array.from([byte1, code | (options.clearCmos ? CLEAR_CMOS : 0), 0, 0, 0]);
}

export function decodeBootFlags(data: Uint8Array): BootFlags {
  need(data, 2, 'boot flags');
  const byte1 = at(data, 0);
  const code = at(data, 1) & DEVICE_MASK;
  const device = (Object.keys(BootDevice) as BootDeviceName[]).find((name) => BootDevice[name] === code) ?? 'none';
  return {
    valid: (byte1 & VALID) !== 0,
    persistent: (byte1 & PERSISTENT) !== 0,
    efi: (byte1 & EFI) !== 0,
    device,
    clearCmos: (at(data, 1) & CLEAR_CMOS) !== 0,
    raw: data.slice(0, 5),
  };
}

/** Setting a boot option parameter writes an absolute value: resending it is harmless. */
export function setSystemBootOptions(param: number, data: ArrayLike<number>): CommandRequest {
  return request('Set System Boot Options', NetFn.CHASSIS, ChassisCmd.SET_SYSTEM_BOOT_OPTIONS, [param & 0x7f, ...Array.from(data)]);
}

export function getSystemBootOptions(param: number, setSelector = 0, blockSelector = 0): CommandRequest {
  return request('Get System Boot Options', NetFn.CHASSIS, ChassisCmd.GET_SYSTEM_BOOT_OPTIONS, [param & 0x7f, setSelector, blockSelector]);
}

/**
 * Parameter 3 data: bit 3 tells the BMC not to clear the boot-flag valid bit when no
 * Chassis Control arrives within 60 s (§28.12 param 3), so a set boot device survives
 * a slow power-on. pyghmi sends the same 0x08.
 */
export const KEEP_BOOT_FLAGS_PAST_TIMEOUT = Uint8Array.from([0x08]);

export interface BootOptionsResponse {
  readonly version: number;
  readonly param: number;
  /** Bit 7 of byte 2: "parameter marked invalid / locked" (§28.13). */
  readonly locked: boolean;
  readonly data: Uint8Array;
}

export function decodeSystemBootOptions(data: Uint8Array): BootOptionsResponse {
  need(data, 2, 'Get System Boot Options');
  const version = at(data, 0) & 0x0f;
  if (version !== 1) throw new IpmiPayloadError(`Get System Boot Options: parameter version ${version}, expected 1 (${hex(data)})`);
  return { version, param: at(data, 1) & 0x7f, locked: (at(data, 1) & 0x80) !== 0, data: data.slice(2) };
}
