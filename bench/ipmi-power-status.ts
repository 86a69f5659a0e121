// Power status of a fleet of emulated BMCs: anvil's IPMI client against FreeIPMI's ipmipower
// (one process, one poll loop: the fastest reference) on the same BMCs, and ipmitool on a
// sample (one process per BMC, extrapolated). Prints absolute times, the ratio and anvil's memory.
//
//   source scripts/env.sh && node bench/ipmi-power-status.ts [--count 1000] [--sample 20] [--fanout 1024] [--port 10000]
//
// The BMCs are `bin/anvil bmc fake --count N` in a separate process on 127.0.0.1, ports
// P..P+N-1 (below the kernel's ephemeral range, 32768+, so no client socket holds one). Every run must report every BMC "off"; a run with failures says so. Passwords go
// to the peers through a config file and the environment, never on a command line.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IpmiClient } from '../src/protocols/ipmi/client/client.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    sample: { type: 'string', default: '20' },
    fanout: { type: 'string', default: '1024' },
    port: { type: 'string', default: '10000' },
    'cipher-suite': { type: 'string' },
  },
});
const COUNT = Number(values.count);
const SAMPLE = Math.min(Number(values.sample), COUNT);
const FANOUT = Number(values.fanout);
const BASE_PORT = Number(values.port);
const HOST = '127.0.0.1';
const USER = 'admin';
const PASSWORD = 'password';
const READY_TIMEOUT_MS = 120_000;

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'anvil-bench-ipmi-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs fn against a fresh emulator process, so no tool inherits another's half-open
 * sessions (a BMC has few session slots) and each starts from the same state.
 */
