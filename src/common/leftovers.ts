// Temp files a crashed process left behind: each names the process that wrote it, so a sweep
// at start removes those of processes that are gone and leaves a live writer's alone.
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** A file a sweep removed, and its size. */
export interface Leftover {
  readonly path: string;
  readonly bytes: number;
}

/** True unless `pid` names no process on this host (a pid that is not a number counts as gone). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Size of a file, or of everything under a folder (a temp folder), in bytes; 0 when gone. */
export async function sizeOf(path: string): Promise<number> {
  const stats = await stat(path).catch(() => undefined);
  if (!stats) return 0;
  if (!stats.isDirectory()) return stats.size;
  let total = 0;
  for (const entry of await readdir(path).catch(() => [] as string[])) total += await sizeOf(join(path, entry));
  return total;
}

/**
 * Removes the entries of `dir` that `writerOf` names a temp file of (it returns the writer's
 * pid, NaN when the name has none) and whose writer is gone. A missing folder has none.
 */
export async function sweepTempFiles(dir: string, writerOf: (name: string) => number | undefined): Promise<Leftover[]> {
  const removed: Leftover[] = [];
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    const pid = writerOf(entry);
    if (pid === undefined || processAlive(pid)) continue;
    const path = join(dir, entry);
    const bytes = await sizeOf(path);
    await rm(path, { force: true, recursive: true });
    removed.push({ path, bytes });
  }
  return removed;
}
