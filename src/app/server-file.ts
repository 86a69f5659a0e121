// <data>/serve.json: which anvil server serves a data directory and where, written when
// `anvil serve` starts and removed when it stops. Commands acting on the same data directory
// read it to tell whether a server is there (a deploy needs one to answer its agent) and at
// which URL lab VMs reach it.
import { readFileSync } from 'node:fs';
import { rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

export const SERVER_FILE = 'serve.json';

export interface ServerRecord {
  readonly pid: number;
  /** The base URL it listens at, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** --public-url, when given: where machines and BMCs reach it. */
  readonly publicUrl?: string;
  readonly startedAt: string;
}

export async function writeServerFile(data: string, record: ServerRecord): Promise<void> {
  const path = join(data, SERVER_FILE);
  await writeFile(`${path}.tmp`, `${JSON.stringify(record)}\n`, { mode: 0o640 });
  await rename(`${path}.tmp`, path);
}

/** Removes the file when it is still this process's. */
export async function removeServerFile(data: string, pid = process.pid): Promise<void> {
  if (readServerFile(data)?.pid === pid) await rm(join(data, SERVER_FILE), { force: true });
}

/** The server serving `data`, or undefined when none is (no file, or its process is gone). */
export function readServerFile(data: string): ServerRecord | undefined {
  let record: ServerRecord;
  try {
    record = JSON.parse(readFileSync(join(data, SERVER_FILE), 'utf8')) as ServerRecord;
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(record.pid) || typeof record.url !== 'string') return undefined;
  try {
    process.kill(record.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
  }
  return record;
}
