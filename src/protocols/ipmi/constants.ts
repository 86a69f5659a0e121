// Numbers of the IPMI wire protocol, each with the section of the IPMI v2.0 specification
// (rev 1.1, 2013) that defines it. Nothing else in the library spells a netfn, command,
// completion code or algorithm as a bare number.

/** UDP port of RMCP (ASF 2.0 §3.2.2; IPMI v2.0 §13.1). */
export const RMCP_PORT = 623;

/** RMCP message classes, header byte 4 (ASF 2.0 §3.2.2.3; IPMI v2.0 §13.1.3). */
export const RmcpClass = { ASF: 0x06, IPMI: 0x07 } as const;

/** IANA enterprise number of ASF (4542), used in presence ping/pong (ASF 2.0 §3.2.4). */
export const ASF_IANA = 4542;

/** ASF message types (ASF 2.0 §3.2.4.1). */
export const AsfMessageType = { PRESENCE_PONG: 0x40, PRESENCE_PING: 0x80 } as const;

/** Network functions, requests only; the response netfn is request + 1 (IPMI v2.0 §5.1, table 5-1). */
export const NetFn = {
  CHASSIS: 0x00,
  BRIDGE: 0x02,
  SENSOR_EVENT: 0x04,
  APP: 0x06,
  FIRMWARE: 0x08,
  STORAGE: 0x0a,
  TRANSPORT: 0x0c,
  GROUP_EXTENSION: 0x2c,
  OEM_GROUP: 0x2e,
} as const;

/** Chassis commands (IPMI v2.0 §28, table G-1). */
export const ChassisCmd = {
  GET_CHASSIS_CAPABILITIES: 0x00,
  GET_CHASSIS_STATUS: 0x01, // §28.2
  CHASSIS_CONTROL: 0x02, // §28.3
  CHASSIS_IDENTIFY: 0x04, // §28.5
  SET_POWER_RESTORE_POLICY: 0x06, // §28.8
  GET_SYSTEM_RESTART_CAUSE: 0x07, // §28.11
  SET_SYSTEM_BOOT_OPTIONS: 0x08, // §28.12
  GET_SYSTEM_BOOT_OPTIONS: 0x09, // §28.13
  GET_POH_COUNTER: 0x0f, // §28.14
} as const;

/** Application commands: device, sessions, users, payloads (IPMI v2.0 §20, §22, §24). */
export const AppCmd = {
  GET_DEVICE_ID: 0x01, // §20.1
  COLD_RESET: 0x02, // §20.2
  WARM_RESET: 0x03, // §20.3
  GET_SELF_TEST_RESULTS: 0x04, // §20.4
  GET_DEVICE_GUID: 0x08, // §20.8
  RESET_WATCHDOG_TIMER: 0x22, // §27.5
  SET_WATCHDOG_TIMER: 0x24, // §27.6
  GET_WATCHDOG_TIMER: 0x25, // §27.7
  SET_BMC_GLOBAL_ENABLES: 0x2e, // §22.1
  GET_BMC_GLOBAL_ENABLES: 0x2f, // §22.2
  GET_SYSTEM_GUID: 0x37, // §22.14
  GET_CHANNEL_AUTH_CAPABILITIES: 0x38, // §22.13
  GET_SESSION_CHALLENGE: 0x39, // §22.16
  ACTIVATE_SESSION: 0x3a, // §22.17
  SET_SESSION_PRIVILEGE_LEVEL: 0x3b, // §22.18
  CLOSE_SESSION: 0x3c, // §22.19
  GET_SESSION_INFO: 0x3d, // §22.20
  GET_AUTHCODE: 0x3f, // §22.21
  SET_CHANNEL_ACCESS: 0x40, // §22.22
  GET_CHANNEL_ACCESS: 0x41, // §22.23
  GET_CHANNEL_INFO: 0x42, // §22.24
  SET_USER_ACCESS: 0x43, // §22.26
  GET_USER_ACCESS: 0x44, // §22.27
  SET_USER_NAME: 0x45, // §22.28
  GET_USER_NAME: 0x46, // §22.29
  SET_USER_PASSWORD: 0x47, // §22.30
  ACTIVATE_PAYLOAD: 0x48, // §24.1
  DEACTIVATE_PAYLOAD: 0x49, // §24.2
  GET_PAYLOAD_ACTIVATION_STATUS: 0x4a, // §24.4
  GET_PAYLOAD_INSTANCE_INFO: 0x4b, // §24.5
  SET_USER_PAYLOAD_ACCESS: 0x4c, // §24.6
  GET_USER_PAYLOAD_ACCESS: 0x4d, // §24.7
  GET_CHANNEL_PAYLOAD_SUPPORT: 0x4e, // §24.8
  GET_CHANNEL_PAYLOAD_VERSION: 0x4f, // §24.9
  GET_CHANNEL_OEM_PAYLOAD_INFO: 0x50, // §24.10
  GET_CHANNEL_CIPHER_SUITES: 0x54, // §22.15
} as const;

