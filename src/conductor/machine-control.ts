// Power and boot-device control of enrolled machines: builds each machine's driver from its
// stored driver_info (secrets decrypted only here), runs every state-changing operation as a
// task holding the machine's lock, records the power state and an event for each change,
// and shows driver_info with secrets masked.
import type { Kysely } from 'kysely';
import type { Database, Machine, MachineEvent } from '../store/schema.ts';
import { stamp, type Clock } from '../store/store.ts';
import type { Machines } from '../boot/machines.ts';
import { invalid } from '../common/errors.ts';
import { HardwareTypes, type DriverOptions } from '../drivers/registry.ts';
import { maskDriverInfo, type SecretBox } from '../drivers/secrets.ts';
import {
  BOOT_DEVICES,
  type BootDevice,
  type BootDeviceInfo,
  type BootDeviceOptions,
  type Driver,
  type PowerState,
  type PowerTarget,
} from '../drivers/types.ts';
import { DEFAULT_POWER_TIMEOUT_MS } from '../drivers/wait.ts';
import { holderName, MachineLocks } from './locks.ts';

export type PowerRequest = PowerTarget | 'reboot';
export const POWER_REQUESTS: readonly PowerRequest[] = ['on', 'off', 'soft-off', 'reboot'];
/** Longest timeout a caller may ask for: a soft power-off may take minutes (Ironic's soft_power_off_timeout is 600 s). */
export const MAX_POWER_TIMEOUT_MS = 3_600_000;

export type EventKind = 'power' | 'maintenance' | 'controller' | 'boot-device' | 'driver' | 'lock';

export interface MachineDriverView {
  readonly name: string;
  readonly driver: string;
  /** Secrets replaced by ******. */
  readonly driverInfo: Record<string, unknown>;
  readonly powerState: string;
  readonly maintenance: boolean;
  readonly maintenanceReason: string | null;
  readonly reservation: string | null;
}

export interface ControlOptions extends DriverOptions {
  /** Names this process in lock holders: 'anvil serve', 'anvil machine'. */
  readonly process?: string;
}

