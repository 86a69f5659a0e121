// The QEMU process behind a lab VM, under watch: spawning it (detached, with its QMP socket
// awaited and its log tail reported when it fails), adopting one another process started,
// QMP commands on the watch connection or the control socket, quit and then kill, and its
// exit noticed however it happens (the child's exit event, QMP closing, a pid check), once.
// vm.ts is the power facade over it: what power on, off and reset mean for a VM.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { AnvilError } from '../common/errors.ts';
import { QmpClient } from '../protocols/qmp/index.ts';
import type { QmpEvent } from '../protocols/qmp/index.ts';
import { connectSerial } from './console.ts';
import type { SerialConsole } from './console.ts';
import { ensureDisk } from './disk.ts';
import type { LabVmDefinition } from './definition.ts';
import { exitReason } from './power-events.ts';
import type { LabPowerEvent } from './power-events.ts';
import { findRunning, isAlive, removePidFileOf, removeRunFiles, waitForExit, writePidFile } from './process.ts';
import { OVMF_CANDIDATES, qemuLaunch } from './qemu-args.ts';
import type { LabStore } from './store.ts';

/** How long QEMU gets to create its QMP socket after it is spawned. */
export const DEFAULT_START_TIMEOUT_MS = 20_000;
/** How long `quit` gets before QEMU is killed. */
export const DEFAULT_QUIT_TIMEOUT_MS = 10_000;
/** How long opening a running VM waits for its QMP greeting; a socket another process holds never greets. */
export const ATTACH_GREETING_TIMEOUT_MS = 1_000;
/** How often a VM watched without its QMP connection (another process holds it) is checked for exit. */
export const EXIT_CHECK_INTERVAL_MS = 1_000;

/** How long a gone child's exit event is awaited before its exit is handled without it. */
const CHILD_EXIT_GRACE_MS = 1_000;

export interface LabVmOptions {
  /** Hold the VM's QMP connection and serial console while it runs (the supervising process). Default true. */
  readonly watch?: boolean;
  readonly romFile?: string;
  readonly startTimeoutMs?: number;
  readonly quitTimeoutMs?: number;
}

/** One running QEMU, as this process watches it. */
export interface QemuRun {
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

/** The power-off event of an exit, without the VM's name (the facade adds it). */
export type QemuExit = Omit<LabPowerEvent, 'name'>;

export class QemuSupervisor {
  readonly #store: LabStore;
  readonly #name: string;
  readonly #console: SerialConsole;
  readonly #options: LabVmOptions;
  readonly #onExit: (event: QemuExit) => void;
  #run: QemuRun | undefined;

  /** `onExit` hears every exit this process did not cause by a restart, once per QEMU. */
  constructor(store: LabStore, name: string, console: SerialConsole, options: LabVmOptions, onExit: (event: QemuExit) => void) {
    this.#store = store;
    this.#name = name;
    this.#console = console;
    this.#options = options;
    this.#onExit = onExit;
  }

  /** The QEMU watched now, as last seen. */
  get run(): QemuRun | undefined {
    return this.#run;
  }

