// The AMT_BootSettingData a WS-Man client writes back before a boot (Intel AMT SDK, class
// AMT_BootSettingData): the instance AMT sent, minus what a Put may not carry, with the one-boot
// options set for the device asked for. Pure: instance in, instance out.
import type { WsmanBootRequest } from './constants.ts';
import { AmtUnsupportedError } from './errors.ts';
import type { CimInstance } from './wsman-codec.ts';

/**
 * Properties AMT reports but a Put must leave out: read-only status (CSME 11-16 added most) and
 * the write-only RSEPassword, which reads back empty. Intel's go-wsman-messages
 * BootSettingDataRequest has none of them, and MeshCommander deletes them before its Put.
 */
export const BOOT_SETTING_NOT_WRITABLE: ReadonlySet<string> = new Set([
  'OptionsCleared',
  'BIOSLastStatus',
  'BootguardStatus',
  'WinREBootEnabled',
  'UEFILocalPBABootEnabled',
  'UEFIHTTPSBootEnabled',
  'SecureBootControlEnabled',
  'RPEEnabled',
  'RSEPassword',
]);

/**
 * One-boot options anvil never asks for, reset at every boot it sets up, so that an earlier
 * request (anvil's or another tool's) cannot carry over: a pending ReflashBIOS, SecureErase or
 * ConfigurationDataReset would do real damage. BootMediaIndex must be 0 for PXE and diagnostics
 * and picks the default medium otherwise. Intel's MPS (setBootData) resets the same ones.
 * Locks, SOL, verbosity and password bypass are the operator's choices and are kept.
 */
const RESET_EACH_BOOT: Readonly<Record<string, string>> = {
  BIOSPause: 'false',
  ReflashBIOS: 'false',
  ConfigurationDataReset: 'false',
  SecureErase: 'false',
  UseIDER: 'false',
  BootMediaIndex: '0',
};

export interface BootSettingsUpdate {
  /** The whole instance to Put, in the order AMT sent it. */
  readonly properties: CimInstance;
  /** Whether anything differs from what AMT has: if not, the Put can be skipped. */
  readonly changed: boolean;
}

/**
 * The instance to Put for `request`. Only properties AMT reported are set, so an older AMT is
 * never sent one it does not know; asking for a flag it lacks is AMT_UNSUPPORTED.
 */
export function bootSettingsFor(current: CimInstance, request: WsmanBootRequest, host: string): BootSettingsUpdate {
  const wanted: Record<string, string> = {
    ...RESET_EACH_BOOT,
    BIOSSetup: String(request.biosSetup),
    UseSafeMode: String(request.useSafeMode),
  };
  for (const [flag, on] of [
    ['BIOSSetup', request.biosSetup],
    ['UseSafeMode', request.useSafeMode],
  ] as const) {
    if (on && current[flag] === undefined)
      throw new AmtUnsupportedError(
        `AMT ${host} has no AMT_BootSettingData.${flag}, so it cannot boot ${flag === 'BIOSSetup' ? 'into BIOS setup' : 'the hard drive in safe mode'}`,
      );
  }
  const properties: Record<string, string | readonly string[]> = {};
  let changed = false;
  for (const [name, value] of Object.entries(current)) {
    if (BOOT_SETTING_NOT_WRITABLE.has(name)) continue;
    const next = wanted[name];
    if (next === undefined || typeof value !== 'string') {
      properties[name] = value;
      continue;
    }
    // AMT writes booleans in lower case; compare as it would read them.
    if (next !== value.trim().toLowerCase()) changed = true;
    properties[name] = next;
  }
  return { properties, changed };
}
