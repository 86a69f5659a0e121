// Intel AMT wire constants: ports, XML namespaces, CIM resource URIs, power and boot codes,
// and the named defaults of anvil's AMT clients. One place, each with its source.

/** AMT's fixed management ports: 16992 plain HTTP, 16993 TLS (Intel AMT SDK, "Network Interface"). */
export const AMT_HTTP_PORT = 16992;
export const AMT_HTTPS_PORT = 16993;
export const AMT_DEFAULT_USER = 'admin';
/** The digest realm AMT answers with; clients take it from the challenge, the emulator sends it. */
export const AMT_DIGEST_REALM = 'Digest:A3829B3827DE4D33D4449B366831FD01';

/** HTTP paths: WS-Management (AMT 6+) and the legacy EOI SOAP services (AMT 1.0-8.x; removed in 9.0). */
export const WSMAN_PATH = '/wsman';
export const SOAP_SERVICES = {
  remoteControl: 'RemoteControlService',
  securityAdministration: 'SecurityAdministrationService',
  networkAdministration: 'NetworkAdministrationService',
} as const;
export type SoapService = (typeof SOAP_SERVICES)[keyof typeof SOAP_SERVICES];

/** Legacy SOAP namespaces, `http://schemas.intel.com/platform/client/<Service>/2004/01` (amttool soap_init). */
export const SOAP_NAMESPACES: Readonly<Record<SoapService, string>> = {
  RemoteControlService: 'http://schemas.intel.com/platform/client/RemoteControl/2004/01',
  SecurityAdministrationService: 'http://schemas.intel.com/platform/client/SecurityAdministration/2004/01',
  NetworkAdministrationService: 'http://schemas.intel.com/platform/client/NetworkAdministration/2004/01',
};

/** XML namespaces of WS-Management (DMTF DSP0226 §A, Table A-1) and SOAP. */
export const NS = {
  soap11: 'http://schemas.xmlsoap.org/soap/envelope/',
  soap12: 'http://www.w3.org/2003/05/soap-envelope',
  addressing: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  enumeration: 'http://schemas.xmlsoap.org/ws/2004/09/enumeration',
  transfer: 'http://schemas.xmlsoap.org/ws/2004/09/transfer',
  wsman: 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
  identity: 'http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd',
  cim: 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
} as const;

/** WS-Addressing anonymous reply address (WS-Addressing 2004/08 §2.1). */
export const ADDRESS_ANONYMOUS = `${NS.addressing}/role/anonymous`;

/** wsa:Action URIs (DSP0226 §7 Transfer, §8 Enumeration; WS-Transfer, WS-Enumeration 2004/09). */
export const ACTIONS = {
  get: `${NS.transfer}/Get`,
  getResponse: `${NS.transfer}/GetResponse`,
  put: `${NS.transfer}/Put`,
  putResponse: `${NS.transfer}/PutResponse`,
  enumerate: `${NS.enumeration}/Enumerate`,
  enumerateResponse: `${NS.enumeration}/EnumerateResponse`,
  pull: `${NS.enumeration}/Pull`,
  pullResponse: `${NS.enumeration}/PullResponse`,
  fault: `${NS.addressing}/fault`,
} as const;

/** CIM classes AMT exposes for power and boot control (CIM schema 2.x, DSP1027 Power State Management, DSP1012 Boot Control). */
export const CIM_CLASSES = {
  associatedPowerManagementService: 'CIM_AssociatedPowerManagementService',
  powerManagementService: 'CIM_PowerManagementService',
  powerManagementCapabilities: 'CIM_PowerManagementCapabilities',
  computerSystem: 'CIM_ComputerSystem',
  bootConfigSetting: 'CIM_BootConfigSetting',
  bootSourceSetting: 'CIM_BootSourceSetting',
  bootService: 'CIM_BootService',
} as const;
/** Intel's own classes (AMT SDK, "Intel AMT WS-Management Classes"), under their own schema URI. */
export const AMT_SCHEMA = 'http://intel.com/wbem/wscim/1/amt-schema/1/';
export const AMT_CLASSES = {
  generalSettings: 'AMT_GeneralSettings',
  bootSettingData: 'AMT_BootSettingData',
  bootCapabilities: 'AMT_BootCapabilities',
} as const;
export type CimClass = (typeof CIM_CLASSES)[keyof typeof CIM_CLASSES] | (typeof AMT_CLASSES)[keyof typeof AMT_CLASSES];

export function cimResourceUri(cimClass: CimClass): string {
  return `${cimClass.startsWith('AMT_') ? AMT_SCHEMA : NS.cim}${cimClass}`;
}

