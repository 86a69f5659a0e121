// Redfish names and anvil's defaults for talking to a Redfish service (DMTF DSP0266, the
// Redfish Specification; DSP8010, the schemas). Every timeout, retry count and size limit is a
// named default that a caller can override.

/** The service root (DSP0266 §6.3 "Service root"). */
export const SERVICE_ROOT = '/redfish/v1';
/** Where sessions are made when the service root does not link them (DSP0266 §13.3.4). */
export const DEFAULT_SESSIONS_PATH = '/redfish/v1/SessionService/Sessions';

export const REDFISH_DEFAULTS = {
  /** One HTTP exchange, from connect to the last byte. */
  requestTimeoutMs: 20_000,
  /** One call of the client, with its retries and task polls: the conductor is never held longer. */
  callTimeoutMs: 120_000,
  /** Retries of a 503 answer (DSP0266 §8.7: the service is busy, try after Retry-After). */
  busyRetries: 5,
  /** Wait before retrying a 503 that gives no Retry-After. */
  busyDelayMs: 1_000,
  /** A Retry-After longer than this is shortened to it. */
  maxRetryAfterMs: 30_000,
  /** Polls of one task monitor before it is given up as looping (DSP0266 §13.2 "Asynchronous operations"). */
  maxTaskPolls: 120,
  /** Spacing of task monitor polls when the service gives no Retry-After. */
  taskPollMs: 1_000,
  /** Largest answer read; a BMC that sends more is broken. */
  maxResponseBytes: 8 * 1024 * 1024,
  /** Members of a collection, log entries of a log, read at most. */
  maxMembers: 1_000,
  /**
   * TLS contexts kept for reuse, one per distinct trust anchor (CA bundle or pinned
   * certificate): BMCs under one CA share one, and so do the clients of one BMC made one after
   * another. OpenSSL 3 spends about half a millisecond and a few hundred KiB on each.
   */
  maxTlsContexts: 256,
} as const;

/** ComputerSystem.Reset's ResetType values (DSP8010 Resource.ResetType). */
export const RESET_TYPES = [
  'On',
  'ForceOff',
  'GracefulShutdown',
  'GracefulRestart',
  'ForceRestart',
  'Nmi',
  'ForceOn',
  'PushPowerButton',
  'PowerCycle',
  'Suspend',
  'Pause',
  'Resume',
] as const;
export type ResetType = (typeof RESET_TYPES)[number];

/** BootSourceOverrideTarget values (DSP8010 ComputerSystem.BootSource). */
export const BOOT_TARGETS = [
  'None',
  'Pxe',
  'Floppy',
  'Cd',
  'Usb',
  'Hdd',
  'BiosSetup',
  'Utilities',
  'Diags',
  'UefiShell',
  'UefiTarget',
  'SDCard',
  'UefiHttp',
  'RemoteDrive',
  'UefiBootNext',
  'Recovery',
] as const;
export type BootTarget = (typeof BOOT_TARGETS)[number];

/** BootSourceOverrideEnabled values. */
export const BOOT_ENABLED = ['Disabled', 'Once', 'Continuous'] as const;
export type BootEnabled = (typeof BOOT_ENABLED)[number];

/** BootSourceOverrideMode values. */
export const BOOT_MODES = ['Legacy', 'UEFI'] as const;
export type BootMode = (typeof BOOT_MODES)[number];

/** ComputerSystem PowerState values (DSP8010 Resource.PowerState). */
export const POWER_STATES = ['On', 'Off', 'PoweringOn', 'PoweringOff', 'Paused'] as const;
export type RedfishPowerState = (typeof POWER_STATES)[number];

/** TaskState values that end a task (DSP8010 Task.TaskState). */
export const TASK_DONE_STATES = ['Completed', 'Exception', 'Killed', 'Cancelled', 'Interrupted'] as const;
