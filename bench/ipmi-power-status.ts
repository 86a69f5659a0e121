// Power status of a fleet of emulated BMCs: anvil's IPMI client against FreeIPMI's ipmipower
// (one process, one poll loop: the fastest reference) on the same BMCs, and ipmitool on a
// sample (one process per BMC, extrapolated). Prints absolute times, the ratio and anvil's memory.
//
//   source scripts/env.sh && node bench/ipmi-power-status.ts [--count 1000] [--runs 3] [--sample 20] [--fanout 1024] [--port 10000] [--cipher-suite 17] [--no-peers]
//
// The BMCs are `bin/anvil bmc fake --count N` in a separate process on 127.0.0.1, ports
// P..P+N-1 (below the kernel's ephemeral range, 32768+, so no client socket holds one). Each
// tool gets a fresh emulator, warmed by one unmeasured pass of that tool, then `--runs`
// measured passes; every pass is printed with the 1-minute load average beside it, then best
// and median. A BMC counts only if it answered "off" (the emulator's initial state); every
// error is counted by code. Both tools use the same cipher suite (17 unless --cipher-suite).
// Passwords go to the peers through a config file and the environment, never on a command line.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IpmiClient } from '../src/protocols/ipmi/client/client.ts';
import {
  HOST,
  PASSWORD,
  USER,
  havePeer,
  ipmipowerRun as ipmipowerFleetRun,
  loadAverage as load,
  portsOf,
  withEmulator as withFleet,
  type Run,
} from './lib/bmc-fleet.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    sample: { type: 'string', default: '20' },
    fanout: { type: 'string', default: '1024' },
    port: { type: 'string', default: '10000' },
    'cipher-suite': { type: 'string', default: '17' },
    'no-peers': { type: 'boolean', default: false },
  },
});
const COUNT = Number(values.count);
const RUNS = Math.max(1, Number(values.runs));
const SAMPLE = Math.min(Number(values.sample), COUNT);
const FANOUT = Number(values.fanout);
const BASE_PORT = Number(values.port);
const SUITE = Number(values['cipher-suite']);
/** RSS is sampled this often during a run (reading it per BMC would cost a /proc read each). */
const RSS_SAMPLE_MS = 25;
const FLEET = { basePort: BASE_PORT, count: COUNT };

