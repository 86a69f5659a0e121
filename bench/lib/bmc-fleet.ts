// A fleet of emulated BMCs for the IPMI benches, and FreeIPMI's ipmipower run against it.
// The BMCs are `bin/anvil bmc fake --count N` in a process of their own on 127.0.0.1, ports
// P..P+N-1 (below the kernel's ephemeral range, 32768+, so no client socket holds one).
// Passwords go to the emulator and the peers through the environment or a file, never argv.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const HOST = '127.0.0.1';
export const USER = 'admin';
export const PASSWORD = 'password';
const READY_TIMEOUT_MS = 120_000;
/** File descriptors ipmipower holds per host (a socket and a random-number fd), plus its own. */
const IPMIPOWER_FDS_PER_HOST = 2;
const IPMIPOWER_FD_RESERVE = 64;

const ROOT = new URL('../../', import.meta.url).pathname;

export interface Fleet {
  readonly basePort: number;
  readonly count: number;
}

export const portsOf = (fleet: Fleet): number[] => Array.from({ length: fleet.count }, (_, i) => fleet.basePort + i);

/** The 1-minute load average: other work on the machine skews every figure. */
export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!;
  } catch {
    return '?';
  }
}

/** Whether a peer is installed: `command args` runs and exits 0. */
export function havePeer(command: string, args: readonly string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

/**
 * Runs fn against a fresh emulator process, so no tool inherits another's half-open
 * sessions (a BMC has few session slots) and each starts from the same state.
 */
export async function withEmulator<T>(fleet: Fleet, fn: (pid: number) => Promise<T> | T): Promise<T> {
  const emulator = spawn(join(ROOT, 'bin/anvil'), ['bmc', 'fake', '--port', String(fleet.basePort), '--count', String(fleet.count)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, IPMI_PASSWORD: PASSWORD },
  });
  const exited = new Promise((resolve) => emulator.once('exit', resolve));
  try {
    // Ready when the emulator has announced its last BMC.
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error('the emulator did not start in time')), READY_TIMEOUT_MS);
      emulator.stdout!.on('data', (chunk: Buffer) => {
        seen = (seen + chunk.toString()).slice(-4096);
        if (seen.includes(`:${fleet.basePort + fleet.count - 1} `)) {
          clearTimeout(timer);
          resolve();
        }
      });
      let errors = '';
      emulator.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
      emulator.once('exit', (code) => reject(new Error(`the emulator exited with ${code}: ${errors.trim()} (choose a free range with --port)`)));
    });
    return await fn(emulator.pid!);
  } finally {
    emulator.kill('SIGTERM');
    await exited;
  }
}

export interface Run {
  readonly ms: number;
  readonly ok: number;
  /** Failures by error code (or by ipmipower's message). */
  readonly errors: ReadonlyMap<string, number>;
  /** 1-minute load average when the run ended. */
  readonly load: string;
  readonly note?: string;
}

/** ipmipower holds descriptors per host: a fleet beyond `ulimit -n` is run in equal consecutive chunks, times added. */
function ipmipowerChunks(fleet: Fleet): number[][] {
  const ports = portsOf(fleet);
  const limit = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
  const perChunk = Number.isFinite(limit) && limit > 0 ? Math.max(1, Math.floor((limit - IPMIPOWER_FD_RESERVE) / IPMIPOWER_FDS_PER_HOST)) : fleet.count;
  const n = Math.ceil(fleet.count / perChunk);
  const size = Math.ceil(fleet.count / n);
  return Array.from({ length: n }, (_, i) => ports.slice(i * size, (i + 1) * size));
}

/**
 * `ipmipower --stat` on every BMC of the fleet (IPMI 2.0, the given cipher suite), the whole
 * process timed; a BMC counts as ok only if it answered "off" (the emulator's initial state).
 * `dir` holds the FreeIPMI config file with the password.
 */
export function ipmipowerRun(fleet: Fleet, opts: { readonly dir: string; readonly suite: number; readonly fanout?: number | undefined }): Run {
  const config = join(opts.dir, 'freeipmi.conf');
  writeFileSync(config, `username ${USER}\npassword ${PASSWORD}\n`, { mode: 0o600 });
  const chunks = ipmipowerChunks(fleet);
  const errors = new Map<string, number>();
  let ok = 0;
  let ms = 0;
  for (const chunk of chunks) {
    // Host ranges take port ranges too, which keeps 10,000 hosts off the argument list.
    const hosts = `${HOST}:[${chunk[0]}-${chunk[chunk.length - 1]}]`;
    const started = performance.now();
    const r = spawnSync(
      'ipmipower',
      ['--config-file', config, '-D', 'LAN_2_0', '-I', String(opts.suite), ...(opts.fanout ? ['-F', String(opts.fanout)] : []), '-h', hosts, '--stat'],
      { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
    );
    ms += performance.now() - started;
    if (r.error) throw r.error;
    let answered = 0;
    for (const line of r.stdout.split('\n')) {
      // "127.0.0.1: off", or "127.0.0.1: session timeout" and the like.
      const status = line.slice(line.indexOf(': ') + 2);
      if (!line.includes(': ')) continue;
      answered++;
      if (status === 'off') ok++;
      else errors.set(status, (errors.get(status) ?? 0) + 1);
    }
    // e.g. "ipmi_get_random: Bad file descriptor" when ipmipower runs out of descriptors.
    if (answered < chunk.length) errors.set(r.stderr.trim().split('\n')[0] || `no line printed (ipmipower exit ${r.status})`, chunk.length - answered);
  }
  const note =
    chunks.length > 1
      ? `${chunks.length} consecutive runs of ${chunks[0]!.length} hosts (ipmipower needs ${IPMIPOWER_FDS_PER_HOST} descriptors per host; ulimit -n)`
      : undefined;
  return { ms, ok, errors, load: loadAverage(), ...(note ? { note } : {}) };
}
