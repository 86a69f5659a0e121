// A lab VM: a QEMU process standing in for a physical machine behind a BMC. Power on spawns
// QEMU (TCG) with the boot order the pending boot device asks for; off quits it through QMP
// (then kills it); reset, soft-off and state go through QMP. The process that powers a VM on
// (or opens it while it runs) watches it: a QEMU that exits for any reason reports power off
// with the reason, once. Other processes find the VM through its pid file.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { AnvilError } from '../common/errors.ts';
import { QmpClient } from '../protocols/qmp/index.ts';
import type { QmpEvent } from '../protocols/qmp/index.ts';
import { connectSerial, SerialConsole } from './console.ts';
import { ensureDisk } from './disk.ts';
import type { LabBootDevice, LabVmDefinition } from './definition.ts';
import { exitReason } from './power-events.ts';
import type { LabPowerEvent } from './power-events.ts';
import type { LabBootDeviceSetting, LabPowerAction, LabPowerState, PowerTarget } from './power-target.ts';
import { findRunning, isAlive, removePidFileOf, removeRunFiles, waitForExit, writePidFile } from './process.ts';
import { bootOption, bootOptionOf, OVMF_CANDIDATES, qemuLaunch } from './qemu-args.ts';
import type { LabStore } from './store.ts';

/** How long QEMU gets to create its QMP socket after it is spawned. */
export const DEFAULT_START_TIMEOUT_MS = 20_000;
/** How long `quit` gets before QEMU is killed. */
export const DEFAULT_QUIT_TIMEOUT_MS = 10_000;
/** How long a soft-off that waits gives the guest to power itself off. */
export const DEFAULT_SOFT_OFF_TIMEOUT_MS = 60_000;
/** How long opening a running VM waits for its QMP greeting; a socket another process holds never greets. */
export const ATTACH_GREETING_TIMEOUT_MS = 1_000;
/** How often a VM watched without its QMP connection (another process holds it) is checked for exit. */
export const EXIT_CHECK_INTERVAL_MS = 1_000;

/** How long a gone child's exit event is awaited before its exit is handled without it. */
const CHILD_EXIT_GRACE_MS = 1_000;

// The VM's events and its disk helper are part of its API: re-exported for one import.
export type { LabPowerEvent, LabPowerReason } from './power-events.ts';
export { ensureDisk } from './disk.ts';

export interface LabVmOptions {
  /** Hold the VM's QMP connection and serial console while it runs (the supervising process). Default true. */
  readonly watch?: boolean;
  readonly romFile?: string;
  readonly startTimeoutMs?: number;
  readonly quitTimeoutMs?: number;
}

/** Reset/soft-off of a VM that is off. */
export function poweredOff(name: string, action: string): AnvilError {
  return new AnvilError('LAB_POWERED_OFF', 'conflict', `lab VM ${name} is off; cannot ${action} it (power it on first)`);
}

interface Run {
  readonly pid: number;
  readonly args: readonly string[];
  readonly child: ChildProcess | undefined;
  qmp: QmpClient | undefined;
  poll: NodeJS.Timeout | undefined;
  lastShutdown: QmpEvent | undefined;
  /** What this process asked for, so the exit is reported with that reason. */
  expected: 'requested-off' | 'soft-off' | 'restart' | undefined;
  readonly exited: Promise<void>;
  markExited: () => void;
}

