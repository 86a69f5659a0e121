// A simulated machine for the demo and benchmarks: it behaves as the PXE Manager's target
// systems do — its firmware's iPXE asks anvil what to boot (/boot/<mac>, so the boot is in the
// boot log as a real machine's is), it installs and calls /localboot/ when told to boot a
// profile, then loops on /nexttest/, runs each script with sh, and uploads the output the way
// the seed's curl line does (multipart field "file"). Its power is its caller's (the demo gives
// it a fake driver and powers it on and off around each boot).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const SCRIPT_TIMEOUT_MS = 60_000;

export interface SimulatedMachineOptions {
  readonly server: string;
  readonly mac: string;
  /** Pause between steps, so a person watching the pages can follow. */
  readonly pauseMs?: number;
  readonly log?: (message: string) => void;
}

async function get(url: string): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${(await response.text()).trim()}`);
  return response;
}

/** Runs a script with sh in a scratch folder; resolves to its output (stdout and stderr). */
export async function runScript(script: string, timeoutMs = SCRIPT_TIMEOUT_MS): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'anvil-sim-'));
  try {
    const file = join(dir, 'test.sh');
    await writeFile(file, script, { mode: 0o700 });
    return await new Promise<string>((resolve, reject) => {
      const child = spawn('/bin/sh', [file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stderr.on('data', (c: Buffer) => chunks.push(c));
      child.on('error', reject);
      child.on('close', (code) => resolve(Buffer.concat(chunks).toString('utf8') + (code === 0 ? '' : `E: test script exited with status ${code}\n`)));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What anvil's iPXE script for a machine that boots its own disk says (src/boot/boot-script.ts). */
const LOCAL_BOOT = /boots from its local disk/;

/**
 * One boot of the machine: iPXE's question; when anvil answers with a profile (an installer),
 * the install script's /profile/ and, after a pause, /localboot/; then tests until wait.test.
 * `local`: anvil said to boot the disk.
 */
export async function bootOnce(options: SimulatedMachineOptions, signal?: AbortSignal): Promise<{ local: boolean; runs: number }> {
  const { server, mac } = options;
  const log = options.log ?? (() => undefined);
  const pause = () => sleep(options.pauseMs ?? 0, undefined, { signal });
  const script = await (await get(`${server}/boot/${mac}?platform=pcbios&arch=x86_64`)).text();
  const local = LOCAL_BOOT.test(script);
  if (!local) {
    const profile = (await (await get(`${server}/profile/${mac}/`)).text()).trim();
    log(`${mac}: booted from the network (next profile ${profile})`);
    await pause();
    await get(`${server}/localboot/${mac}/`);
    log(`${mac}: installed, next boot local`);
  }
  let runs = 0;
  for (;;) {
    if (signal?.aborted) break;
    const response = await get(`${server}/nexttest/${mac}/`);
    const run = response.headers.get('x-anvil-run');
    const script = await response.text();
    const output = await runScript(script);
    if (!run) break; // wait.test: nothing queued
    await pause();
    const form = new FormData();
    form.append('file', new Blob([output], { type: 'text/plain' }), `run-${run}.log`);
    const upload = await fetch(`${server}/upload/${run}/`, { method: 'POST', body: form, signal });
    if (!upload.ok) throw new Error(`upload of run ${run}: ${upload.status} ${(await upload.text()).trim()}`);
    log(`${mac}: run ${run} uploaded`);
    runs++;
  }
  return { local, runs };
}
