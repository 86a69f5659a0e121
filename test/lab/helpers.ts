// Shared by the lab tests: a lab in a temp directory and VMs opened in it, so that no QEMU a
// test started outlives it — stopped through the lab first, then by pid if still there; and
// for tests of bin/anvil lab, its data directory, `lab up` and waits on a child's output.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { commandLineOf, isAlive } from '../../src/lab/process.ts';
import { LabStore } from '../../src/lab/store.ts';
import { stopLab } from '../../src/lab/up.ts';
import { LabVm } from '../../src/lab/vm.ts';
import type { LabPowerEvent, LabVmOptions } from '../../src/lab/vm.ts';
import { ANVIL } from '../helpers/anvil-process.ts';

const started = new WeakMap<LabStore, Set<number>>();

/** A lab in a short temp directory (Unix socket paths are limited to 107 bytes). */
export async function lab(t: TestContext): Promise<LabStore> {
  const dir = await mkdtemp(join(tmpdir(), 'anvil-lab-'));
  const store = new LabStore(dir);
  const pids = new Set<number>();
  started.set(store, pids);
  t.after(async () => {
    // Bounded: a QEMU that does not answer its monitor is killed below rather than waited for.
    await Promise.race([stopLab(store).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 20_000).unref())]);
    // Belt and braces: a QEMU this test started whose stop failed is killed by its pid, if it is still that QEMU.
    for (const pid of pids) {
      if (isAlive(pid) && (await commandLineOf(pid))?.some((a) => a.includes(dir))) process.kill(pid, 'SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  });
  return store;
}

/** Opens a VM of a lab made by lab(); every QEMU it starts is remembered for the clean-up. */
export async function openVm(t: TestContext, store: LabStore, name: string, options: LabVmOptions = {}): Promise<LabVm> {
  const vm = await LabVm.open(store, name, options);
  t.after(() => vm.close());
  const pids = started.get(store);
  vm.on('power', (e: LabPowerEvent) => {
    if (e.state === 'on' && vm.pid !== undefined) pids?.add(vm.pid);
  });
  return vm;
}

/** The next power event of that state. */
export function nextPower(vm: LabVm, state: 'on' | 'off'): Promise<LabPowerEvent> {
  return new Promise((resolve) => {
    const on = (e: LabPowerEvent): void => {
      if (e.state !== state) return;
      vm.off('power', on);
      resolve(e);
    };
    vm.on('power', on);
  });
}

/** Collects a child's output and resolves when it shows a pattern (rejects at the deadline or if the child exits first). */
export class Output {
  text = '';
  readonly #child: ChildProcess;

  constructor(child: ChildProcess, ...streams: (Readable | null)[]) {
    this.#child = child;
    for (const s of streams) s?.on('data', (chunk: Buffer) => (this.text += chunk.toString('latin1')));
  }

  waitFor(pattern: RegExp | string, timeoutMs: number): Promise<RegExpExecArray | string> {
    const match = (): RegExpExecArray | string | null =>
      typeof pattern === 'string' ? (this.text.includes(pattern) ? pattern : null) : pattern.exec(this.text);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = match();
        if (found === null) return;
        done();
        resolve(found);
      };
      const onExit = (): void => {
        // Output still in the pipes arrives before 'close'.
        setImmediate(() => {
          if (match() !== null) return check();
          done();
          reject(
            new Error(
              `${this.#child.spawnargs.join(' ')} exited (${this.#child.exitCode ?? this.#child.signalCode}) before showing ${String(pattern)}; it printed: ${this.text.slice(-1500)}`,
            ),
          );
        });
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${String(pattern)} within ${timeoutMs} ms; the output ends: ${JSON.stringify(this.text.slice(-1500))}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#child.stdout?.off('data', check);
        this.#child.stderr?.off('data', check);
        this.#child.off('close', onExit);
      };
      this.#child.stdout?.on('data', check);
      this.#child.stderr?.on('data', check);
      this.#child.once('close', onExit);
      check();
    });
  }
}

/** Stops a child with SIGTERM (SIGKILL if it lingers) and resolves with how it ended. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<[number | null, NodeJS.Signals | null]> {
  if (child.exitCode !== null || child.signalCode !== null) return [child.exitCode, child.signalCode];
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

export interface LabUp {
  readonly child: ChildProcess;
  readonly output: Output;
  stop(): Promise<[number | null, NodeJS.Signals | null]>;
}

/** `bin/anvil lab up` on a data directory, once it serves every controller named in `expect` (e.g. 'vm1: IPMI BMC'). */
export async function startLabUp(t: TestContext, data: string, expect: readonly string[], timeoutMs = 60_000): Promise<LabUp> {
  const child = spawn(ANVIL, ['lab', 'up', '--data', data], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = new Output(child, child.stdout, child.stderr);
  const up: LabUp = { child, output, stop: () => stopChild(child) };
  t.after(() => up.stop());
  await output.waitFor('serving;', timeoutMs);
  for (const line of expect) assert.ok(output.text.includes(line), `lab up serves ${line}: ${output.text}`);
  return up;
}

/**
 * A data directory for a test that runs bin/anvil lab: afterwards every QEMU it started is
 * stopped (lab down, then by pid if still there) and the directory removed.
 */
export function labData(t: TestContext): string {
  const data = mkdtempSync(join(tmpdir(), 'anvil-lab-'));
  t.after(async () => {
    const store = new LabStore(data);
    const pids = await Promise.all(
      (await store.runNames()).map((name) =>
        readFile(store.pidFile(name), 'utf8').then(
          (p) => Number(p),
          () => undefined,
        ),
      ),
    );
    // Bounded: a QEMU that does not answer its monitor is killed below rather than waited for.
    await Promise.race([stopLab(store).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 20_000).unref())]);
    for (const pid of pids) {
      if (pid !== undefined && isAlive(pid) && (await commandLineOf(pid))?.some((a) => a.includes(data))) process.kill(pid, 'SIGKILL');
    }
    await rm(data, { recursive: true, force: true });
  });
  return data;
}

/** The pid of a lab VM's QEMU from the lab's pid file, checked in /proc to be that VM's QEMU; undefined when none runs. */
export async function qemuOf(data: string, name: string): Promise<number | undefined> {
  const store = new LabStore(data);
  const pid = Number((await readFile(store.pidFile(name), 'utf8').catch(() => '')).trim());
  if (!pid) return undefined;
  const args = await commandLineOf(pid);
  if (!args) return undefined;
  assert.ok(
    args[0]?.endsWith('qemu-system-x86_64') && args.includes(`guest=${name},process=anvil-lab-${name}`) && args.some((a) => a.includes(data)),
    `pid ${pid} is ${name}'s QEMU: ${args.join(' ')}`,
  );
  return pid;
}

/** True while /proc shows the process (a reaped or zombie process has no command line). */
export async function running(pid: number): Promise<boolean> {
  return (await commandLineOf(pid)) !== undefined;
}
