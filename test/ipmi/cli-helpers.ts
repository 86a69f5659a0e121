// What the tests comparing `anvil ipmi` with ipmitool share: both tools run as processes, the
// emulator (`anvil bmc fake`) started on a free port, and the comparison of one command.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freeUdpPort } from '../helpers/ports.ts';
import { PASSWORD } from './client-peers.ts';

export const ANVIL = join(import.meta.dirname, '../../bin/anvil');
// TZ fixed: ipmitool prints SEL times in local time, anvil in UTC.
const env = { ...process.env, IPMI_PASSWORD: PASSWORD, TZ: 'UTC' };
/** Only hangs: the machine is shared and slow. */
export const CLI_TEST_TIMEOUT = { timeout: 300_000 };
/** How long the emulator may take to say it listens. */
const START_TIMEOUT_MS = 60_000;

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function anvil(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(ANVIL, ['ipmi', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function ipmitool(args: string[]): Result {
  const r = spawnSync('ipmitool', args, { env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** anvil's emulator on a free port, stopped after the test. */
export async function startFake(t: TestContext): Promise<number> {
  const port = await freeUdpPort();
  const emulator = spawn(ANVIL, ['bmc', 'fake', '--port', String(port)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => emulator.once('exit', resolve));
  t.after(async () => {
    emulator.kill('SIGTERM');
    await exited;
  });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`emulator did not start: ${seen}`)), START_TIMEOUT_MS);
    emulator.stdout.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(`:${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return port;
}

/** Both tools run the command: the same exit status (0 or not) and the same stdout (and stderr, when asked). */
export async function same(common: string[], command: string[], options: { stderr?: boolean } = {}): Promise<Result> {
  const ours = await anvil([...common, ...command]);
  const theirs = ipmitool([...common, ...command]);
  assert.equal(ours.code === 0, theirs.code === 0, `${command.join(' ')}: anvil ${ours.code} ${ours.stderr}; ipmitool ${theirs.code} ${theirs.stderr}`);
  assert.equal(ours.stdout, theirs.stdout, command.join(' '));
  if (options.stderr) assert.equal(ours.stderr, theirs.stderr, command.join(' '));
  return ours;
}
