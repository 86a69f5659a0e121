// The fake hardware type: machines that live in memory, for tests and demos. A fake machine
// can lag (power changes land after a delay), stick (never change) or stop answering, so the
// contract suite and power sync can be tested without any emulator.
import { InfoReader } from './driver-info.ts';
import { ControllerError, DRIVER_ERROR_CODES } from './errors.ts';
import { rebootByPowerCycle, waitForPowerState } from './wait.ts';
import type { BootDevice, BootDeviceInfo, BootDeviceOptions, Driver, DriverContext, HardwareType, PowerOptions, PowerState, PowerTarget } from './types.ts';

export interface FakeInfo {
  readonly powerDelayMs: number;
}

/** One fake machine's state; tests reach it through FakeHardware.machine(name). */
export class FakeMachine {
  power: 'on' | 'off' = 'off';
  bootDevice: BootDevice | null = null;
  persistent = false;
  uefi = false;
  /** Each boot and the device it used ('default' when none was set). */
  readonly boots: (BootDevice | 'default')[] = [];
  /** Power changes land this long after being asked for. */
  delayMs = 0;
  /** Accepts power actions but never carries them out. */
  stuck = false;
  /** Answers nothing, like a BMC that is switched off. */
  unreachable = false;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  request(target: 'on' | 'off'): void {
    if (this.stuck || this.power === target) return;
    const apply = () => {
      if (target === 'on' && this.power === 'off') {
        this.boots.push(this.bootDevice ?? 'default');
        if (!this.persistent) this.bootDevice = null;
      }
      this.power = target;
    };
    if (this.delayMs <= 0) return apply();
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      apply();
    }, this.delayMs);
    timer.unref();
    this.#timers.add(timer);
  }

  cancel(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}

const FIELDS = {
  fake_power_delay_ms: { description: 'power changes land this many ms after being asked for (default 0)', required: false },
  fake_password: { description: 'a password that is never used, to test secret handling', required: false, secret: true },
} as const;

export class FakeHardware implements HardwareType<FakeInfo> {
  readonly name = 'fake';
  readonly description = 'in-memory machines for tests and demos';
  readonly fields = FIELDS;
  readonly #machines = new Map<string, FakeMachine>();

  /** The machine's in-memory state, made on first use. */
  machine(name: string): FakeMachine {
    let m = this.#machines.get(name);
    if (!m) {
      m = new FakeMachine();
      this.#machines.set(name, m);
    }
    return m;
  }

  validate(machine: string, driverInfo: Readonly<Record<string, unknown>>): FakeInfo {
    const r = new InfoReader(machine, this.name, driverInfo, this.fields);
    const powerDelayMs = r.integer('fake_power_delay_ms', 0, 3_600_000) ?? 0;
    r.string('fake_password');
    r.done();
    return { powerDelayMs };
  }

  create(info: FakeInfo, context: DriverContext): Driver {
    const m = this.machine(context.machine);
    if (info.powerDelayMs > 0) m.delayMs = info.powerDelayMs;
    const name = context.machine;
    const reach = () => {
      if (m.unreachable) throw new ControllerError(DRIVER_ERROR_CODES.unreachable, name, 'the fake controller does not answer');
    };
    const getPowerState = async (): Promise<PowerState> => {
      reach();
      return m.power;
    };
    const setPowerState = async (target: PowerTarget, options: PowerOptions = {}): Promise<PowerState> => {
      reach();
      const state = target === 'on' ? 'on' : 'off';
      m.request(state);
      return waitForPowerState(getPowerState, state, {
        machine: name,
        pollMs: 10,
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      });
    };
    return {
      power: {
        getPowerState,
        setPowerState,
        reboot: rebootByPowerCycle(getPowerState, setPowerState),
      },
      management: {
        getSupportedBootDevices: () => ['pxe', 'disk', 'cdrom', 'bios'],
        getBootDevice: async (): Promise<BootDeviceInfo> => {
          reach();
          return { device: m.bootDevice, persistent: m.persistent, uefi: m.uefi };
        },
        setBootDevice: async (device: BootDevice, options: BootDeviceOptions = {}) => {
          reach();
          m.bootDevice = device;
          m.persistent = options.persistent === true;
          m.uefi = options.uefi === true;
        },
      },
    };
  }

  async close(): Promise<void> {
    for (const m of this.#machines.values()) m.cancel();
  }
}
