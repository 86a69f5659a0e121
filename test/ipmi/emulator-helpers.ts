// Shared by the IPMI interop tests: start emulated BMCs for one test, run a real peer
// against them, drive an interactive peer (SOL) through a pty.
import { execFile, spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { BmcServer } from '../../src/protocols/ipmi/server/server.ts';
import type { AddBmcOptions, HostedBmc } from '../../src/protocols/ipmi/server/server.ts';
import { MemoryBmcHandler } from '../../src/protocols/ipmi/server/memory-handler.ts';

export const USER = 'admin';
export const PASSWORD = 'anvil-test-pw';
/** A peer that has not answered by then is hung, not slow. */
export const PEER_TIMEOUT_MS = 20_000;

export interface Emulator {
  readonly server: BmcServer;
  readonly bmc: HostedBmc;
  readonly handler: MemoryBmcHandler;
  readonly port: number;
}

/**
 * FreeIPMI's ipmiconsole rejects "host:port" with a port above 32767 ("hostname invalid",
 * observed with 1.6.10), and Linux hands out ephemeral ports from 32768; so tests that run
 * it bind a random free port below that instead.
 */
export const LOW_PORT_RANGE = { from: 20_000, to: 32_000 } as const;

/** Starts one BMC on a loopback port (ephemeral, or random below 32768 with lowPort); stopped when the test ends. */
export async function startEmulator(t: TestContext, options: AddBmcOptions = {}, lowPort = false): Promise<Emulator> {
  const server = new BmcServer();
  t.after(() => server.close());
  const handler = options.handler instanceof MemoryBmcHandler ? options.handler : new MemoryBmcHandler({ user: USER, password: PASSWORD });
  for (let attempt = 0; ; attempt++) {
    const port = lowPort ? LOW_PORT_RANGE.from + Math.floor(Math.random() * (LOW_PORT_RANGE.to - LOW_PORT_RANGE.from)) : 0;
    try {
      const bmc = await server.add({ ...options, handler, port });
      return { server, bmc, handler, port: bmc.port };
    } catch (error) {
      if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt > 20) throw error;
    }
  }
}

export interface PeerResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a peer to completion; never rejects on a non-zero exit (tests assert on it). */
export function runPeer(command: string, args: readonly string[], env: Record<string, string> = {}, timeoutMs = PEER_TIMEOUT_MS): Promise<PeerResult> {
  return new Promise((resolve) => {
    execFile(command, args, { env: { ...process.env, ...env }, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** ipmitool with the password in IPMI_PASSWORD (-E), never on its command line. */
export function ipmitool(port: number, iface: 'lan' | 'lanplus', args: readonly string[], extra: readonly string[] = []): Promise<PeerResult> {
  return runPeer('ipmitool', ['-I', iface, '-H', '127.0.0.1', '-p', String(port), '-U', USER, '-E', '-N', '1', '-R', '3', ...extra, ...args], {
    IPMI_PASSWORD: PASSWORD,
  });
}

/** FreeIPMI tools take the password with -p; these run against loopback only. */
export function freeipmi(tool: string, port: number, args: readonly string[]): Promise<PeerResult> {
  return runPeer(tool, ['-h', `127.0.0.1:${port}`, '-u', USER, '-p', PASSWORD, '-D', 'LAN_2_0', ...args]);
}

/** An interactive peer in a pty (util-linux `script`), with waits on its output, not on time. */
export class PtySession {
  readonly #child: ReturnType<typeof spawn>;
  #output = '';
  #waiters: { text: string; resolve: () => void }[] = [];
  readonly exited: Promise<number>;

  constructor(commandLine: string, env: Record<string, string> = {}) {
    this.#child = spawn('script', ['-qfec', commandLine, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer) => {
      this.#output += chunk.toString('latin1');
      this.#waiters = this.#waiters.filter((w) => {
        if (!this.#output.includes(w.text)) return true;
        w.resolve();
        return false;
      });
    };
    this.#child.stdout?.on('data', onData);
    this.#child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code ?? -1)));
  }

  get output(): string {
    return this.#output;
  }

  /** Resolves when `text` has appeared in the output; rejects after timeoutMs with what was seen. */
  waitFor(text: string, timeoutMs = 10_000): Promise<void> {
    if (this.#output.includes(text)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${JSON.stringify(text)}; output so far: ${JSON.stringify(this.#output)}`)),
        timeoutMs,
      );
      this.#waiters.push({
        text,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  write(text: string): void {
    this.#child.stdin?.write(text);
  }

  /** Kills the peer if still running (for t.after). */
  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }
}