/** The instance names AMT gives its singletons (Ironic amt/power.py, amt/management.py). */
export const AMT_NAMES = {
  powerManagementService: 'Intel(r) AMT Power Management Service',
  managedSystem: 'ManagedSystem',
  bootConfiguration: 'Intel(r) AMT: Boot Configuration 0',
  bootService: 'Intel(r) AMT Boot Service',
  /** AMT_BootSettingData's one instance (Intel go-wsman-messages test responses; MeshCommander). */
  bootSettingData: 'Intel(r) AMT:BootSettingData 0',
} as const;

/**
 * CIM_AssociatedPowerManagementService.PowerState / RequestPowerStateChange values
 * (CIM schema CIM_PowerManagementService; DSP1027 §7.1 Table 2).
 */
export const CIM_POWER_STATE = {
  other: 1,
  on: 2,
  sleepLight: 3,
  sleepDeep: 4,
  powerCycleOffSoft: 5,
  offHard: 6,
  hibernate: 7,
  offSoft: 8,
  powerCycleOffHard: 9,
  masterBusReset: 10,
  diagnosticInterruptNmi: 11,
  offSoftGraceful: 12,
  offHardGraceful: 13,
  masterBusResetGraceful: 14,
  powerCycleOffSoftGraceful: 15,
  powerCycleOffHardGraceful: 16,
} as const;

/** What anvil reports as a machine's power state, on either protocol. */
export type AmtPowerState = 'on' | 'sleep' | 'hibernate' | 'off' | 'unknown';

/** Power actions anvil asks for. The graceful ones need the OS's cooperation and AMT 9+ (PowerStatesSupported). */
export type AmtPowerAction = 'on' | 'off' | 'reset' | 'cycle' | 'soft-off' | 'soft-reset' | 'soft-cycle' | 'sleep' | 'hibernate' | 'nmi';

/** RequestPowerStateChange's PowerState for each action (DSP1027 Table 2; MAAS and fence_amt_ws use 2/8/10). */
export const WSMAN_POWER_ACTION: Readonly<Record<AmtPowerAction, number>> = {
  on: CIM_POWER_STATE.on,
  off: CIM_POWER_STATE.offSoft,
  reset: CIM_POWER_STATE.masterBusReset,
  cycle: CIM_POWER_STATE.powerCycleOffSoft,
  'soft-off': CIM_POWER_STATE.offSoftGraceful,
  'soft-reset': CIM_POWER_STATE.masterBusResetGraceful,
  'soft-cycle': CIM_POWER_STATE.powerCycleOffSoftGraceful,
  sleep: CIM_POWER_STATE.sleepDeep,
  hibernate: CIM_POWER_STATE.hibernate,
  nmi: CIM_POWER_STATE.diagnosticInterruptNmi,
};

/** Whether sending an action twice does the same as once: retries after an unanswered request need it. */
export const POWER_ACTION_IDEMPOTENT: Readonly<Record<AmtPowerAction, boolean>> = {
  on: true,
  off: true,
  'soft-off': true,
  sleep: true,
  hibernate: true,
  reset: false,
  cycle: false,
  'soft-reset': false,
  'soft-cycle': false,
  nmi: false,
};

export function powerStateFromCim(value: number): AmtPowerState {
  switch (value) {
    case CIM_POWER_STATE.on:
      return 'on';
    case CIM_POWER_STATE.sleepLight:
    case CIM_POWER_STATE.sleepDeep:
      return 'sleep';
    case CIM_POWER_STATE.hibernate:
      return 'hibernate';
    case CIM_POWER_STATE.offHard:
    case CIM_POWER_STATE.offSoft:
      return 'off';
    default:
      return 'unknown';
  }
}

/**
 * amttool's Powerstate text (its SOAP SystemPowerState names) for a CIM PowerState, so WS-Man
 * prints what SOAP does: On is S0, the sleeps S1/S3, hibernate S4, soft-off S5, hard-off Off
 * (ACPI G3), anything else Off as SOAP's state 7.
 */
export function soapPowerStateTextFromCim(value: number): string {
  const s: Readonly<Record<number, number>> = {
    [CIM_POWER_STATE.on]: 0,
    [CIM_POWER_STATE.sleepLight]: 1,
    [CIM_POWER_STATE.sleepDeep]: 3,
    [CIM_POWER_STATE.hibernate]: 4,
    [CIM_POWER_STATE.offSoft]: 5,
  };
  return SOAP_SYSTEM_POWER_STATES[s[value] ?? 7] ?? 'Off';
}

/**
 * The CIM ReturnValue of a power or boot method as the PT_STATUS amttool would show for the same
 * refusal over SOAP: AMT answers 2 (Unknown/Unspecified Error) to a change its state does not
 * permit (reset while off), 1 (Not Supported) and 5 (Invalid Parameter) as their SOAP peers.
 */
export const PT_STATUS_OF_CIM_RETURN: Readonly<Record<number, number>> = { 0: 0x0, 1: 0x812, 2: 0x10, 5: 0x24 };