/** Sensor/event commands (IPMI v2.0 §29, §30, §35). */
export const SensorCmd = {
  PLATFORM_EVENT: 0x02, // §29.3
  GET_PEF_CAPABILITIES: 0x10, // §30.1
  GET_DEVICE_SDR_INFO: 0x20, // §35.2
  GET_DEVICE_SDR: 0x21, // §35.3
  RESERVE_DEVICE_SDR_REPOSITORY: 0x22, // §35.4
  GET_SENSOR_HYSTERESIS: 0x25, // §35.7
  SET_SENSOR_THRESHOLDS: 0x26, // §35.8
  GET_SENSOR_THRESHOLDS: 0x27, // §35.9
  GET_SENSOR_EVENT_ENABLE: 0x29, // §35.11
  GET_SENSOR_EVENT_STATUS: 0x2b, // §35.13
  GET_SENSOR_READING: 0x2d, // §35.14
  GET_SENSOR_TYPE: 0x2f, // §35.16
} as const;

/** Storage commands: FRU, SDR repository, SEL (IPMI v2.0 §34, §33, §31). */
export const StorageCmd = {
  GET_FRU_INVENTORY_AREA_INFO: 0x10, // §34.1
  READ_FRU_DATA: 0x11, // §34.2
  WRITE_FRU_DATA: 0x12, // §34.3
  GET_SDR_REPOSITORY_INFO: 0x20, // §33.9
  GET_SDR_REPOSITORY_ALLOCATION_INFO: 0x21, // §33.10
  RESERVE_SDR_REPOSITORY: 0x22, // §33.11
  GET_SDR: 0x23, // §33.12
  GET_SEL_INFO: 0x40, // §31.2
  GET_SEL_ALLOCATION_INFO: 0x41, // §31.3
  RESERVE_SEL: 0x42, // §31.4
  GET_SEL_ENTRY: 0x43, // §31.5
  ADD_SEL_ENTRY: 0x44, // §31.6
  DELETE_SEL_ENTRY: 0x46, // §31.8
  CLEAR_SEL: 0x47, // §31.9
  GET_SEL_TIME: 0x48, // §31.10
  SET_SEL_TIME: 0x49, // §31.11
  GET_SEL_TIME_UTC_OFFSET: 0x5c, // §31.11a
} as const;

/** Transport commands: LAN and SOL configuration (IPMI v2.0 §23, §26). */
export const TransportCmd = {
  SET_LAN_CONFIG_PARAMETERS: 0x01, // §23.1
  GET_LAN_CONFIG_PARAMETERS: 0x02, // §23.2
  SET_SOL_CONFIG_PARAMETERS: 0x21, // §26.2
  GET_SOL_CONFIG_PARAMETERS: 0x22, // §26.3
} as const;

/** Group-extension probes ipmitool sends after login (PICMG 3.0 §3.9; HPM.2). A BMC without them answers 0xC1. */
export const GroupExtensionCmd = { GET_PICMG_PROPERTIES: 0x00, GET_HPM_X_CAPABILITIES: 0x3e } as const;

