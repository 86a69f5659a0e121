// Errors of the driver layer. Each names the machine and says what to do; none contains a
// password. The API takes the HTTP status from the category (src/common/errors.ts).
import { AnvilError } from '../common/errors.ts';

export const DRIVER_ERROR_CODES = {
  invalidInfo: 'DRIVER_INFO_INVALID',
  unknownDriver: 'UNKNOWN_DRIVER',
  noController: 'NO_CONTROLLER',
  unsupported: 'DRIVER_UNSUPPORTED',
  powerTimeout: 'POWER_TIMEOUT',
  unreachable: 'CONTROLLER_UNREACHABLE',
  auth: 'CONTROLLER_AUTH_FAILED',
  failed: 'CONTROLLER_FAILED',
} as const;

/** driver_info lacks fields or has invalid ones; lists every problem at once. */
export class DriverInfoError extends AnvilError {
  override readonly name = 'DriverInfoError';
  readonly problems: readonly string[];
  constructor(machine: string, driver: string, problems: readonly string[]) {
    super(DRIVER_ERROR_CODES.invalidInfo, 'invalid', `driver_info of machine '${machine}' (driver ${driver}) is not valid: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

/** The machine has no management controller (driver manual) for what was asked. */
export class NoControllerError extends AnvilError {
  override readonly name = 'NoControllerError';
  constructor(machine: string, what: string) {
    super(
      DRIVER_ERROR_CODES.noController,
      'conflict',
      `machine '${machine}' has no management controller (driver manual), so anvil cannot ${what}: it reboots itself; power it by hand or give it a driver (bin/anvil machine set ${machine} --driver ipmi|amt|redfish --driver-info …)`,
    );
  }
}

/** The controller cannot do this (e.g. soft power off on an AMT without WS-Man graceful states). */
export class UnsupportedError extends AnvilError {
  override readonly name = 'UnsupportedError';
  constructor(machine: string, message: string) {
    super(DRIVER_ERROR_CODES.unsupported, 'invalid', `machine '${machine}': ${message}`);
  }
}

/** The action was sent but the machine did not reach the state in time. */
export class PowerTimeoutError extends AnvilError {
  override readonly name = 'PowerTimeoutError';
  constructor(machine: string, target: string, timeoutMs: number, last: string) {
    super(
      DRIVER_ERROR_CODES.powerTimeout,
      'unavailable',
      `machine '${machine}' did not reach power ${target} within ${timeoutMs / 1000} s (still ${last}); check the machine and its controller, or retry with a longer timeout`,
    );
  }
}

/**
 * The controller failed: unreachable, refused the credentials, or refused the command.
 * `cause` keeps the protocol error (its message never holds a password).
 */
export class ControllerError extends AnvilError {
  override readonly name = 'ControllerError';
  constructor(code: string, machine: string, detail: string, cause?: unknown) {
    super(code, 'unavailable', `machine '${machine}': ${detail}`, { cause });
  }
}
