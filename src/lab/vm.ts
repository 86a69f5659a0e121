// A lab VM: a QEMU process standing in for a physical machine behind a BMC, as a power
// target. Power on starts QEMU (TCG) with the boot order the pending boot device asks for;
// off quits it through QMP (then kills it); reset, soft-off, NMI and state go through QMP.
// The QEMU process itself is qemu-supervisor.ts's: the process that powers a VM on (or opens
// it while it runs) watches it, and a QEMU that exits for any reason reports power off with
// the reason, once. Other processes find the VM through its pid file.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { AnvilError } from '../common/errors.ts';
import { SerialConsole } from './console.ts';
import { labBootSetting, type LabBootDevice, type LabVmDefinition } from './definition.ts';
import type { LabPowerEvent } from './power-events.ts';
import type { LabBootDeviceSetting, LabPowerAction, LabPowerState, PowerTarget } from './power-target.ts';
import { bootOption, bootOptionOf, CDROM_DEVICE, isHttpBootLaunch } from './qemu-args.ts';
import { QemuSupervisor } from './qemu-supervisor.ts';
import type { LabVmOptions, QemuRun } from './qemu-supervisor.ts';
import type { LabStore } from './store.ts';

/** How long a soft-off that waits gives the guest to power itself off. */
export const DEFAULT_SOFT_OFF_TIMEOUT_MS = 60_000;

// The VM's events, options, timeouts and disk helper are part of its API: re-exported for one import.
export type { LabPowerEvent, LabPowerReason } from './power-events.ts';
export type { LabVmOptions } from './qemu-supervisor.ts';
export { ATTACH_GREETING_TIMEOUT_MS, DEFAULT_QUIT_TIMEOUT_MS, DEFAULT_START_TIMEOUT_MS, EXIT_CHECK_INTERVAL_MS } from './qemu-supervisor.ts';
export { ensureDisk } from './disk.ts';

/** Reset/soft-off of a VM that is off. */
export function poweredOff(name: string, action: string): AnvilError {
  return new AnvilError('LAB_POWERED_OFF', 'conflict', `lab VM ${name} is off; cannot ${action} it (power it on first)`);
}

