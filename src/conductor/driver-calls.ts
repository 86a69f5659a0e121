// Every call a task makes to a driver's power, management and virtual-media interfaces, timed and reported to
// an observer (the server's metrics): which hardware type, which operation, how long, and the
// error code when it failed. The driver itself is untouched; the task sees the same interfaces.
import type { Driver, ManagementInterface, PowerInterface, VirtualMediaInterface } from '../drivers/types.ts';

export interface DriverCall {
  /** The hardware type: ipmi, amt, fake… */
  readonly driver: string;
  /** The interface method: getPowerState, setPowerState, reboot, getBootDevice, setBootDevice, insert, eject. */
  readonly operation: string;
  readonly seconds: number;
  /** The error's stable code when the call failed (INTERNAL for an error without one). */
  readonly error?: string;
}

export type DriverCallObserver = (call: DriverCall) => void;

const POWER_CALLS = ['getPowerState', 'setPowerState', 'reboot'] as const;
const MANAGEMENT_CALLS = ['getBootDevice', 'setBootDevice'] as const;
const VMEDIA_CALLS = ['insert', 'eject'] as const;

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code !== '' ? code : 'INTERNAL';
}

function timed<T extends object>(target: T, methods: readonly string[], driver: string, observe: DriverCallObserver, now: () => number): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof property !== 'string' || !methods.includes(property) || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const start = now();
        try {
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(object, args);
          observe({ driver, operation: property, seconds: (now() - start) / 1000 });
          return result;
        } catch (error) {
          observe({ driver, operation: property, seconds: (now() - start) / 1000, error: codeOf(error) });
          throw error;
        }
      };
    },
  });
}

/** The driver with its calls reported to `observe`; `now` is a millisecond clock (performance.now). */
export function observedDriver(driver: Driver, type: string, observe: DriverCallObserver, now: () => number = () => performance.now()): Driver {
  return {
    power: timed<PowerInterface>(driver.power, POWER_CALLS, type, observe, now),
    management: timed<ManagementInterface>(driver.management, MANAGEMENT_CALLS, type, observe, now),
    ...(driver.console ? { console: driver.console } : {}),
    ...(driver.vmedia ? { vmedia: timed<VirtualMediaInterface>(driver.vmedia, VMEDIA_CALLS, type, observe, now) } : {}),
  };
}