/** Boot devices anvil can ask AMT to use for the next boot only. */
export type AmtBootDevice = 'pxe' | 'hd' | 'hdsafe' | 'cd' | 'diag' | 'bios';
export const BOOT_DEVICES: readonly AmtBootDevice[] = ['pxe', 'hd', 'hdsafe', 'cd', 'diag', 'bios'];

/** CIM_BootSourceSetting InstanceIDs AMT offers to ChangeBootOrder (Ironic amt/common.py BOOT_DEVICES_MAPPING). */
export const WSMAN_BOOT_SOURCES: Readonly<Partial<Record<AmtBootDevice, string>>> = {
  pxe: 'Intel(r) AMT: Force PXE Boot',
  hd: 'Intel(r) AMT: Force Hard-drive Boot',
  cd: 'Intel(r) AMT: Force CD/DVD Boot',
  diag: 'Intel(r) AMT: Force Diagnostic Boot',
};

/**
 * How WS-Man asks for each boot device: a boot source for ChangeBootOrder (none for BIOS setup)
 * and the AMT_BootSettingData flags. BIOSSetup may be true only while no boot source is set;
 * UseSafeMode applies to the hard-drive source (Intel AMT SDK, AMT_BootSettingData; Intel MPS
 * bootOptions.ts). undefined stands for a normal boot: no source, both flags false.
 */
export interface WsmanBootRequest {
  readonly source: string | undefined;
  readonly biosSetup: boolean;
  readonly useSafeMode: boolean;
}
export const WSMAN_NORMAL_BOOT: WsmanBootRequest = { source: undefined, biosSetup: false, useSafeMode: false };
export const WSMAN_BOOT_REQUESTS: Readonly<Record<AmtBootDevice, WsmanBootRequest>> = {
  pxe: { ...WSMAN_NORMAL_BOOT, source: WSMAN_BOOT_SOURCES.pxe },
  hd: { ...WSMAN_NORMAL_BOOT, source: WSMAN_BOOT_SOURCES.hd },
  hdsafe: { ...WSMAN_NORMAL_BOOT, source: WSMAN_BOOT_SOURCES.hd, useSafeMode: true },
  cd: { ...WSMAN_NORMAL_BOOT, source: WSMAN_BOOT_SOURCES.cd },
  diag: { ...WSMAN_NORMAL_BOOT, source: WSMAN_BOOT_SOURCES.diag },
  bios: { ...WSMAN_NORMAL_BOOT, biosSetup: true },
};
/**
 * The AMT_BootCapabilities property saying whether this machine's BIOS offers each device (Intel
 * AMT SDK; go-wsman-messages BootCapabilitiesResponse). Recent AMTs report some false, e.g.
 * ForceHardDriveSafeModeBoot and ForceDiagnosticBoot on AMT 16 (device-management-toolkit
 * deployment issue 466).
 */
export const WSMAN_BOOT_CAPABILITIES: Readonly<Record<AmtBootDevice, string>> = {
  pxe: 'ForcePXEBoot',
  hd: 'ForceHardDriveBoot',
  hdsafe: 'ForceHardDriveSafeModeBoot',
  cd: 'ForceCDorDVDBoot',
  diag: 'ForceDiagnosticBoot',
  bios: 'BIOSSetup',
};
/** CIM_BootService.SetBootConfigRole Role: 1 = IsNext, i.e. used on the next boot only (DSP1012 §7.4). */
export const BOOT_ROLE_IS_NEXT = 1;

/** Legacy RemoteControl commands (amttool %rcc; AMT SDK RemoteControlCommandType). */
export const SOAP_REMOTE_COMMAND = { reset: 16, powerup: 17, powerdown: 18, powercycle: 19 } as const;
export type SoapRemoteCommand = keyof typeof SOAP_REMOTE_COMMAND;
/** Intel's IANA enterprise number, sent as IanaOemNumber (amttool; an older amttool sent 4542). */
export const INTEL_IANA_OEM_NUMBER = 343;
/** SpecialCommand values (amttool %rccs and %rccs_oem); bios is OEM 0xC1 with OEMparameters 1. */
export const SOAP_SPECIAL_COMMAND: Readonly<Record<AmtBootDevice | 'nop', number>> = {
  nop: 0,
  pxe: 1,
  hd: 2,
  hdsafe: 3,
  diag: 4,
  cd: 5,
  bios: 0xc1,
};
export const SOAP_OEM_PARAMETERS_BIOS = 1;
/** GetRemoteControlCapabilities' SpecialCommandsSupported bit of each boot device (amttool's names; bios is an OEM capability). */
export const SOAP_SPECIAL_COMMAND_BIT: Readonly<Record<Exclude<AmtBootDevice, 'bios'>, number>> = {
  pxe: 0x100,
  hd: 0x200,
  hdsafe: 0x400,
  diag: 0x800,
  cd: 0x1000,
};
/** Its SystemCapabilitiesSupported bits as amttool reads them (powercycle, powerdown, reset; powerup is the bit left). */
export const SOAP_SYSTEM_CAPABILITY_BIT = { cycle: 0x01, off: 0x02, reset: 0x04, on: 0x08 } as const;