export class LabVm extends EventEmitter<{ power: [LabPowerEvent] }> implements PowerTarget {
  readonly name: string;
  readonly store: LabStore;
  /** The serial console: a ring buffer of recent output and shareable streams. */
  readonly console = new SerialConsole();
  readonly #qemu: QemuSupervisor;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(store: LabStore, name: string, options: LabVmOptions) {
    super();
    this.store = store;
    this.name = name;
    this.#qemu = new QemuSupervisor(store, name, this.console, options, (event) => this.#emit(event));
  }

  /** Opens a defined VM; if its QEMU is running (started by any process), attaches to it. */
  static async open(store: LabStore, name: string, options: LabVmOptions = {}): Promise<LabVm> {
    const def = await store.load(name);
    const vm = new LabVm(store, def.name, options);
    await vm.#qemu.current(def);
    return vm;
  }

  definition(): Promise<LabVmDefinition> {
    return this.store.load(this.name);
  }

  /** QEMU's pid while it runs. */
  get pid(): number | undefined {
    return this.#qemu.run?.pid;
  }

  async getPowerState(): Promise<LabPowerState> {
    return this.#serial(async () => ((await this.#current()) ? 'on' : 'off'));
  }

  setPowerState(action: LabPowerAction): Promise<void> {
    switch (action) {
      case 'on':
        return this.powerOn();
      case 'off':
        return this.powerOff();
      case 'reset':
        return this.reset();
      case 'soft-off':
        return this.softOff();
      case 'cycle':
        return this.#serial(async () => {
          const run = await this.#current();
          if (!run) throw poweredOff(this.name, 'power-cycle');
          await this.#qemu.stop(run, 'restart');
          await this.#start('reset');
        });
    }
  }

  /** Starts QEMU, booting the pending one-time device (then forgetting it) or the persistent one. No-op when on. */
  powerOn(): Promise<void> {
    return this.#serial(async () => {
      if (await this.#current()) return;
      await this.#start('power-on');
    });
  }

  /** Pulls the plug: QMP quit, SIGKILL if QEMU does not exit in time. No-op when off. */
  powerOff(): Promise<void> {
    return this.#serial(async () => {
      const run = await this.#current();
      if (run) await this.#qemu.stop(run, 'requested-off');
    });
  }

  /**
   * Hard reset. When the boot device asked for differs from the one QEMU was started with (a
   * one-time device set since, or a new persistent one), QEMU is restarted with it, since QEMU
   * cannot change its boot order while it runs: on real hardware the firmware reads the boot
   * flags at reset.
   */
  reset(): Promise<void> {
    return this.#serial(async () => {
      const run = await this.#current();
      if (!run) throw poweredOff(this.name, 'reset');
      const def = await this.definition();
      const runningOrder = bootOptionOf(run.args)
        ?.split(',')
        .find((p) => p.startsWith('order='));
      const wantedOrder = bootOption(def.boot, undefined);
      if (
        def.nextBoot !== undefined ||
        runningOrder !== wantedOrder.split(',')[0] ||
        def.boot.efi !== run.args.includes('-bios') ||
        (def.boot.device === 'http') !== isHttpBootLaunch(run.args)
      ) {
        await this.#qemu.stop(run, 'restart');
        await this.#start('reset');
        return;
      }
      await this.#qemu.command(run, 'system_reset');
      this.#emit({ state: 'on', reason: 'reset' });
    });
  }

  /**
   * Presses the ACPI power button. The guest decides: an OS powers off (QEMU then exits and the
   * VM reports off with reason soft-off); firmware such as iPXE ignores it. With wait, resolves
   * when QEMU has exited, or rejects with LAB_TIMEOUT.
   */
  softOff(options: { wait?: boolean; timeoutMs?: number } = {}): Promise<void> {
    return this.#serial(async () => {
      const run = await this.#current();
      if (!run) return;
      run.expected = 'soft-off';
      await this.#qemu.command(run, 'system_powerdown');
      if (!options.wait) return;
      const timeoutMs = options.timeoutMs ?? DEFAULT_SOFT_OFF_TIMEOUT_MS;
      if (!(await this.#qemu.waitExit(run, timeoutMs))) {
        run.expected = undefined;
        throw new AnvilError(
          'LAB_TIMEOUT',
          'unavailable',
          `lab VM ${this.name} did not power off within ${timeoutMs} ms of the ACPI power button; its guest may not handle ACPI (firmware and iPXE do not). Use power off.`,
        );
      }
    });
  }

  /** Pulses the NMI line (IPMI "diagnostic interrupt"): a Linux guest logs it or panics, as configured. */
  nmi(): Promise<void> {
    return this.#serial(async () => {
      const run = await this.#current();
      if (!run) throw poweredOff(this.name, 'send an NMI to');
      await this.#qemu.command(run, 'inject-nmi');
    });
  }

  async getBootDevice(): Promise<LabBootDeviceSetting> {
    const def = await this.definition();
    if (def.nextBoot) return { device: def.nextBoot.device, efi: def.nextBoot.efi, persistent: false };
    return { device: def.boot.device, efi: def.boot.efi, persistent: true };
  }

  setBootDevice(device: LabBootDevice | 'default', options: { persistent: boolean; efi?: boolean }): Promise<void> {
    return this.#serial(async () => {
      const def = await this.definition();
      if (device === 'default') {
        await this.store.save({ ...def, nextBoot: undefined });
      } else if (options.persistent) {
        await this.store.save({ ...def, boot: labBootSetting(device, options.efi ?? def.boot.efi), nextBoot: undefined });
      } else {
        await this.store.save({ ...def, nextBoot: labBootSetting(device, options.efi ?? def.boot.efi) });
      }
    });
  }

  /**
   * Puts an ISO in the VM's CD-ROM drive, as a BMC's virtual media does: kept in the definition
   * (the next QEMU starts with it) and, while QEMU runs, changed in the running drive at once.
   */
  insertMedia(file: string): Promise<void> {
    return this.#serial(async () => {
      await this.store.save({ ...(await this.definition()), cdrom: file });
      const run = await this.#current();
      if (run) await this.#qemu.command(run, 'blockdev-change-medium', { id: CDROM_DEVICE, filename: file, format: 'raw', 'read-only-mode': 'read-only' });
    });
  }

  /** Takes the ISO out of the CD-ROM drive (the file stays where it is). */
  ejectMedia(): Promise<void> {
    return this.#serial(async () => {
      await this.store.save({ ...(await this.definition()), cdrom: undefined });
      const run = await this.#current();
      if (run) await this.#qemu.command(run, 'eject', { id: CDROM_DEVICE, force: true });
    });
  }

  /** The ISO in the CD-ROM drive, if any. */
  async getMedia(): Promise<string | undefined> {
    return (await this.definition()).cdrom;
  }

  openConsole(): Duplex {
    return this.console.open();
  }

  /** Stops watching (QMP connection, serial console); QEMU keeps running. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#qemu.close();
    this.console.close();
  }

  /** Operations on one VM never interleave: a BMC may get "power on" twice at once. */
  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(operation);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** The running QEMU, checked again: another process may have started or stopped it. */
  async #current(): Promise<QemuRun | undefined> {
    if (this.#closed) throw new AnvilError('LAB_CLOSED', 'internal', `lab VM ${this.name} was closed in this process`);
    return this.#qemu.current(await this.definition());
  }

  /** Starts QEMU, then forgets the one-time boot device it booted, and reports power on. */
  async #start(reason: 'power-on' | 'reset'): Promise<void> {
    const def = await this.definition();
    await this.#qemu.start(def);
    if (def.nextBoot) await this.store.save({ ...(await this.definition()), nextBoot: undefined });
    this.#emit({ state: 'on', reason });
  }

  #emit(event: Omit<LabPowerEvent, 'name'>): void {
    this.emit('power', { name: this.name, ...event });
  }
}
