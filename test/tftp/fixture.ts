// Shared set-up for the TFTP tests: a TFTP root with files of telling sizes, a server on
// a free loopback port, peers run as child processes with a timeout, and event waits.
// Server tests run once per engine (engineTest): the JS reference and the native pump.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { requireCondition } from '../helpers/peers.ts';
import { loadNativePump, nativePumpProblem } from '../../src/protocols/tftp/native-pump.ts';
import { decodePacket, encodeRequest } from '../../src/protocols/tftp/codec.ts';
import type { TftpOption, TftpPacket } from '../../src/protocols/tftp/codec.ts';
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

export type Engine = 'js' | 'native';
export const ENGINES: readonly Engine[] = ['js', 'native'];

/**
 * Registers the test once per engine, named "<name> [js]" and "<name> [native]". The native
 * run needs the pump built: locally it skips with a message, under CI=true it fails.
 */
export function engineTest(name: string, fn: (t: TestContext, engine: Engine) => Promise<void>): void {
  for (const engine of ENGINES) {
    test(`${name} [${engine}]`, async (t) => {
      if (engine === 'native' && !requireCondition(t, loadNativePump() !== undefined, `the native TFTP pump: ${nativePumpProblem()}`)) return;
      await fn(t, engine);
    });
  }
}

export type RunningServer = { readonly server: TftpServer; readonly port: number; readonly events: TftpServerEvent[] };

/** A server on 127.0.0.1 and a free port, with the engine asked for, closed when the test ends. */
export async function startServer(
  t: TestContext,
  engine: Engine,
  handler: TftpFileHandler | string,
  options: Partial<TftpServerOptions> = {},
): Promise<RunningServer> {
  const events: TftpServerEvent[] = [];
  const server = new TftpServer({
    handler: typeof handler === 'string' ? new RootDirectoryHandler(handler) : handler,
    host: '127.0.0.1',
    port: 0,
    onEvent: (event) => events.push(event),
    engine,
    ...options,
  });
  if (server.engine !== engine) throw new Error(`asked for the ${engine} engine, the server runs ${server.engine}`);
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

export type Received = { readonly packet: TftpPacket; readonly port: number };

/** A raw TFTP peer: sends what the test says and queues what arrives, so each step awaits the next packet. */
export class RawClient {
  readonly socket: Socket;
  readonly #queue: Received[] = [];
  #waiter: (() => void) | undefined;

  constructor(t: TestContext) {
    this.socket = createSocket('udp4');
    this.socket.on('message', (message, rinfo) => {
      this.#queue.push({ packet: decodePacket(message), port: rinfo.port });
      this.#waiter?.();
    });
    t.after(() => this.close());
  }

  bind(): Promise<void> {
    return new Promise((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve()));
  }

  send(packet: Buffer, port: number): void {
    this.socket.send(packet, port, '127.0.0.1');
  }

  request(port: number, filename: string, options: readonly TftpOption[] = []): void {
    this.send(encodeRequest({ kind: 'rrq', filename, mode: 'octet', options }), port);
  }

  async next(timeoutMs = 5000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no packet within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
    return this.#queue.shift()!;
  }

  get queued(): number {
    return this.#queue.length;
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

export const blockOf = (r: Received) => (r.packet.kind === 'data' ? r.packet.block : -1);