/** Legacy SystemPowerState: ACPI S-state in the low nibble (amttool @ps). */
export const SOAP_SYSTEM_POWER_STATES = ['S0', 'S1', 'S2', 'S3', 'S4', 'S5 (soft-off)', 'S4/S5', 'Off'] as const;
export const SOAP_POWER_STATE = { s0: 0, s3: 3, s4: 4, s5: 5, off: 7 } as const;

export function powerStateFromSoap(value: number): AmtPowerState {
  const s = value & 0x0f;
  if (s === 0) return 'on';
  if (s >= 1 && s <= 3) return 'sleep';
  if (s === 4) return 'hibernate';
  if (s >= 5 && s <= 7) return 'off';
  return 'unknown';
}

/** PT_STATUS codes the legacy services return (amttool %pt_status; AMT SDK). */
export const PT_STATUS = {
  success: 0x0,
  internalError: 0x1,
  notPermitted: 0x10,
  invalidParameter: 0x24,
  unsupportedOemNumber: 0x801,
  unsupportedBootOption: 0x802,
  invalidCommand: 0x803,
  invalidSpecialCommand: 0x804,
} as const;

/** Text for a PT_STATUS code, as amttool prints it after "pt_status: ". */
export const PT_STATUS_TEXT: Readonly<Record<number, string>> = {
  0x0: 'success',
  0x1: 'internal error',
  0x3: 'invalid pt_mode',
  0xc: 'invalid name',
  0xf: 'invalid byte_count',
  0x10: 'not permitted',
  0x17: 'max limit_reached',
  0x18: 'invalid auth_type',
  0x1a: 'invalid dhcp_mode',
  0x1b: 'invalid ip_address',
  0x1c: 'invalid domain_name',
  0x20: 'invalid provisioning_state',
  0x22: 'invalid time',
  0x23: 'invalid index',
  0x24: 'invalid parameter',
  0x25: 'invalid netmask',
  0x26: 'flash write_limit_exceeded',
  0x800: 'network if_error_base',
  0x801: 'unsupported oem_number',
  0x802: 'unsupported boot_option',
  0x803: 'invalid command',
  0x804: 'invalid special_command',
  0x805: 'invalid handle',
  0x806: 'invalid password',
  0x807: 'invalid realm',
  0x808: 'storage acl_entry_in_use',
  0x809: 'data missing',
  0x80a: 'duplicate',
  0x80b: 'eventlog frozen',
  0x80c: 'pki missing_keys',
  0x80d: 'pki generating_keys',
  0x80e: 'invalid key',
  0x80f: 'invalid cert',
  0x810: 'cert key_not_match',
  0x811: 'max kerb_domain_reached',
  0x812: 'unsupported',
  0x813: 'invalid priority',
  0x814: 'not found',
  0x815: 'invalid credentials',
  0x816: 'invalid passphrase',
  0x818: 'no association',
};

/** amttool's result line for a PT_STATUS (print_result). */
export function ptStatusMessage(status: number | undefined): string {
  if (status === undefined) return 'soap failure';
  const text = PT_STATUS_TEXT[status];
  return text === undefined ? `unknown pt_status code: 0x${status.toString(16)}` : `pt_status: ${text}`;
}

/** Client defaults. The AMT NIC sleeps while the host is off and takes a few seconds to answer again (Ironic bug 1504023). */
export const AMT_DEFAULTS = {
  /** Attempts for a request whose connection failed (refused, unreachable, connect timeout). */
  connectAttempts: 5,
  /** Delay before the first retry; doubled each time, capped at retryMaxDelayMs. */
  retryDelayMs: 500,
  retryMaxDelayMs: 4_000,
  connectTimeoutMs: 5_000,
  /** Whole request, once connected. */
  requestTimeoutMs: 20_000,
  /**
   * One request with all its attempts and the waits between them; an attempt is cut short to
   * end by then. Without it, 5 attempts of 20 s plus the waits would take 107.5 s.
   */
  deadlineMs: 60_000,
  /** Largest response body accepted. */
  maxResponseBytes: 1 << 20,
  /** WS-Man OperationTimeout sent to AMT (DSP0226 §6.1). */
  operationTimeout: 'PT60S',
  /** Items asked for per Enumerate/Pull (DSP0226 §8.2.3 MaxElements). */
  maxElements: 32,
} as const;

/** Emulator limits: bodies larger than this get 413, never buffered. */
export const EMULATOR_MAX_BODY_BYTES = 64 * 1024;
