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

/** Runs a command to completion; never throws for a non-zero exit. */
export async function exec(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await run(file, args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, ...(cwd ? { cwd } : {}) });
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

/** Starts `bin/anvil serve` on a free loopback port and waits until it says it is serving. */
export async function startServer(data: string, extraArgs: readonly string[] = []): Promise<ServerProcess> {
  const child = spawn(ANVIL, ['serve', '--data', data, '--http', '127.0.0.1:0', ...(extraArgs.includes('--tftp') ? [] : ['--tftp', 'off']), ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`anvil serve did not start:\n${output}`)), 30_000);
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
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}
