// Helpers for tests that run several `anvil serve` processes on one PostgreSQL database: waiting
// for a condition or a log line, reading what each process's power sync changed, and setting up
// the fleet of emulated BMCs and the three data directories they share.
import type { TestContext } from 'node:test';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ANVIL, tempDir, type ServerProcess } from './anvil-process.ts';
import { freeUdpPort } from './ports.ts';
import { openServices } from '../../src/app/compose.ts';

/** Polls `check` until it returns a value (not undefined), or fails after `ms` saying what it last saw. */
export async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${last ? ` (last: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Resolves once the server's output from `from` on (so far or to come) matches; fails after `ms`. */
export async function logged(server: ServerProcess, pattern: RegExp, from = 0, ms = 120_000): Promise<void> {
  await until(`log line ${pattern} from pid ${server.child.pid}`, ms, async () => (pattern.test(server.logs().slice(from)) ? true : undefined));
}

/** The server's JSON log lines from `from` on (pino's output; other lines are skipped). */
export function logEntries(server: ServerProcess, from = 0): Record<string, unknown>[] {
  const entries: Record<string, unknown>[] = [];
  for (const line of server.logs().slice(from).split('\n')) {
    try {
      const entry = JSON.parse(line) as unknown;
      if (entry && typeof entry === 'object') entries.push(entry as Record<string, unknown>);
    } catch {
      // not a JSON line, or the last one still being written
    }
  }
  return entries;
}

/** The machines whose power change a server's power sync logged. */
export function synced(server: ServerProcess, from = 0): Set<string> {
  const names = new Set<string>();
  for (const entry of logEntries(server, from))
    if (entry.msg === 'power sync') for (const name of (entry.changed as string[] | undefined) ?? []) names.add(name);
  return names;
}

/** `anvil bmc fake --count N --spread-addresses` (127.0.0.1, .2, …, one port), stopped after the test. */
export interface BmcFleet {
  readonly port: number;
  /** What the emulator printed so far (its listening lines, and with --log-power each power action). */
  out(): string;
}

/** Starts the emulated BMCs and resolves once the last one, at `last`, listens. The password goes through the environment. */
export async function startBmcFleet(t: TestContext, options: { count: number; password: string; last: string; extra?: string[] }): Promise<BmcFleet> {
  const port = await freeUdpPort();
  const bmcs = spawn(ANVIL, ['bmc', 'fake', '--port', String(port), '--count', String(options.count), '--spread-addresses', ...(options.extra ?? [])], {
    env: { ...process.env, IPMI_PASSWORD: options.password },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const bmcsExited = new Promise((resolve) => bmcs.once('exit', resolve));
  t.after(async () => {
    bmcs.kill('SIGTERM');
    await bmcsExited;
  });
  let out = '';
  bmcs.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await until('the emulated BMCs listen', 120_000, async () => (out.includes(`${options.last}:${port}`) ? true : undefined));
  return { port, out: () => out };
}

/**
 * Three data directories on one database with the fleet enrolled on the ipmi driver through the
 * services, as the CLI would; the other two get the first one's secret.key (the BMC passwords in
 * the database are sealed with it).
 */
export async function enrolCluster(
  url: string,
  fleet: { count: number; port: number; password: string; mac: (i: number) => string; address: (i: number) => string },
): Promise<string[]> {
  const dirs = [tempDir(), tempDir(), tempDir()];
  const first = await openServices({ data: dirs[0], databaseUrl: url });
  for (let i = 1; i <= fleet.count; i++) {
    const name = `node-${i}`;
    await first.machines.add(name, [fleet.mac(i)]);
    await first.control.configure(name, {
      driver: 'ipmi',
      driverInfo: { ipmi_address: fleet.address(i), ipmi_port: fleet.port, ipmi_username: 'admin', ipmi_password: fleet.password },
    });
  }
  const secretKey = first.paths.secretKey;
  await first.close();
  for (const dir of dirs.slice(1)) {
    mkdirSync(dir, { recursive: true });
    copyFileSync(secretKey, join(dir, 'secret.key'));
  }
  return dirs;
}