  /** The running QEMU, checked again: another process may have started or stopped it. */
  async current(def: LabVmDefinition): Promise<QemuRun | undefined> {
    const running = await findRunning(this.#store.pidFile(this.#name), def.qmpSocket);
    const run = this.#run;
    if (run && (!running || running.pid !== run.pid)) {
      // Our own child's exit event carries its status and signal: give it a moment to arrive.
      if (run.child) await Promise.race([run.exited, sleep(CHILD_EXIT_GRACE_MS)]);
      this.#exited(run, null, null);
    }
    if (running && !this.#run) await this.#adopt(def, running.pid, running.args, undefined);
    return this.#run;
  }

  /** Spawns QEMU for the definition (booting its one-time device, if any), watches it and lets it run. */
  async start(def: LabVmDefinition): Promise<void> {
    await ensureDisk(def);
    const runDir = this.#store.runDir(this.#name);
    await mkdir(runDir, { recursive: true, mode: 0o700 });
    await removeRunFiles(def, this.#store.pidFile(this.#name));
    const launch = qemuLaunch(def, {
      once: def.nextBoot,
      ...(this.#options.romFile ? { romFile: this.#options.romFile } : {}),
      uefiFirmware: OVMF_CANDIDATES.find((f) => existsSync(f)),
    });
    const child = await this.#spawn(launch.command, launch.args);
    const pid = child.pid!;
    await writePidFile(this.#store.pidFile(this.#name), pid);
    const qmp = await this.#connect(def, child);
    const run = await this.#adopt(def, pid, [launch.command, ...launch.args], child, qmp);
    if (this.#options.watch !== false) {
      try {
        this.#console.attach(await connectSerial(def.serialSocket));
      } catch {
        // The VM runs without a console copy here; its socket stays free for another client.
      }
    }
    await this.command(run, 'cont');
  }

  /** Runs a QMP command on the watch connection, or on the control socket when this process does not hold it. */
  async command(run: QemuRun, command: string, args?: Readonly<Record<string, unknown>>): Promise<void> {
    if (run.qmp && !run.qmp.closed) {
      await run.qmp.execute(command, args);
      return;
    }
    const def = await this.#store.load(this.#name);
    const qmp = await QmpClient.connect(def.controlSocket, { connectTimeoutMs: 0, greetingTimeoutMs: ATTACH_GREETING_TIMEOUT_MS });
    try {
      await qmp.execute(command, args);
    } finally {
      await qmp.close();
    }
  }

  /** QMP quit, SIGKILL if QEMU does not exit in time; resolves once the exit was handled or the wait gave up. */
  async stop(run: QemuRun, expected: 'requested-off' | 'restart'): Promise<void> {
    run.expected = expected;
    const timeoutMs = this.#options.quitTimeoutMs ?? DEFAULT_QUIT_TIMEOUT_MS;
    try {
      await this.command(run, 'quit');
    } catch {
      // QEMU may close the connection before answering quit, or not answer at all: the exit decides.
    }
    if (!(await this.waitExit(run, timeoutMs))) {
      try {
        process.kill(run.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await this.waitExit(run, timeoutMs);
    }
  }

  /** Waits until QEMU has exited and the exit has been handled. */
  async waitExit(run: QemuRun, timeoutMs: number): Promise<boolean> {
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

  /** Stops watching (QMP connection); QEMU keeps running. */
  async close(): Promise<void> {
    const run = this.#run;
    this.#run = undefined;
    if (run) {
      clearInterval(run.poll);
      await run.qmp?.close();
    }
  }

  /** Spawns QEMU detached, its output appended to the VM's log; rejects with LAB_QEMU_FAILED if it cannot run at all. */
  async #spawn(command: string, args: readonly string[]): Promise<ChildProcess> {
    const log = await open(this.#store.logFile(this.#name), 'a', 0o600);
    let child: ChildProcess;
    let spawned: Promise<void>;
    try {
      // Detached: QEMU is the machine, not a part of this process; a CLI that powered it on
      // exits, and Ctrl-C on `lab up` does not pull every plug.
      child = spawn(command, args, { detached: true, stdio: ['ignore', log.fd, log.fd] });
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
        `cannot start QEMU for lab VM ${this.#name}: ${(error as Error).message}; install qemu-system-x86`,
        { cause: error },
      );
    });
    return child;
  }

  /** The new QEMU's QMP connection; if it never comes (or QEMU dies first), QEMU is killed and its log tail reported. */
  async #connect(def: LabVmDefinition, child: ChildProcess): Promise<QmpClient> {
    const died = new AbortController();
    const onEarlyExit = (): void => died.abort();
    child.once('exit', onEarlyExit);
    let qmp: QmpClient;
    try {
      qmp = await QmpClient.connect(def.qmpSocket, { connectTimeoutMs: this.#options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS, signal: died.signal });
    } catch (error) {
      child.off('exit', onEarlyExit);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await removeRunFiles(def, this.#store.pidFile(this.#name));
      const logFile = this.#store.logFile(this.#name);
      const logTail = (await readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-5).join(' | ');
      throw new AnvilError(
        'LAB_QEMU_FAILED',
        'unavailable',
        `QEMU for lab VM ${this.#name} did not start: ${logTail || (error as Error).message} (log: ${logFile})`,
        { cause: error },
      );
    }
    child.off('exit', onEarlyExit);
    return qmp;
  }

  /** Takes a running QEMU under watch: its QMP events, its exit. */
  async #adopt(def: LabVmDefinition, pid: number, args: readonly string[], child: ChildProcess | undefined, qmp?: QmpClient): Promise<QemuRun> {
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const run: QemuRun = { pid, args, child, qmp: undefined, poll: undefined, lastShutdown: undefined, expected: undefined, exited, markExited };
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
          this.#console.attach(await connectSerial(def.serialSocket, { timeoutMs: 0 }));
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

  #exited(run: QemuRun, exitCode: number | null, signal: NodeJS.Signals | null): void {
    if (this.#run !== run) return;
    this.#run = undefined;
    clearInterval(run.poll);
    void run.qmp?.close();
    this.#console.detach();
    run.markExited();
    // Synchronously, and only if it still names this QEMU: a restart writes the next one at once.
    removePidFileOf(this.#store.pidFile(this.#name), run.pid);
    if (run.expected === 'restart') return;
    const reason = exitReason(run.expected, run.lastShutdown?.data, signal);
    this.#onExit({ state: 'off', reason, ...(run.child ? { exitCode, signal } : {}) });
  }
}
