// Power and boot-device control of enrolled machines through their drivers: reads run as
// shared tasks, changes as exclusive ones (task.ts), each change recorded as a machine event.
// driver_info is shown with its secrets masked and stored with them sealed.
import type { Duplex } from 'node:stream';
import type { DriverCallObserver } from './driver-calls.ts';
import type { Kysely } from 'kysely';
import type { Database, Machine } from '../store/schema.ts';
import { stamp, type Clock } from '../store/store.ts';
import type { Machines } from '../machines/machines.ts';
import type { EventKind, MachineEvent, MachineEvents } from '../machines/events.ts';
import { propertiesOf, type MachineProperties } from '../machines/properties.ts';
import { conflict, invalid } from '../common/errors.ts';
import { HardwareTypes, type DriverOptions } from '../drivers/registry.ts';
import { maskDriverInfo, type SecretBox } from '../drivers/secrets.ts';
import { BOOT_DEVICES, type BootDevice, type BootDeviceInfo, type BootDeviceOptions, type PowerState, type PowerTarget } from '../drivers/types.ts';
import { DEFAULT_POWER_TIMEOUT_MS } from '../drivers/wait.ts';
import { MachineLocks } from './locks.ts';
import { parseJsonObject, TaskManager, type Task } from './task.ts';
import type { WorkQueue } from './work.ts';

// The drivers' words, for the interfaces that offer them (they import the conductor, not drivers).
export { BOOT_DEVICES, type BootDevice } from '../drivers/types.ts';

export type PowerRequest = PowerTarget | 'reboot';
export const POWER_REQUESTS: readonly PowerRequest[] = ['on', 'off', 'soft-off', 'reboot'];
/** Longest timeout a caller may ask for: a soft power-off may take minutes (Ironic's soft_power_off_timeout is 600 s). */
export const MAX_POWER_TIMEOUT_MS = 3_600_000;

export interface MachineDriverView {
  readonly name: string;
  readonly driver: string;
  /** Secrets replaced by ******. */
  readonly driverInfo: Record<string, unknown>;
  readonly powerState: string;
  readonly maintenance: boolean;
  readonly maintenanceReason: string | null;
  readonly reservation: string | null;
  /** How anvil reaches the machine's OS (address, ssh_port, ssh_user, login_home). */
  readonly properties: MachineProperties;
}

export interface ControlOptions extends DriverOptions {
  /** Names this process in lock holders: 'anvil serve', 'anvil machine'. */
  readonly process?: string;
  /** Told of every driver call (power, boot device): the server's metrics. */
  readonly onDriverCall?: DriverCallObserver | undefined;
}

export interface ConfigureRequest {
  readonly driver?: string | undefined;
  /** Fields to set; null removes one. */
  readonly driverInfo?: Readonly<Record<string, unknown>> | undefined;
  /** Replace driver_info as a whole instead of merging the fields in. */
  readonly replace?: boolean | undefined;
}

export class MachineControl {
  readonly tasks: TaskManager;
  readonly #db: Kysely<Database>;
  readonly #machines: Machines;
  readonly #events: MachineEvents;
  readonly #secrets: SecretBox;
  readonly #clock: Clock;
  #work: WorkQueue | undefined;

  constructor(parts: { db: Kysely<Database>; machines: Machines; events: MachineEvents; secrets: SecretBox; clock: Clock }, options: ControlOptions = {}) {
    this.#db = parts.db;
    this.#machines = parts.machines;
    this.#events = parts.events;
    this.#secrets = parts.secrets;
    this.#clock = parts.clock;
    const locks = new MachineLocks(parts.db, (machine, holder) => this.event(machine.id, 'lock', `lock of a process that is gone released: ${holder}`));
    this.tasks = new TaskManager({
      db: parts.db,
      machines: parts.machines,
      locks,
      types: new HardwareTypes(options),
      secrets: parts.secrets,
      process: options.process ?? 'anvil',
      observe: options.onDriverCall,
    });
  }

  /**
   * From now on power and boot-device changes run on the machine's owner conductor (work.ts):
   * inline when this process owns it, else through the work queue.
   */
  useWork(work: WorkQueue): void {
    this.#work = work;
    work.handle('power', (machine, args, who) =>
      this.#setPowerHere(machine, args.target as PowerRequest, typeof args.timeoutMs === 'number' ? args.timeoutMs : DEFAULT_POWER_TIMEOUT_MS, who),
    );
    work.handle('boot-device', (machine, args, who) =>
      this.#setBootDeviceHere(machine, args.device as BootDevice, { persistent: args.persistent === true, uefi: args.uefi === true }, who),
    );
  }