/** CPU seconds a process has used (Linux /proc/PID/stat utime + stime), or NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS = 100; // USER_HZ on Linux
let emulatorPid: number | undefined;

async function withEmulator<T>(fn: () => Promise<T> | T): Promise<T> {
  const emulator = spawn(join(root, 'bin/anvil'), ['bmc', 'fake', '--port', String(BASE_PORT), '--count', String(COUNT)], {
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
        if (seen.includes(`:${BASE_PORT + COUNT - 1} `)) {
          clearTimeout(timer);
          resolve();
        }
      });
      let errors = '';
      emulator.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
      emulator.once('exit', (code) => reject(new Error(`the emulator exited with ${code}: ${errors.trim()} (choose a free range with --port)`)));
    });
    emulatorPid = emulator.pid;
    return await fn();
  } finally {
    emulator.kill('SIGTERM');
    await exited;
  }
}

const ports = Array.from({ length: COUNT }, (_, i) => BASE_PORT + i);

let sentPerBmc = 0;
let emulatorCpu = Number.NaN;
async function anvilRun(): Promise<{ ms: number; ok: number; rssMiB: number; heapMiB: number; cpuMs: number }> {
  const client = new IpmiClient();
  const before = process.memoryUsage();
  const cpu = process.cpuUsage();
  const emulatorBefore = cpuSeconds(emulatorPid);
  const started = performance.now();
  let ok = 0;
  let next = 0;
  let peakRss = before.rss;
  const worker = async () => {
    while (next < ports.length) {
      const port = ports[next++]!;
      const bmc = client.bmc({ host: HOST, port, user: USER, password: PASSWORD, ...(values['cipher-suite'] ? { cipherSuite: Number(values['cipher-suite']) } : {}) });
      try {
        if ((await bmc.getPowerState()) === 'off') ok++;
      } catch (error) {
        process.stderr.write(`anvil ${port}: ${(error as Error).message}\n`);
      }
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      await bmc.session.close();
    }
  };
  await Promise.all(Array.from({ length: Math.min(FANOUT, COUNT) }, worker));
  const ms = performance.now() - started;
  const after = process.memoryUsage();
  sentPerBmc = client.transport.stats.sent / COUNT;
  await client.close();
  const used = process.cpuUsage(cpu);
  emulatorCpu = cpuSeconds(emulatorPid) - emulatorBefore;
  return { ms, ok, rssMiB: (peakRss - before.rss) / 2 ** 20, heapMiB: (after.heapUsed - before.heapUsed) / 2 ** 20, cpuMs: (used.user + used.system) / 1000 };
}

function ipmipowerRun(fanout?: number): { ms: number; ok: number } | undefined {
  if (spawnSync('ipmipower', ['--version'], { stdio: 'ignore' }).status !== 0) return undefined;
  const config = join(dir, 'freeipmi.conf');
  writeFileSync(config, `username ${USER}\npassword ${PASSWORD}\n`, { mode: 0o600 });
  // ipmipower's host ranges take port ranges too, which keeps 10,000 hosts off the argument list.
  const hosts = `${HOST}:[${BASE_PORT}-${BASE_PORT + COUNT - 1}]`;
  const started = performance.now();
  const r = spawnSync('ipmipower', ['--config-file', config, '-D', 'LAN_2_0', ...(fanout ? ['-F', String(fanout)] : []), '-h', hosts, '--stat'], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  const ms = performance.now() - started;
  if (r.error) throw r.error;
  const ok = r.stdout.split('\n').filter((l) => l.endsWith(': off')).length;
  // e.g. "ipmi_get_random: Bad file descriptor": ipmipower needs 2+ descriptors per host (ulimit -n).
  if (ok === 0 && r.stderr.trim()) process.stdout.write(`  (ipmipower: ${r.stderr.trim().split('\n')[0]})\n`);
  return { ms, ok };
}

function ipmitoolRun(): { ms: number; ok: number } | undefined {
  if (spawnSync('ipmitool', ['-V'], { stdio: 'ignore' }).status !== 0) return undefined;
  const started = performance.now();
  let ok = 0;
  for (const port of ports.slice(0, SAMPLE)) {
    const r = spawnSync('ipmitool', ['-I', 'lanplus', '-H', HOST, '-p', String(port), '-U', USER, '-E', 'power', 'status'], { encoding: 'utf8', env: { ...process.env, IPMI_PASSWORD: PASSWORD } });
    if (r.stdout.includes('Chassis Power is off')) ok++;
  }
  return { ms: performance.now() - started, ok };
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
process.stdout.write(`IPMI power status of ${COUNT} emulated BMCs (anvil bmc fake, separate process), loopback\n`);
const [warm, anvil] = await withEmulator(async () => [await anvilRun(), await anvilRun()] as const); // the first run warms up the JIT
process.stdout.write(`  anvil client      ${fmt(anvil.ms).padStart(9)}  ${anvil.ok}/${COUNT} ok  (warm-up run ${fmt(warm.ms)})  fanout ${FANOUT}, ${sentPerBmc.toFixed(1)} datagrams sent per BMC\n`);
process.stdout.write(`  anvil memory      peak RSS +${anvil.rssMiB.toFixed(1)} MiB, heap +${anvil.heapMiB.toFixed(1)} MiB over the run; client CPU ${fmt(anvil.cpuMs)}, emulator CPU ${emulatorCpu.toFixed(2)} s\n`);
// ipmipower's default fanout is unlimited; it is also run with anvil's fanout, and the ratio uses its best complete run.
const runs = [await withEmulator(() => ipmipowerRun()), await withEmulator(() => ipmipowerRun(FANOUT)), await withEmulator(() => ipmipowerRun(256))];
if (runs[0]) {
  runs.forEach((r, i) => r && process.stdout.write(`  ipmipower ${['-F 0   ', `-F ${FANOUT}`.padEnd(7), '-F 256 '][i]} ${fmt(r.ms).padStart(9)}  ${r.ok}/${COUNT} ok\n`));
  const complete = runs.filter((r): r is { ms: number; ok: number } => r !== undefined && r.ok === COUNT);
  const best = complete.sort((a, b) => a.ms - b.ms)[0];
  process.stdout.write(best ? `  ratio             ipmipower (best complete run) / anvil = ${(best.ms / anvil.ms).toFixed(2)}\n` : '  ratio             no complete ipmipower run\n');
} else {
  process.stdout.write('  ipmipower         not installed (freeipmi-tools)\n');
}
const ipmitool = await withEmulator(() => ipmitoolRun());
if (ipmitool) {
  const perHost = ipmitool.ms / SAMPLE;
  process.stdout.write(`  ipmitool (serial) ${fmt(ipmitool.ms).padStart(9)}  ${ipmitool.ok}/${SAMPLE} ok on a sample of ${SAMPLE}; ${perHost.toFixed(1)} ms each, ~${fmt(perHost * COUNT)} for all ${COUNT}\n`);
  process.stdout.write(`  ratio             ipmitool (extrapolated) / anvil = ${((perHost * COUNT) / anvil.ms).toFixed(1)}\n`);
}