const dir = mkdtempSync(join(tmpdir(), 'anvil-bench-ipmi-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const CLOCK_TICKS = 100; // USER_HZ on Linux
/** CPU seconds a process has used (Linux /proc/PID/stat utime + stime), or NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

const withEmulator = <T>(fn: (pid: number) => Promise<T> | T): Promise<T> => withFleet(FLEET, fn);

const ports = portsOf(FLEET);

interface AnvilRun extends Run {
  readonly peakRssMiB: number;
  readonly rssBeforeMiB: number;
  readonly cpuS: number;
  readonly emulatorCpuS: number;
  readonly sentPerBmc: number;
  readonly unclaimed: number;
  readonly firstError?: string;
}

async function anvilRun(emulatorPid: number): Promise<AnvilRun> {
  const client = new IpmiClient();
  const rssBefore = process.memoryUsage.rss();
  let peakRss = rssBefore;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), RSS_SAMPLE_MS);
  const cpu = process.cpuUsage();
  const emulatorBefore = cpuSeconds(emulatorPid);
  const errors = new Map<string, number>();
  let firstError: string | undefined;
  const started = performance.now();
  let ok = 0;
  let next = 0;
  const worker = async () => {
    while (next < ports.length) {
      const port = ports[next++]!;
      const bmc = client.bmc({ host: HOST, port, user: USER, password: PASSWORD, cipherSuite: SUITE });
      try {
        const state = await bmc.getPowerState();
        if (state === 'off') ok++;
        else errors.set(`answered ${state}`, (errors.get(`answered ${state}`) ?? 0) + 1);
      } catch (error) {
        const code = (error as { code?: string }).code ?? (error as Error).name;
        errors.set(code, (errors.get(code) ?? 0) + 1);
        firstError ??= `${port}: ${(error as Error).message}`;
      }
      await bmc.session.close();
    }
  };
  await Promise.all(Array.from({ length: Math.min(FANOUT, COUNT) }, worker));
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const emulatorCpuS = cpuSeconds(emulatorPid) - emulatorBefore;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  const { sent, unclaimed } = client.transport.stats;
  await client.close();
  return {
    ms,
    ok,
    errors,
    load: load(),
    peakRssMiB: peakRss / 2 ** 20,
    rssBeforeMiB: rssBefore / 2 ** 20,
    cpuS: (used.user + used.system) / 1e6,
    emulatorCpuS,
    sentPerBmc: sent / COUNT,
    unclaimed,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

const haveIpmipower = !values['no-peers'] && havePeer('ipmipower', ['--version']);
const haveIpmitool = !values['no-peers'] && havePeer('ipmitool', ['-V']);

const ipmipowerRun = (fanout: number | undefined): Run => ipmipowerFleetRun(FLEET, { dir, suite: SUITE, fanout });

function ipmitoolRun(): Run {
  const errors = new Map<string, number>();
  const started = performance.now();
  let ok = 0;
  for (const port of ports.slice(0, SAMPLE)) {
    const r = spawnSync('ipmitool', ['-I', 'lanplus', '-C', String(SUITE), '-H', HOST, '-p', String(port), '-U', USER, '-E', 'power', 'status'], {
      encoding: 'utf8',
      env: { ...process.env, IPMI_PASSWORD: PASSWORD },
    });
    if (r.stdout.includes('Chassis Power is off')) ok++;
    else {
      const why = (r.stderr.trim().split('\n')[0] ?? '') || `exit ${r.status}`;
      errors.set(why, (errors.get(why) ?? 0) + 1);
    }
  }
  return { ms: performance.now() - started, ok, errors, load: load() };
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const out = (line: string) => process.stdout.write(`${line}\n`);
const errorText = (errors: ReadonlyMap<string, number>) => (errors.size === 0 ? '' : `  errors: ${[...errors].map(([k, n]) => `${n}× ${k}`).join(', ')}`);
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
/** Best and median of the complete runs (every BMC answered "off"); incomplete runs are listed, never ranked. */
function summary(runs: readonly Run[], of: number): { best: number; median: number } | undefined {
  const complete = runs.filter((r) => r.ok === of).map((r) => r.ms);
  return complete.length === 0 ? undefined : { best: Math.min(...complete), median: median(complete) };
}
const summaryText = (s: { best: number; median: number } | undefined, runs: number) =>
  s ? `best ${fmt(s.best)}, median ${fmt(s.median)}` : `no complete run of ${runs}`;

out(
  `IPMI power status of ${COUNT} emulated BMCs (anvil bmc fake, separate process), loopback, cipher suite ${SUITE}, ${availableParallelism()} CPUs, load ${load()} at start`,
);

let firstRssMiB = 0;
const anvilRuns = await withEmulator(async (pid) => {
  const warm = await anvilRun(pid); // JIT warm-up of client and emulator alike
  firstRssMiB = warm.rssBeforeMiB;
  out(`  anvil warm-up     ${fmt(warm.ms).padStart(8)}  ${warm.ok}/${COUNT} ok  load ${warm.load}${errorText(warm.errors)}`);
  const runs: AnvilRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await anvilRun(pid);
    runs.push(r);
    out(
      `  anvil run ${i + 1}       ${fmt(r.ms).padStart(8)}  ${r.ok}/${COUNT} ok  load ${r.load}  client CPU ${r.cpuS.toFixed(2)} s, emulator CPU ${r.emulatorCpuS.toFixed(2)} s, ${r.sentPerBmc.toFixed(2)} datagrams sent per BMC${r.unclaimed ? `, ${r.unclaimed} unclaimed` : ''}, peak RSS ${r.peakRssMiB.toFixed(0)} MiB${errorText(r.errors)}`,
    );
    if (r.firstError) out(`    first error: ${r.firstError}`);
  }
  return runs;
});
const anvil = summary(anvilRuns, COUNT);
const peakRss = Math.max(...anvilRuns.map((r) => r.peakRssMiB));
out(`  anvil client      ${summaryText(anvil, RUNS)}  (fanout ${FANOUT})`);
out(`  anvil memory      peak RSS ${peakRss.toFixed(0)} MiB; ${firstRssMiB.toFixed(0)} MiB before the first run (Node, the TypeScript loader, the bench)`);

if (haveIpmipower) {
  let best: { label: string; s: { best: number; median: number } } | undefined;
  await withEmulator(() => {
    ipmipowerRun(FANOUT); // warm-up, unmeasured: the emulator's JIT, as for anvil
    // ipmipower's own default fanout, anvil's fanout, and 256.
    for (const fanout of [undefined, FANOUT, 256]) {
      const label = `ipmipower ${fanout ? `-F ${fanout}` : 'default -F'}`.padEnd(17);
      const runs: Run[] = [];
      for (let i = 0; i < RUNS; i++) {
        const r = ipmipowerRun(fanout);
        runs.push(r);
        out(`  ${label} ${fmt(r.ms).padStart(8)}  ${r.ok}/${COUNT} ok  load ${r.load}${errorText(r.errors)}${r.note ? `  (${r.note})` : ''}`);
      }
      const s = summary(runs, COUNT);
      out(`  ${label} ${summaryText(s, RUNS)}`);
      if (s && (!best || s.best < best.s.best)) best = { label: label.trim(), s };
    }
  });
  if (best && anvil)
    out(
      `  ratio             ipmipower / anvil = ${(best.s.best / anvil.best).toFixed(2)} (best runs: ${best.label} ${fmt(best.s.best)}, anvil ${fmt(anvil.best)}); medians ${(best.s.median / anvil.median).toFixed(2)}`,
    );
  else out('  ratio             none: no complete run of ' + (anvil ? 'ipmipower' : 'anvil'));
} else {
  out('  ipmipower         not run (freeipmi-tools not installed, or --no-peers)');
}

if (haveIpmitool && SAMPLE > 0) {
  const r = await withEmulator(() => ipmitoolRun());
  const perHost = r.ms / SAMPLE;
  out(
    `  ipmitool (serial) ${fmt(r.ms).padStart(8)}  ${r.ok}/${SAMPLE} ok on a sample of ${SAMPLE}, load ${r.load}; ${perHost.toFixed(1)} ms each, ~${fmt(perHost * COUNT)} for all ${COUNT}${errorText(r.errors)}`,
  );
  if (anvil) out(`  ratio             ipmitool (extrapolated) / anvil = ${((perHost * COUNT) / anvil.best).toFixed(1)}`);
} else if (!haveIpmitool) {
  out('  ipmitool          not run (not installed, or --no-peers)');
}
