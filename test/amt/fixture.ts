// Shared set-up of the AMT tests: an emulator on a free port that the test stops, and
// child processes (amttool, bin/anvil) run with the password in their environment only.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { AmtEmulator, MemoryAmtHandler } from '../../src/protocols/amt/index.ts';
import type { AmtEmulatorOptions } from '../../src/protocols/amt/index.ts';

export const PASSWORD = 'Str0ng!Pass"word';
export const ANVIL = fileURLToPath(new URL('../../bin/anvil', import.meta.url));
/** Longest a child process may run before the test kills it. */
export const CHILD_TIMEOUT_MS = 30_000;

export async function startEmulator(
  t: TestContext,
  options: Partial<AmtEmulatorOptions> = {},
): Promise<{ emulator: AmtEmulator; handler: MemoryAmtHandler; port: number }> {
  const handler = (options.handler as MemoryAmtHandler | undefined) ?? new MemoryAmtHandler();
  const emulator = new AmtEmulator({ password: PASSWORD, address: '127.0.0.1', port: 0, ...options, handler });
  const { port } = await emulator.listen();
  t.after(() => emulator.close());
  return { emulator, handler, port };
}

export interface ChildResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion, feeding `input` on stdin; the password goes in AMT_PASSWORD. */
export function runChild(
  command: string,
  args: readonly string[],
  options: { input?: string; password?: string; env?: Record<string, string> } = {},
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, ...options.env };
    if (options.password !== undefined) env['AMT_PASSWORD'] = options.password;
    else delete env['AMT_PASSWORD'];
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** amttool is Perl and needs SOAP::Lite (Debian libsoap-lite-perl, only "recommended" by amtterm). */
export function perlHasSoapLite(): boolean {
  return spawnSync('perl', ['-MSOAP::Lite', '-e', '1'], { stdio: 'ignore' }).status === 0;
}
