// A simulated machine for the demo and benchmarks: it behaves as the PXE Manager's target
// systems do — asks for its profile, installs and calls /localboot/ when told to install,
// then loops on /nexttest/, runs each script with sh, and uploads the output the way the
// seed's curl line does (multipart field "file").
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

/** One boot of the machine: profile, (install and localboot), then tests until wait.test. */
export async function bootOnce(options: SimulatedMachineOptions, signal?: AbortSignal): Promise<{ profile: string; runs: number }> {
  const { server, mac } = options;
  const log = options.log ?? (() => undefined);
  const pause = () => sleep(options.pauseMs ?? 0, undefined, { signal });
  const profile = (await (await get(`${server}/profile/${mac}/`)).text()).trim();
  log(`${mac}: booting profile ${profile}`);
  if (profile !== 'local') {
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
  return { profile, runs };
}