/** Completion codes (IPMI v2.0 §5.2, table 5-2). */
export const CompletionCode = {
  OK: 0x00,
  NODE_BUSY: 0xc0,
  INVALID_COMMAND: 0xc1,
  INVALID_FOR_LUN: 0xc2,
  TIMEOUT: 0xc3,
  OUT_OF_SPACE: 0xc4,
  INVALID_RESERVATION: 0xc5,
  DATA_TRUNCATED: 0xc6,
  DATA_LENGTH_INVALID: 0xc7,
  DATA_FIELD_LENGTH_EXCEEDED: 0xc8,
  PARAMETER_OUT_OF_RANGE: 0xc9,
  CANNOT_RETURN_REQUESTED_BYTES: 0xca,
  NOT_PRESENT: 0xcb,
  INVALID_DATA_FIELD: 0xcc,
  ILLEGAL_FOR_SENSOR_OR_RECORD: 0xcd,
  RESPONSE_UNAVAILABLE: 0xce,
  DUPLICATE_REQUEST: 0xcf,
  SDR_REPOSITORY_IN_UPDATE: 0xd0,
  FIRMWARE_UPDATE_MODE: 0xd1,
  BMC_INITIALIZING: 0xd2,
  DESTINATION_UNAVAILABLE: 0xd3,
  INSUFFICIENT_PRIVILEGE: 0xd4,
  NOT_SUPPORTED_IN_PRESENT_STATE: 0xd5,
  SUBFUNCTION_DISABLED: 0xd6,
  UNSPECIFIED: 0xff,
} as const;

const completionCodeWords: ReadonlyMap<number, string> = new Map([
  [0x00, 'command completed normally'],
  [0xc0, 'node busy'],
  [0xc1, 'invalid command (not supported by this BMC)'],
  [0xc2, 'command invalid for the given LUN'],
  [0xc3, 'timeout while processing command'],
  [0xc4, 'out of space'],
  [0xc5, 'reservation cancelled or invalid reservation ID'],
  [0xc6, 'request data truncated'],
  [0xc7, 'request data length invalid'],
  [0xc8, 'request data field length limit exceeded'],
  [0xc9, 'parameter out of range'],
  [0xca, 'cannot return number of requested data bytes'],
  [0xcb, 'requested sensor, data or record not present'],
  [0xcc, 'invalid data field in request'],
  [0xcd, 'command illegal for specified sensor or record type'],
  [0xce, 'command response could not be provided'],
  [0xcf, 'cannot execute duplicated request'],
  [0xd0, 'SDR repository in update mode'],
  [0xd1, 'device in firmware update mode'],
  [0xd2, 'BMC initialization or initialization agent in progress'],
  [0xd3, 'destination unavailable'],
  [0xd4, 'insufficient privilege level'],
  [0xd5, 'command not supported in present state'],
  [0xd6, 'parameter illegal because sub-function is disabled or unavailable'],
  [0xff, 'unspecified error'],
]);

/** The completion code in words: the standard text, or its class for OEM/command-specific codes. */
export function completionCodeText(code: number): string {
  const words = completionCodeWords.get(code);
  if (words !== undefined) return words;
  if (code >= 0x01 && code <= 0x7e) return 'OEM completion code';
  if (code >= 0x80 && code <= 0xbe) return 'command-specific completion code';
  return 'reserved completion code';
}

/** Privilege levels (IPMI v2.0 §6.8; table 22-15). 0 in requests means "highest the user has". */
export const Privilege = { HIGHEST: 0x00, CALLBACK: 0x01, USER: 0x02, OPERATOR: 0x03, ADMINISTRATOR: 0x04, OEM: 0x05, NO_ACCESS: 0x0f } as const;
export type PrivilegeLevel = 1 | 2 | 3 | 4 | 5;

/** The privilege name ipmitool uses (ADMINISTRATOR, OPERATOR, ...), for messages. */
export function privilegeWord(level: number): string {
  return (Object.keys(Privilege) as (keyof typeof Privilege)[]).find((k) => Privilege[k] === level) ?? `level ${level}`;
}