export interface ConfigureRequest {
  readonly driver?: string | undefined;
  /** Fields to set; null removes one. */
  readonly driverInfo?: Readonly<Record<string, unknown>> | undefined;
  /** Replace driver_info as a whole instead of merging the fields in. */
  readonly replace?: boolean | undefined;
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export class MachineControl {
  readonly types: HardwareTypes;
  readonly locks: MachineLocks;
  readonly #db: Kysely<Database>;
  readonly #machines: Machines;
  readonly #secrets: SecretBox;
  readonly #clock: Clock;
  readonly #process: string;

  constructor(db: Kysely<Database>, machines: Machines, secrets: SecretBox, clock: Clock, options: ControlOptions = {}) {
    this.#db = db;
    this.#machines = machines;
    this.#secrets = secrets;
    this.#clock = clock;
    this.#process = options.process ?? 'anvil';
    this.types = new HardwareTypes(options);
    this.locks = new MachineLocks(db, (machine, holder) => this.event(machine.id, 'lock', `lock of a process that is gone released: ${holder}`));
  }

  /** The lock holder name for an operation of this process. */
  holder(operation: string): string {
    return holderName(this.#process, operation);
  }

  view(machine: Machine): MachineDriverView {
    return {
      name: machine.name,
      driver: machine.driver,
      driverInfo: maskDriverInfo(parseJson(machine.driver_info)),
      powerState: machine.power_state,
      maintenance: machine.maintenance === 1,
      maintenanceReason: machine.maintenance_reason,
      reservation: machine.reservation,
    };
  }

  async show(nameOrMac: string): Promise<MachineDriverView> {
    return this.view(await this.#machines.find(nameOrMac));
  }

  /** Sets a machine's driver and driver_info after validating them (no hardware is contacted). */
  async configure(nameOrMac: string, request: ConfigureRequest, who = 'operator'): Promise<MachineDriverView> {
    const machine = await this.#machines.find(nameOrMac);
    const driver = request.driver ?? machine.driver;
    const type = this.types.get(driver);
    const changedDriver = driver !== machine.driver;
    const base = request.replace || changedDriver ? {} : parseJson(machine.driver_info);
    const merged: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(request.driverInfo ?? {})) {
      if (value === null) delete merged[key];
      else merged[key] = value;
    }
    type.validate(machine.name, this.#secrets.open(merged));
    const sealed = this.#secrets.seal(merged);
    await this.locks.with(machine, this.holder(`set driver (${who})`), async () => {
      const now = stamp(this.#clock);
      await this.#db
        .updateTable('machines')
        .set({
          driver,
          driver_info: JSON.stringify(sealed),
          updated_at: now,
          ...(changedDriver ? { driver_internal_info: '{}', power_state: 'unknown' } : {}),
        })
        .where('id', '=', machine.id)
        .execute();
      const fields = Object.keys(merged).sort().join(', ') || 'none';
      await this.event(machine.id, 'driver', `driver ${driver}${changedDriver ? ` (was ${machine.driver})` : ''}, driver_info fields: ${fields} (${who})`);
    });
    return this.show(machine.name);
  }

  /** The machine's driver, built from its driver_info with secrets decrypted. */
  driverOf(machine: Machine): Driver {
    const type = this.types.get(machine.driver);
    const info = type.validate(machine.name, this.#secrets.open(parseJson(machine.driver_info)));
    return type.create(info, {
      machine: machine.name,
      state: {
        get: async () => {
          const row = await this.#db.selectFrom('machines').select('driver_internal_info').where('id', '=', machine.id).executeTakeFirst();
          return parseJson(row?.driver_internal_info ?? '{}');
        },
        set: async (values) => {
          await this.#db.transaction().execute(async (trx) => {
            const row = await trx.selectFrom('machines').select('driver_internal_info').where('id', '=', machine.id).executeTakeFirst();
            const next = { ...parseJson(row?.driver_internal_info ?? '{}') };
            for (const [k, v] of Object.entries(values)) {
              if (v === undefined) delete next[k];
              else next[k] = v;
            }
            await trx
              .updateTable('machines')
              .set({ driver_internal_info: JSON.stringify(next) })
              .where('id', '=', machine.id)
              .execute();
          });
        },
      },
    });
  }

  /** Reads the power state from the controller (a shared lock: nothing is written but the result). */
  async powerState(nameOrMac: string): Promise<{ name: string; powerState: PowerState }> {
    const machine = await this.#machines.find(nameOrMac);
    const state = await this.driverOf(machine).power.getPowerState();
    await this.recordPower(machine, state, 'read');
    return { name: machine.name, powerState: state };
  }

  /** Powers on, off, soft-off or reboots, waiting for the new state; holds the machine's lock throughout. */
  async setPower(
    nameOrMac: string,
    target: PowerRequest,
    options: { timeoutMs?: number | undefined } = {},
    who = 'operator',
  ): Promise<{ name: string; powerState: PowerState }> {
    if (!POWER_REQUESTS.includes(target)) throw invalid('INVALID_POWER_TARGET', `power target '${String(target)}' is not one of ${POWER_REQUESTS.join(', ')}`);
    const timeoutMs = options.timeoutMs ?? DEFAULT_POWER_TIMEOUT_MS;
    if (!(timeoutMs > 0 && timeoutMs <= MAX_POWER_TIMEOUT_MS))
      throw invalid('INVALID_TIMEOUT', `timeout must be from 1 ms to ${MAX_POWER_TIMEOUT_MS / 1000} s`);
    const machine = await this.#machines.find(nameOrMac);
    return this.locks.with(machine, this.holder(`power ${target} (${who})`), async () => {
      const driver = this.driverOf(machine);
      const state = target === 'reboot' ? await driver.power.reboot({ timeoutMs }) : await driver.power.setPowerState(target, { timeoutMs });
      await this.recordPower(machine, state, `${target} by ${who}`, target === 'reboot');
      return { name: machine.name, powerState: state };
    });
  }

  async bootDevice(nameOrMac: string): Promise<{ name: string; supported: readonly BootDevice[] } & BootDeviceInfo> {
    const machine = await this.#machines.find(nameOrMac);
    const driver = this.driverOf(machine);
    return { name: machine.name, ...(await driver.management.getBootDevice()), supported: driver.management.getSupportedBootDevices() };
  }

  async setBootDevice(nameOrMac: string, device: BootDevice, options: BootDeviceOptions = {}, who = 'operator'): Promise<{ name: string } & BootDeviceInfo> {
    const machine = await this.#machines.find(nameOrMac);
    const driver = this.driverOf(machine);
    const supported = driver.management.getSupportedBootDevices();
    if (!BOOT_DEVICES.includes(device) || (supported.length > 0 && !supported.includes(device))) {
      throw invalid(
        'INVALID_BOOT_DEVICE',
        `machine '${machine.name}' (driver ${machine.driver}) cannot boot from '${device}'; it offers ${supported.join(', ') || 'none'}`,
      );
    }
    return this.locks.with(machine, this.holder(`set boot device ${device} (${who})`), async () => {
      await driver.management.setBootDevice(device, options);
      const mode = `${options.persistent ? 'persistent' : 'next boot only'}${options.uefi ? ', UEFI' : ''}`;
      await this.event(machine.id, 'boot-device', `boot device ${device} (${mode}) by ${who}`);
      return { name: machine.name, device, persistent: options.persistent === true, uefi: options.uefi === true };
    });
  }

  /** Stores a power state read or reached; an event when it differs from the recorded one. */
  async recordPower(machine: Machine, state: PowerState, why: string, always = false): Promise<boolean> {
    const row = await this.#db.selectFrom('machines').select('power_state').where('id', '=', machine.id).executeTakeFirst();
    const before = row?.power_state ?? machine.power_state;
    if (before === state && !always) return false;
    await this.#db
      .updateTable('machines')
      .set({ power_state: state, updated_at: stamp(this.#clock) })
      .where('id', '=', machine.id)
      .execute();
    await this.event(machine.id, 'power', before === state ? `power ${state} (${why})` : `power ${before} → ${state} (${why})`);
    return true;
  }

  async event(machineId: number, kind: EventKind, message: string): Promise<void> {
    await this.#db
      .insertInto('machine_events')
      .values({ machine_id: machineId, at: stamp(this.#clock), kind, message })
      .execute();
  }

  async events(nameOrMac: string, limit = 100): Promise<MachineEvent[]> {
    const machine = await this.#machines.find(nameOrMac);
    return this.#db.selectFrom('machine_events').selectAll().where('machine_id', '=', machine.id).orderBy('id', 'desc').limit(limit).execute();
  }

  async close(): Promise<void> {
    await this.types.close();
  }
}
