// Shared set-up for the TFTP tests: a TFTP root with files of telling sizes, a server on
// a free loopback port, peers run as child processes with a timeout, and event waits.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { RootDirectoryHandler } from '../../src/protocols/tftp/root-handler.ts';
import { TftpServer } from '../../src/protocols/tftp/server.ts';
import type { TftpServerEvent, TftpServerOptions } from '../../src/protocols/tftp/server.ts';
import type { TftpFileHandler } from '../../src/protocols/tftp/handler.ts';

export type TftpRoot = { readonly dir: string; readonly outside: string; readonly files: ReadonlyMap<string, Buffer> };

/** Sizes chosen to hit the edges: under one block, exact multiples of 512 and 1468 (empty final block), and MiBs. */
export const FILE_SIZES = {
  'small.txt': 100,
  'exact512.bin': 512 * 8,
  'exact1468.bin': 1468 * 3,
  'big.bin': 3 * 1024 * 1024 + 77,
  'sub/dir/nested.bin': 2000,
} as const;

/** A temporary TFTP root, plus a secret file beside it (outside) that no path may reach. */
export async function makeRoot(t: TestContext): Promise<TftpRoot> {
  const base = await mkdtemp(join(tmpdir(), 'anvil-tftp-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const dir = join(base, 'root');
  await mkdir(join(dir, 'sub', 'dir'), { recursive: true });
  const files = new Map<string, Buffer>();
  for (const [name, size] of Object.entries(FILE_SIZES)) {
    const content = randomBytes(size);
    await writeFile(join(dir, name), content);
    files.set(name, content);
  }
  const outside = join(base, 'secret.txt');
  await writeFile(outside, 'outside the root\n');
  await symlink(outside, join(dir, 'escape'));
  await symlink('/etc', join(dir, 'etc-link'));
  await symlink('small.txt', join(dir, 'inside-link'));
  return { dir, outside, files };
}

export type RunningServer = { readonly server: TftpServer; readonly port: number; readonly events: TftpServerEvent[] };

/** A server on 127.0.0.1 and a free port, closed when the test ends. */
export async function startServer(
  t: TestContext,
  handler: TftpFileHandler | string,
  options: Partial<TftpServerOptions> = {},
): Promise<RunningServer> {
  const events: TftpServerEvent[] = [];
  const server = new TftpServer({
    handler: typeof handler === 'string' ? new RootDirectoryHandler(handler) : handler,
    host: '127.0.0.1',
    port: 0,
    onEvent: (event) => events.push(event),
    ...options,
  });
  const { port } = await server.listen();
  t.after(() => server.close());
  return { server, port, events };
}

export type RunResult = { readonly code: number; readonly stdout: string; readonly stderr: string };

/** Runs a peer; resolves with its exit code and output (killed after `timeoutMs`). */
export function run(command: string, args: readonly string[], timeoutMs = 30_000, cwd?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, cwd, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Waits until `condition()` holds, checking on each turn of the event loop; fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2)); // a poll interval, not a synchronising sleep
  }
}

export async function outDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'anvil-tftp-out-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