/** IPMI 1.5 session authentication types (IPMI v2.0 §13.6, table 13-8), also bits of auth-capabilities byte 2. */
export const AuthType = { NONE: 0x00, MD2: 0x01, MD5: 0x02, PASSWORD: 0x04, OEM: 0x05, RMCP_PLUS: 0x06 } as const;

/** RMCP+ payload types (IPMI v2.0 §13.27.3, table 13-16). */
export const PayloadType = {
  IPMI: 0x00,
  SOL: 0x01,
  OEM_EXPLICIT: 0x02,
  OPEN_SESSION_REQUEST: 0x10,
  OPEN_SESSION_RESPONSE: 0x11,
  RAKP1: 0x12,
  RAKP2: 0x13,
  RAKP3: 0x14,
  RAKP4: 0x15,
} as const;

/** Authentication algorithms of RAKP (IPMI v2.0 §13.28, table 13-17). */
export const AuthAlgorithm = { NONE: 0x00, HMAC_SHA1: 0x01, HMAC_MD5: 0x02, HMAC_SHA256: 0x03 } as const;
/** Integrity algorithms (IPMI v2.0 §13.28.4, table 13-18). */
export const IntegrityAlgorithm = { NONE: 0x00, HMAC_SHA1_96: 0x01, HMAC_MD5_128: 0x02, MD5_128: 0x03, HMAC_SHA256_128: 0x04 } as const;
/** Confidentiality algorithms (IPMI v2.0 §13.28.5, table 13-19). */
export const ConfidentialityAlgorithm = { NONE: 0x00, AES_CBC_128: 0x01, XRC4_128: 0x02, XRC4_40: 0x03 } as const;

/** RMCP+ and RAKP message status codes (IPMI v2.0 §13.24, table 13-15). */
export const RmcpPlusStatus = {
  OK: 0x00,
  INSUFFICIENT_RESOURCES: 0x01,
  INVALID_SESSION_ID: 0x02,
  INVALID_PAYLOAD_TYPE: 0x03,
  INVALID_AUTH_ALGORITHM: 0x04,
  INVALID_INTEGRITY_ALGORITHM: 0x05,
  NO_MATCHING_AUTH_PAYLOAD: 0x06,
  NO_MATCHING_INTEGRITY_PAYLOAD: 0x07,
  INACTIVE_SESSION_ID: 0x08,
  INVALID_ROLE: 0x09,
  UNAUTHORIZED_ROLE: 0x0a,
  INSUFFICIENT_RESOURCES_FOR_ROLE: 0x0b,
  INVALID_NAME_LENGTH: 0x0c,
  UNAUTHORIZED_NAME: 0x0d,
  UNAUTHORIZED_GUID: 0x0e,
  INVALID_INTEGRITY_CHECK_VALUE: 0x0f,
  INVALID_CONFIDENTIALITY_ALGORITHM: 0x10,
  NO_CIPHER_SUITE_MATCH: 0x11,
  ILLEGAL_PARAMETER: 0x12,
} as const;

const rmcpPlusStatusWords: readonly string[] = [
  'no errors',
  'insufficient resources to create a session',
  'invalid session ID',
  'invalid payload type',
  'invalid authentication algorithm',
  'invalid integrity algorithm',
  'no matching authentication payload',
  'no matching integrity payload',
  'inactive session ID',
  'invalid role',
  'unauthorized role or privilege level requested',
  'insufficient resources to create a session at the requested role',
  'invalid name length',
  'unauthorized name',
  'unauthorized GUID',
  'invalid integrity check value',
  'invalid confidentiality algorithm',
  'no cipher suite match with proposed security algorithms',
  'illegal or unrecognized parameter',
];

/** An RMCP+ status code in words (IPMI v2.0 §13.24). */
export function rmcpPlusStatusText(status: number): string {
  return rmcpPlusStatusWords[status] ?? `reserved status 0x${status.toString(16).padStart(2, '0')}`;
}

/** Addresses of the message header: the BMC is responder 0x20, remote console software 0x81 (IPMI v2.0 §5.5; IPMB v1.0 §2.2). */
export const BMC_SLAVE_ADDRESS = 0x20;
export const REMOTE_CONSOLE_SOFTWARE_ID = 0x81;

