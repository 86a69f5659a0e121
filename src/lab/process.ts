// Supervision of lab QEMU processes across anvil processes: a pid file per VM, checked against
// /proc/<pid>/cmdline so a recycled pid is never mistaken for (or killed as) a VM, stale files
// removed, and QEMUs whose definition is gone stopped as orphans.
import { readFileSync, rmSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LabVmDefinition } from './definition.ts';
import { escapeOptionValue } from './qemu-args.ts';
import type { LabStore } from './store.ts';

/** How often a wait for a process to exit looks again. */
export const EXIT_POLL_MS = 50;
/** How long a process gets after SIGTERM before SIGKILL. */
export const DEFAULT_TERM_GRACE_MS = 5_000;

export interface RunningQemu {
  readonly pid: number;
  readonly args: readonly string[];
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The argv of a live process, or undefined (gone, a zombie, or not Linux). */
export async function commandLineOf(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (raw === '') return undefined;
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/** The QMP option that only this VM's QEMU has on its command line: its identity. */
export function identityArg(qmpSocket: string): string {
  return `unix:${escapeOptionValue(qmpSocket)},server=on,wait=off`;
}

export async function readPidFile(file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(file, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export async function writePidFile(file: string, pid: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${pid}\n`, { mode: 0o600 });
}

/** Removes the pid file if it names this pid (a newer QEMU's file stays). */
export function removePidFileOf(file: string, pid: number): void {
  try {
    if (Number.parseInt(readFileSync(file, 'utf8').trim(), 10) === pid) rmSync(file, { force: true });
  } catch {
    // no pid file
  }
}

/** The QEMU a pid file names, if it is alive and is this VM's; removes the pid file otherwise. */
export async function findRunning(pidFile: string, qmpSocket: string): Promise<RunningQemu | undefined> {
  const pid = await readPidFile(pidFile);
  if (pid === undefined) return undefined;
  const args = isAlive(pid) ? await commandLineOf(pid) : undefined;
  if (args && args.includes(identityArg(qmpSocket))) return { pid, args };
  await rm(pidFile, { force: true });
  return undefined;
}

/** Waits until the process is gone; false if it is still there at the deadline. */
export async function waitForExit(pid: number, timeoutMs: number, isGone: () => boolean = () => !isAlive(pid)): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!isGone()) {
    if (performance.now() >= deadline) return false;
    await sleep(EXIT_POLL_MS);
  }
  return true;
}

/** SIGTERM, then SIGKILL after the grace period. Resolves when the process is gone. */
export async function terminate(pid: number, graceMs: number = DEFAULT_TERM_GRACE_MS): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitForExit(pid, graceMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitForExit(pid, graceMs);
}

/** Removes what a stopped QEMU leaves behind: its sockets and pid file. */
export async function removeRunFiles(def: LabVmDefinition, pidFile: string): Promise<void> {
  await Promise.all([def.qmpSocket, def.controlSocket, def.serialSocket, pidFile].map((f) => rm(f, { force: true })));
}

/**
 * Stops QEMUs whose VM definition was deleted while they ran (or whose run directory outlived
 * its definition) and removes their run directories. Returns the names it cleaned up.
 */
export async function cleanupOrphans(store: LabStore): Promise<string[]> {
  const defined = new Set((await store.list()).map((d) => d.name));
  const cleaned: string[] = [];
  for (const name of await store.runNames()) {
    if (defined.has(name)) continue;
    const pid = await readPidFile(store.pidFile(name));
    if (pid !== undefined && isAlive(pid)) {
      const args = await commandLineOf(pid);
      // Only a QEMU whose sockets live in this run directory is ours to stop.
      if (args?.some((a) => a.includes(store.runDir(name) + '/'))) await terminate(pid);
    }
    await rm(store.runDir(name), { recursive: true, force: true });
    cleaned.push(name);
  }
  return cleaned;
}