export class LabVm extends EventEmitter<{ power: [LabPowerEvent] }> implements PowerTarget {
  readonly name: string;
  readonly store: LabStore;
  /** The serial console: a ring buffer of recent output and shareable streams. */
  readonly console = new SerialConsole();
  readonly #options: LabVmOptions;
  #run: Run | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(store: LabStore, name: string, options: LabVmOptions) {
    super();
    this.store = store;
    this.name = name;
    this.#options = options;
  }

  /** Opens a defined VM; if its QEMU is running (started by any process), attaches to it. */
  static async open(store: LabStore, name: string, options: LabVmOptions = {}): Promise<LabVm> {
    const def = await store.load(name);
    const vm = new LabVm(store, def.name, options);
    const running = await findRunning(store.pidFile(def.name), def.qmpSocket);
    if (running) await vm.#adopt(def, running.pid, running.args, undefined);
    return vm;
  }

  definition(): Promise<LabVmDefinition> {
    return this.store.load(this.name);
  }

  /** QEMU's pid while it runs. */
  get pid(): number | undefined {
    return this.#run?.pid;
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
          await this.#stop(run, 'restart');
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
      if (run) await this.#stop(run, 'requested-off');
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
      if (def.nextBoot !== undefined || runningOrder !== wantedOrder.split(',')[0] || def.boot.efi !== run.args.includes('-bios')) {
        await this.#stop(run, 'restart');
        await this.#start('reset');
        return;
      }
      await this.#command(run, 'system_reset');
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
      await this.#command(run, 'system_powerdown');
      if (!options.wait) return;
      const timeoutMs = options.timeoutMs ?? DEFAULT_SOFT_OFF_TIMEOUT_MS;
      if (!(await this.#waitExit(run, timeoutMs))) {
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
      await this.#command(run, 'inject-nmi');
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
        await this.store.save({ ...def, boot: { device, efi: options.efi ?? def.boot.efi }, nextBoot: undefined });
      } else {
        await this.store.save({ ...def, nextBoot: { device, efi: options.efi ?? def.boot.efi } });
      }
    });
  }

  openConsole(): Duplex {
    return this.console.open();
  }

  /** Stops watching (QMP connection, serial console); QEMU keeps running. */
  async close(): Promise<void> {
    this.#closed = true;
    const run = this.#run;
    this.#run = undefined;
    if (run) {
      clearInterval(run.poll);
      await run.qmp?.close();
    }
    this.console.close();
  }

  /** Operations on one VM never interleave: a BMC may get "power on" twice at once. */
  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(operation);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** The running QEMU, checked again: another process may have started or stopped it. */
  async #current(): Promise<Run | undefined> {
    if (this.#closed) throw new AnvilError('LAB_CLOSED', 'internal', `lab VM ${this.name} was closed in this process`);
    const def = await this.definition();
    const running = await findRunning(this.store.pidFile(this.name), def.qmpSocket);
    const run = this.#run;
    if (run && (!running || running.pid !== run.pid)) {
      // Our own child's exit event carries its status and signal: give it a moment to arrive.
      if (run.child) await Promise.race([run.exited, sleep(CHILD_EXIT_GRACE_MS)]);
      this.#exited(run, null, null);
    }
    if (running && !this.#run) await this.#adopt(def, running.pid, running.args, undefined);
    return this.#run;
  }

  async #start(reason: 'power-on' | 'reset'): Promise<void> {
    const def = await this.definition();
    await ensureDisk(def);
    const runDir = this.store.runDir(this.name);
    await mkdir(runDir, { recursive: true, mode: 0o700 });
    await removeRunFiles(def, this.store.pidFile(this.name));
    const once = def.nextBoot;
    const launch = qemuLaunch(def, {
      once,
      ...(this.#options.romFile ? { romFile: this.#options.romFile } : {}),
      uefiFirmware: OVMF_CANDIDATES.find((f) => existsSync(f)),
    });
    const log = await open(this.store.logFile(this.name), 'a', 0o600);
    let child: ChildProcess;
    let spawned: Promise<void>;
    try {
      // Detached: QEMU is the machine, not a part of this process; a CLI that powered it on
      // exits, and Ctrl-C on `lab up` does not pull every plug.
      child = spawn(launch.command, launch.args, { detached: true, stdio: ['ignore', log.fd, log.fd] });
      // Listen before any await: 'spawn' is emitted on the next tick.
      spawned = new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } finally {
      await log.close();
    }
    child.unref();
    await spawned.catch((error: unknown) => {
      throw new AnvilError(
        'LAB_QEMU_FAILED',
        'unavailable',
        `cannot start QEMU for lab VM ${this.name}: ${(error as Error).message}; install qemu-system-x86`,
        { cause: error },
      );
    });
    const pid = child.pid!;
    await writePidFile(this.store.pidFile(this.name), pid);
    const died = new AbortController();
    const onEarlyExit = (): void => died.abort();
    child.once('exit', onEarlyExit);
    let qmp: QmpClient;
    try {
      qmp = await QmpClient.connect(def.qmpSocket, { connectTimeoutMs: this.#options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS, signal: died.signal });
    } catch (error) {
      child.off('exit', onEarlyExit);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await removeRunFiles(def, this.store.pidFile(this.name));
      const logTail = (await readFile(this.store.logFile(this.name), 'utf8').catch(() => '')).trim().split('\n').slice(-5).join(' | ');
      throw new AnvilError(
        'LAB_QEMU_FAILED',
        'unavailable',
        `QEMU for lab VM ${this.name} did not start: ${logTail || (error as Error).message} (log: ${this.store.logFile(this.name)})`,
        { cause: error },
      );
    }
    child.off('exit', onEarlyExit);
    const run = await this.#adopt(def, pid, [launch.command, ...launch.args], child, qmp);
    if (this.#options.watch !== false) {
      try {
        this.console.attach(await connectSerial(def.serialSocket));
      } catch {
        // The VM runs without a console copy here; its socket stays free for another client.
      }
    }
    await this.#command(run, 'cont');
    if (once) await this.store.save({ ...(await this.definition()), nextBoot: undefined });
    this.#emit({ state: 'on', reason });
  }

  /** Takes a running QEMU under watch: its QMP events, its exit. */
  async #adopt(def: LabVmDefinition, pid: number, args: readonly string[], child: ChildProcess | undefined, qmp?: QmpClient): Promise<Run> {
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const run: Run = { pid, args, child, qmp: undefined, poll: undefined, lastShutdown: undefined, expected: undefined, exited, markExited };
    this.#run = run;
    if (child) {
      child.once('exit', (code, signal) => this.#exited(run, code, signal));
    } else {
      run.poll = setInterval(() => {
        if (!isAlive(pid)) this.#exited(run, null, null);
      }, EXIT_CHECK_INTERVAL_MS);
      run.poll.unref();
    }
    if (!qmp && this.#options.watch !== false) {
      qmp = await QmpClient.connect(def.qmpSocket, { connectTimeoutMs: 0, greetingTimeoutMs: ATTACH_GREETING_TIMEOUT_MS }).catch(() => undefined);
      if (qmp && !child) {
        try {
          this.console.attach(await connectSerial(def.serialSocket, { timeoutMs: 0 }));
        } catch {
          // Another process holds the console.
        }
      }
    }
    if (qmp) {
      run.qmp = qmp;
      qmp.on('event', (event) => {
        if (event.event === 'SHUTDOWN') run.lastShutdown = event;
      });
      // QEMU closes QMP as it exits; a pid check tells that apart from a lost connection.
      qmp.on('close', () => {
        if (!child) void waitForExit(pid, DEFAULT_QUIT_TIMEOUT_MS).then((gone) => gone && this.#exited(run, null, null));
      });
    }
    return run;
  }

  /** Runs a QMP command on the watch connection, or on the control socket when this process does not hold it. */
  async #command(run: Run, command: string): Promise<void> {
    if (run.qmp && !run.qmp.closed) {
      await run.qmp.execute(command);
      return;
    }
    const def = await this.definition();
    const qmp = await QmpClient.connect(def.controlSocket, { connectTimeoutMs: 0, greetingTimeoutMs: ATTACH_GREETING_TIMEOUT_MS });
    try {
      await qmp.execute(command);
    } finally {
      await qmp.close();
    }
  }

  async #stop(run: Run, expected: 'requested-off' | 'restart'): Promise<void> {
    run.expected = expected;
    const timeoutMs = this.#options.quitTimeoutMs ?? DEFAULT_QUIT_TIMEOUT_MS;
    try {
      await this.#command(run, 'quit');
    } catch {
      // QEMU may close the connection before answering quit, or not answer at all: the exit decides.
    }
    if (!(await this.#waitExit(run, timeoutMs))) {
      try {
        process.kill(run.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await this.#waitExit(run, timeoutMs);
    }
  }

  /** Waits until QEMU has exited and the exit has been handled. */
  async #waitExit(run: Run, timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const gone = run.child
      ? run.exited.then(() => true)
      : waitForExit(run.pid, timeoutMs).then((done) => {
          if (done) this.#exited(run, null, null);
          return done;
        });
    try {
      return await Promise.race([gone, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  #exited(run: Run, exitCode: number | null, signal: NodeJS.Signals | null): void {
    if (this.#run !== run) return;
    this.#run = undefined;
    clearInterval(run.poll);
    void run.qmp?.close();
    this.console.detach();
    run.markExited();
    // Synchronously, and only if it still names this QEMU: a restart writes the next one at once.
    removePidFileOf(this.store.pidFile(this.name), run.pid);
    if (run.expected === 'restart') return;
    const reason = exitReason(run.expected, run.lastShutdown?.data, signal);
    this.#emit({ state: 'off', reason, ...(run.child ? { exitCode, signal } : {}) });
  }

  #emit(event: Omit<LabPowerEvent, 'name'>): void {
    this.emit('power', { name: this.name, ...event });
  }
}