/** Largest user name (IPMI v2.0 §22.28) and passwords: 16 bytes for IPMI 1.5, 20 for 2.0 (§22.30). */
export const MAX_USER_NAME_LENGTH = 16;
export const MAX_PASSWORD_LENGTH = 20;

/** Boot option parameter selectors (IPMI v2.0 §28.13, table 28-14). */
export const BootParam = {
  SET_IN_PROGRESS: 0,
  SERVICE_PARTITION_SELECTOR: 1,
  SERVICE_PARTITION_SCAN: 2,
  BMC_BOOT_FLAG_VALID_CLEAR: 3,
  BOOT_INFO_ACKNOWLEDGE: 4,
  BOOT_FLAGS: 5,
  BOOT_INITIATOR_INFO: 6,
  BOOT_INITIATOR_MAILBOX: 7,
} as const;

/** Boot flags byte 1 (IPMI v2.0 §28.13, table 28-14, parameter 5). */
export const BootFlags = { VALID: 0x80, PERSISTENT: 0x40, EFI: 0x20 } as const;

/** Boot device selector, byte 2 bits 5:2 of boot flags (IPMI v2.0 table 28-14). */
export const BootDevice = {
  NONE: 0x00,
  PXE: 0x04,
  DISK: 0x08,
  SAFE: 0x0c,
  DIAG: 0x10,
  CDROM: 0x14,
  BIOS_SETUP: 0x18,
  REMOTE_FLOPPY: 0x1c,
  REMOTE_CDROM: 0x20,
  REMOTE_DISK: 0x2c,
  FLOPPY: 0x3c,
} as const;

/** Chassis control sub-commands (IPMI v2.0 §28.3, table 28-4). */
export const ChassisControl = { POWER_DOWN: 0x00, POWER_UP: 0x01, POWER_CYCLE: 0x02, HARD_RESET: 0x03, PULSE_DIAGNOSTIC: 0x04, SOFT_SHUTDOWN: 0x05 } as const;

/** Activate Payload completion codes (IPMI v2.0 §24.1). */
export const ActivatePayloadCode = {
  ALREADY_ACTIVE: 0x80,
  DISABLED: 0x81,
  LIMIT_REACHED: 0x82,
  ENCRYPTION_UNAVAILABLE: 0x83,
  ENCRYPTION_REQUIRED: 0x84,
} as const;

/** Set Session Privilege Level completion codes (IPMI v2.0 §22.18). */
export const SetPrivilegeCode = { NOT_AVAILABLE_FOR_USER: 0x80, EXCEEDS_LIMIT: 0x81, CANNOT_DISABLE_USER_LEVEL: 0x82 } as const;

/** Get Session Challenge completion codes (IPMI v2.0 §22.16). */
export const ChallengeCode = { INVALID_USER_NAME: 0x81, NULL_USER_DISABLED: 0x82 } as const;

/** Activate Session completion codes (IPMI v2.0 §22.17). */
export const ActivateSessionCode = {
  NO_SESSION_SLOT: 0x81,
  NO_SLOT_FOR_USER: 0x82,
  NO_SLOT_FOR_PRIVILEGE: 0x83,
  SEQUENCE_OUT_OF_RANGE: 0x84,
  INVALID_SESSION_ID: 0x85,
  PRIVILEGE_EXCEEDS_LIMIT: 0x86,
} as const;

/** Close Session completion codes (IPMI v2.0 §22.19). */
export const CloseSessionCode = { INVALID_SESSION_ID: 0x87, INVALID_SESSION_HANDLE: 0x88 } as const;

/** Set User Password completion codes (IPMI v2.0 §22.30). */
export const SetPasswordCode = { TEST_FAILED: 0x80, WRONG_SIZE: 0x81 } as const;

/** "Parameter not supported" for Get System Boot Options / LAN / SOL configuration (IPMI v2.0 §28.13, §23.2, §26.3). */
export const PARAMETER_NOT_SUPPORTED = 0x80;
