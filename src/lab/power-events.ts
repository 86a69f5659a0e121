// Why a lab VM's power changed, told from what was asked for, QEMU's last SHUTDOWN event
// (qapi/run-state.json: ShutdownCause) and how the process ended. Pure.

/** Why the power changed. */
export type LabPowerReason = 'power-on' | 'reset' | 'requested-off' | 'soft-off' | 'guest-poweroff' | 'killed' | 'crashed';

export interface LabPowerEvent {
  readonly name: string;
  readonly state: 'on' | 'off';
  readonly reason: LabPowerReason;
  /** QEMU's exit status, when this process started it. */
  readonly exitCode?: number | null;
  readonly signal?: NodeJS.Signals | null;
}

/** What this process asked QEMU for before it exited. */
export type ExpectedExit = 'requested-off' | 'soft-off' | undefined;

/** Signals that stop a process on purpose (someone killed QEMU); any other death is a crash. */
const KILL_SIGNALS: ReadonlySet<string> = new Set(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGHUP']);

/**
 * The reason for a QEMU exit: what was asked for here wins; otherwise QEMU's SHUTDOWN event
 * says who asked (the guest, a QMP quit from another process, a signal); with no SHUTDOWN
 * event, a kill signal means killed and anything else (SIGSEGV, SIGABRT, exit status) crashed.
 */
export function exitReason(expected: ExpectedExit, shutdown: Readonly<Record<string, unknown>> | undefined, signal: string | null): LabPowerReason {
  if (expected) return expected;
  if (shutdown?.guest === true) return 'guest-poweroff';
  if (shutdown?.reason === 'host-qmp-quit') return 'requested-off';
  if (shutdown?.reason === 'host-signal') return 'killed';
  if (signal !== null && KILL_SIGNALS.has(signal)) return 'killed';
  return 'crashed';
}
