// A fleet of emulated Redfish BMCs for the Redfish bench: `bin/anvil bmc redfish --count N` in a
// process of its own on 127.0.0.1, ports P..P+N-1 (below the kernel's ephemeral range, 32768+,
// so no client socket holds one), HTTPS with the certificate it generates, written to a file
// for the clients to verify. The password reaches the emulator through the environment.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fleet } from './bmc-fleet.ts';

export const HOST = '127.0.0.1';
export const USER = 'admin';
/** The emulator's throwaway password: it guards nothing but BMCs that live for one bench run. */
export const PASSWORD = 'bench-Redfish-1';
const READY_TIMEOUT_MS = 300_000;

const ROOT = new URL('../../', import.meta.url).pathname;

export interface RedfishFleet extends Fleet {
  /** Seconds the emulator keeps an idle connection open (its --keep-alive). */
  readonly keepAliveS: number;
}

export interface RunningFleet {
  readonly pid: number;
  /** PEM: the emulator's CA and server certificate, what a client trusts. */
  readonly ca: string;
  /** The file holding `ca`, for tools that take a path. */
  readonly caFile: string;
  /** Seconds from spawn until the last BMC listened (certificate generation included). */
  readonly startS: number;
}

/**
 * Runs fn against a fresh emulator process, so no client inherits another's sessions or kept
 * connections and each starts from the same state (every system Off).
 */
export async function withRedfishFleet<T>(fleet: RedfishFleet, dir: string, fn: (running: RunningFleet) => Promise<T> | T): Promise<T> {
  const caFile = join(dir, 'redfish-ca.pem');
  const started = performance.now();
  const emulator = spawn(
    join(ROOT, 'bin/anvil'),
    [
      'bmc',
      'redfish',
      '--quiet',
      '--port',
      String(fleet.basePort),
      '--count',
      String(fleet.count),
      '--keep-alive',
      String(fleet.keepAliveS),
      '--cert-out',
      caFile,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, REDFISH_PASSWORD: PASSWORD } },
  );
  const exited = new Promise((resolve) => emulator.once('exit', resolve));
  try {
    // Ready when the emulator has announced its last BMC.
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error('the Redfish emulator did not start in time')), READY_TIMEOUT_MS);
      emulator.stdout!.on('data', (chunk: Buffer) => {
        seen = (seen + chunk.toString()).slice(-4096);
        if (seen.includes(`:${fleet.basePort + fleet.count - 1} `)) {
          clearTimeout(timer);
          resolve();
        }
      });
      let errors = '';
      emulator.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
      emulator.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the Redfish emulator exited with ${code}: ${errors.trim()} (choose a free range with --port)`));
      });
    });
    const startS = (performance.now() - started) / 1000;
    return await fn({ pid: emulator.pid!, ca: readFileSync(caFile, 'utf8'), caFile, startS });
  } finally {
    emulator.kill('SIGTERM');
    await exited;
  }
}
