// Runs bin/anvil and bin/pxemngr as a user would: real processes on loopback.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = new URL('../../', import.meta.url).pathname;
export const ANVIL = join(ROOT, 'bin/anvil');
export const PXEMNGR = join(ROOT, 'bin/pxemngr');

export function tempDir(prefix = 'anvil-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A command that has not ended after this long is killed (and exec throws saying so), so a hung
 * command fails its test instead of keeping the test file's process alive after it.
 */
export const COMMAND_TIMEOUT_MS = 12 * 60_000;

/** Runs a command to completion; never throws for a non-zero exit. */
export async function exec(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await run(file, args, {
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
      timeout: COMMAND_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      ...(cwd ? { cwd } : {}),
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly logs: () => string;
  stop(): Promise<number | null>;
}

/**
 * Starts `bin/anvil serve` on a free loopback port and waits until it says it is serving; `env`
 * is added to this process's environment.
 */
export async function startServer(data: string, extraArgs: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const child = spawn(ANVIL, ['serve', '--data', data, '--http', '127.0.0.1:0', ...(extraArgs.includes('--tftp') ? [] : ['--tftp', 'off']), ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    // Generous: on a loaded CI machine a start can take tens of seconds. One that never says it
    // is serving is killed, so it cannot outlive the test.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`anvil serve did not start within 120 s:\n${output}`));
    }, 120_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)".*anvil is serving/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`anvil serve exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    child,
    logs: () => output,
    // SIGTERM, then SIGKILL if it has not exited within 15 s: a server that hangs on its way
    // out must not keep the test file's process alive.
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
        child.kill('SIGTERM');
      }),
  };
}