  /** Runs a change on the machine's owner (here without a work queue). */
  async #onOwner<T>(
    nameOrMac: string,
    kind: string,
    args: Record<string, unknown>,
    who: string,
    timeoutMs: number,
    here: (name: string) => Promise<T>,
  ): Promise<T> {
    const work = this.#work;
    if (!work) return here(nameOrMac);
    const { name } = await this.#machines.find(nameOrMac);
    return work.submit(name, kind, args, who, { timeoutMs, inline: () => here(name) });
  }

  get types(): HardwareTypes {
    return this.tasks.types;
  }

  get locks(): MachineLocks {
    return this.tasks.locks;
  }

  view(machine: Machine): MachineDriverView {
    return {
      name: machine.name,
      driver: machine.driver,
      driverInfo: maskDriverInfo(parseJsonObject(machine.driver_info)),
      powerState: machine.power_state,
      maintenance: machine.maintenance === 1,
      maintenanceReason: machine.maintenance_reason,
      reservation: machine.reservation,
      properties: propertiesOf(machine),
    };
  }

  async show(nameOrMac: string): Promise<MachineDriverView> {
    return this.view(await this.#machines.find(nameOrMac));
  }

  /** Sets a machine's driver and driver_info after validating them (no hardware is contacted). */
  async configure(nameOrMac: string, request: ConfigureRequest, who = 'operator'): Promise<MachineDriverView> {
    const found = await this.#machines.find(nameOrMac);
    const driver = request.driver ?? found.driver;
    const type = this.types.get(driver);
    await this.tasks.run(found, { mode: 'exclusive', purpose: `set driver (${who})` }, async (task) => {
      const machine = task.machine;
      const changedDriver = driver !== machine.driver;
      const merged: Record<string, unknown> = { ...(request.replace || changedDriver ? {} : parseJsonObject(machine.driver_info)) };
      for (const [key, value] of Object.entries(request.driverInfo ?? {})) {
        if (value === null) delete merged[key];
        else merged[key] = value;
      }
      type.validate(machine.name, this.#secrets.open(merged));
      await this.#db
        .updateTable('machines')
        .set({
          driver,
          driver_info: JSON.stringify(this.#secrets.seal(merged)),
          updated_at: stamp(this.#clock),
          ...(changedDriver ? { driver_internal_info: '{}', power_state: 'unknown' } : {}),
        })
        .where('id', '=', machine.id)
        .execute();
      const fields = Object.keys(merged).sort().join(', ') || 'none';
      await this.event(machine.id, 'driver', `driver ${driver}${changedDriver ? ` (was ${machine.driver})` : ''}, driver_info fields: ${fields} (${who})`);
    });
    return this.show(found.name);
  }

  /** Reads the power state from the controller and records it (a shared task). */
  async powerState(nameOrMac: string): Promise<{ name: string; powerState: PowerState }> {
    return this.tasks.run(nameOrMac, { mode: 'shared', purpose: 'read power state' }, async (task) => {
      const state = await task.driver.power.getPowerState();
      await this.recordPower(task, state, 'read');
      return { name: task.machine.name, powerState: state };
    });
  }

  /** Powers on, off, soft-off or reboots, waiting for the new state; an exclusive task throughout. */
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
    return this.#onOwner(nameOrMac, 'power', { target, timeoutMs }, who, timeoutMs, (name) => this.#setPowerHere(name, target, timeoutMs, who));
  }

  async #setPowerHere(nameOrMac: string, target: PowerRequest, timeoutMs: number, who: string): Promise<{ name: string; powerState: PowerState }> {
    return this.tasks.run(nameOrMac, { mode: 'exclusive', purpose: `power ${target} (${who})` }, async (task) => {
      const power = task.driver.power;
      const state = target === 'reboot' ? await power.reboot({ timeoutMs }) : await power.setPowerState(target, { timeoutMs });
      await this.recordPower(task, state, `${target} by ${who}`, target === 'reboot');
      return { name: task.machine.name, powerState: state };
    });
  }

  /** The boot device the controller will use, and the ones it offers (a shared task). */
  async bootDevice(nameOrMac: string): Promise<{ name: string; supported: readonly BootDevice[] } & BootDeviceInfo> {
    return this.tasks.run(nameOrMac, { mode: 'shared', purpose: 'read boot device' }, async (task) => {
      const management = task.driver.management;
      return { name: task.machine.name, ...(await management.getBootDevice()), supported: management.getSupportedBootDevices() };
    });
  }

  async setBootDevice(nameOrMac: string, device: BootDevice, options: BootDeviceOptions = {}, who = 'operator'): Promise<{ name: string } & BootDeviceInfo> {
    if (!BOOT_DEVICES.includes(device)) throw invalid('INVALID_BOOT_DEVICE', `boot device '${String(device)}' is not one of ${BOOT_DEVICES.join(', ')}`);
    const args = { device, persistent: options.persistent === true, uefi: options.uefi === true };
    return this.#onOwner(nameOrMac, 'boot-device', args, who, DEFAULT_POWER_TIMEOUT_MS, (name) => this.#setBootDeviceHere(name, device, options, who));
  }

  async #setBootDeviceHere(nameOrMac: string, device: BootDevice, options: BootDeviceOptions, who: string): Promise<{ name: string } & BootDeviceInfo> {
    return this.tasks.run(nameOrMac, { mode: 'exclusive', purpose: `set boot device ${device} (${who})` }, async (task) => {
      const management = task.driver.management;
      const supported = management.getSupportedBootDevices();
      if (supported.length > 0 && !supported.includes(device)) {
        throw invalid(
          'INVALID_BOOT_DEVICE',
          `machine '${task.machine.name}' (driver ${task.machine.driver}) cannot boot from '${device}'; it offers ${supported.join(', ') || 'none'}`,
        );
      }
      await management.setBootDevice(device, options);
      const mode = `${options.persistent ? 'persistent' : 'next boot only'}${options.uefi ? ', UEFI' : ''}`;
      await this.event(task.machine.id, 'boot-device', `boot device ${device} (${mode}) by ${who}`);
      return { name: task.machine.name, device, persistent: options.persistent === true, uefi: options.uefi === true };
    });
  }

  /**
   * Opens the machine's console through its driver (IPMI SOL): a byte stream, closed by
   * destroying it. Only the opening is a shared task; the console itself holds no lock, as a
   * serial line does not change the machine's state. With takeover another client's session on
   * the controller is ended first.
   */
  async openConsole(nameOrMac: string, options: { readonly takeover?: boolean } = {}, who = 'operator'): Promise<Duplex> {
    return this.tasks.run(nameOrMac, { mode: 'shared', purpose: `open console (${who})` }, async (task) => {
      const console = task.driver.console;
      if (!console)
        throw conflict(
          'NO_CONSOLE',
          `machine ${task.machine.name} (driver ${task.machine.driver}) has no console anvil can open: its driver offers none (lab VMs of this data directory and IPMI machines, over SOL, have one)`,
        );
      const stream = await console.open({ takeover: options.takeover === true });
      await this.event(task.machine.id, 'controller', `console opened by ${who}${options.takeover ? ' (taking it over)' : ''}`);
      return stream;
    });
  }

  /**
   * Records a power state a task read or reached, with an event when it differs from the stored
   * one. A shared task's observation is kept only while no exclusive task holds the machine
   * (that task records its own outcome). True when something was recorded.
   */
  async recordPower(task: Task, state: PowerState, why: string, always = false): Promise<boolean> {
    const machine = task.machine;
    const row = await this.#db.selectFrom('machines').select(['power_state', 'reservation']).where('id', '=', machine.id).executeTakeFirst();
    const before = row?.power_state ?? machine.power_state;
    if (before === state && !always) return false;
    let update = this.#db
      .updateTable('machines')
      .set({ power_state: state, updated_at: stamp(this.#clock) })
      .where('id', '=', machine.id);
    update = task.exclusive ? update.where('reservation', '=', task.holder) : update.where('reservation', 'is', null);
    const result = await update.executeTakeFirst();
    if (result.numUpdatedRows === 0n) return false;
    await this.event(machine.id, 'power', before === state ? `power ${state} (${why})` : `power ${before} → ${state} (${why})`);
    return true;
  }

  async event(machineId: number, kind: EventKind, message: string): Promise<void> {
    await this.#events.record(machineId, kind, message);
  }

  async events(nameOrMac: string, limit = 100, offset = 0): Promise<MachineEvent[]> {
    return this.#events.list((await this.#machines.find(nameOrMac)).id, limit, offset);
  }

  async close(): Promise<void> {
    await this.types.close();
  }
}
