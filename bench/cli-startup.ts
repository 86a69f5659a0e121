// Start-up of anvil's command lines as whole processes, beside their peers in the same run:
// `anvil ipmi ... power status` against ipmitool on one emulated BMC (target: at most 1.5× its
// time), `anvil --help` and `pxemngr --help` (target: 100 ms; `node -e 0` shows Node's own
// start), and `anvil ipmi -H <fleet> power status` against FreeIPMI's ipmipower on the same
// fleet (target: no slower).
//
//   source scripts/env.sh && node bench/cli-startup.ts [--runs 15] [--count 200] [--port 11000]
//
// Each command is a fresh process, timed from spawn to exit. The rounds interleave the commands
// (in reverse order every other round), so load that drifts falls on all of them alike, after
// one unmeasured warm-up round (the page cache, the emulator's JIT, and the CLI build if a
// source changed since). A run counts only with the expected output and, for anvil, nothing on
// stderr (a note there would mean it ran from the sources). Beside the times, the CPU the command
// used and the CPU the emulator spent serving it: on 2 CPUs the slower of the two sets the pace
// of a fleet run. The emulated BMCs are `bin/anvil bmc
// fake --count N` in their own process; both IPMI tools read the password from the environment
// (ipmitool -E, anvil ipmi -E) and ipmipower from a config file, never from argv.
// Under the fleet ratio, a Node client's floor: Node's own start plus the CPU the emulator needs
// to answer the fleet, which no client can overlap with its start; when it is above ipmipower's
// time, the fleet target cannot be met on this machine by tuning anvil's client alone.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HOST, PASSWORD, USER, havePeer, ipmipowerRun, loadAverage, withEmulator, type Fleet } from './lib/bmc-fleet.ts';
import { cpuSecondsOf } from './lib/proc.ts';
import { cell, median, table } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    count: { type: 'string', default: '200' },
    port: { type: 'string', default: '11000' },
  },
});
const RUNS = Math.max(1, Number(values.runs));
const FLEET: Fleet = { basePort: Number(values.port), count: Number(values.count) };
/** The fleet's cipher suite, for both tools (ipmipower's default would be 3). */
const SUITE = 17;
const SINGLE_RATIO_TARGET = 1.5;
const HELP_TARGET_MS = 100;
const FLEET_RATIO_TARGET = 1;
const RUN_TIMEOUT_MS = 60_000;

const ROOT = new URL('../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'anvil-bench-cli-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

interface Command {
  readonly label: string;
  /** Runs once; the time in ms, or why the run does not count. */
  readonly run: () => { ms: number } | { failed: string };
}

/** A process timed from spawn to exit; `check` says what is wrong with its output, if anything. */
function timed(file: string, args: readonly string[], check: (stdout: string, stderr: string, status: number | null) => string | undefined): Command['run'] {
  return () => {
    const started = performance.now();
    const r = spawnSync(file, args, { encoding: 'utf8', timeout: RUN_TIMEOUT_MS, env: { ...process.env, IPMI_PASSWORD: PASSWORD }, maxBuffer: 16 * 2 ** 20 });
    const ms = performance.now() - started;
    if (r.error) return { failed: r.error.message };
    const problem = check(r.stdout, r.stderr, r.status);
    return problem === undefined ? { ms } : { failed: problem };
  };
}

const firstLine = (text: string) => text.trim().split('\n')[0] ?? '';
/** anvil's runs must be silent on stderr: a note there means a rebuild or a run from the sources. */
const anvilCheck =
  (expect: (stdout: string) => boolean) =>
  (stdout: string, stderr: string, status: number | null): string | undefined => {
    if (stderr !== '') return `stderr: ${firstLine(stderr)}`;
    if (status !== 0) return `exit status ${status}`;
    return expect(stdout) ? undefined : `unexpected output: ${firstLine(stdout)}`;
  };
const powerIsOff = (stdout: string) => stdout === 'Chassis Power is off\n';
const fleetIsOff = (stdout: string) => stdout.split('\n').filter((l) => l.endsWith(': off')).length === FLEET.count;
const usage = (stdout: string) => stdout.startsWith('Usage: ');

const anvil = join(ROOT, 'bin/anvil');
const single = ['-I', 'lanplus', '-H', HOST, '-p', String(FLEET.basePort), '-U', USER, '-E', 'power', 'status'];
const fleetHosts = `${HOST}:[${FLEET.basePort}-${FLEET.basePort + FLEET.count - 1}]`;
const haveIpmitool = havePeer('ipmitool', ['-V']);
const haveIpmipower = havePeer('ipmipower', ['--version']);

const commands: Command[] = [
  { label: `anvil ipmi -H ${HOST} -p ${FLEET.basePort}`, run: timed(anvil, ['ipmi', ...single], anvilCheck(powerIsOff)) },
  ...(haveIpmitool
    ? [
        {
          label: 'ipmitool, the same options',
          run: timed('ipmitool', single, (stdout, stderr, status) => (status === 0 && powerIsOff(stdout) ? undefined : firstLine(stderr) || `exit ${status}`)),
        },
      ]
    : []),
  { label: 'anvil --help', run: timed(anvil, ['--help'], anvilCheck(usage)) },
  { label: 'pxemngr --help', run: timed(join(ROOT, 'bin/pxemngr'), ['--help'], anvilCheck(usage)) },
  { label: "node -e 0 (Node's own start)", run: timed(process.execPath, ['-e', '0'], (_o, _e, status) => (status === 0 ? undefined : `exit ${status}`)) },
  {
    label: `anvil ipmi -H ${fleetHosts} -C ${SUITE}`,
    run: timed(anvil, ['ipmi', '-I', 'lanplus', '-H', fleetHosts, '-U', USER, '-E', '-C', String(SUITE), 'power', 'status'], anvilCheck(fleetIsOff)),
  },
  ...(haveIpmipower
    ? [
        {
          label: `ipmipower -h ${fleetHosts} -I ${SUITE}`,
          run: () => {
            const r = ipmipowerRun(FLEET, { dir, suite: SUITE });
            return r.ok === FLEET.count ? { ms: r.ms } : { failed: [...r.errors].map(([why, n]) => `${n}× ${why}`).join(', ') };
          },
        },
      ]
    : []),
];

/**
 * CPU seconds of this bench's finished children (cutime + cstime in /proc/self/stat): its
 * delta over a run is the CPU the command used, in 10 ms ticks, so only a mean over runs tells.
 */
function childCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}
const mean = (xs: readonly number[]) => (xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length);

const out = (line: string) => process.stdout.write(`${line}\n`);
/** Which code bin/anvil runs: its build (bin/start.js), or the sources in a checkout from before the build existed. */
async function buildState(): Promise<string> {
  const start = await import('../bin/start.js').catch(() => undefined);
  if (start === undefined) return 'the TypeScript sources (no bin/start.js)';
  const manifest = start.readManifest(ROOT);
  if (manifest === undefined) return 'no build yet (the warm-up makes it)';
  const stale = start.staleInput(manifest, ROOT);
  return `.build/${manifest.build}${stale ? ` (stale, ${stale}: the warm-up rebuilds it)` : ''}`;
}
out(
  `CLI start-up, whole processes: ${RUNS} interleaved rounds after a warm-up, ${availableParallelism()} CPUs, load ${loadAverage()} at start; ` +
    `bin/anvil runs ${await buildState()}`,
);
if (!haveIpmitool) out('  ipmitool not installed: no single-BMC comparison');
if (!haveIpmipower) out('  ipmipower (freeipmi-tools) not installed: no fleet comparison');

const times = new Map<string, number[]>(commands.map((c) => [c.label, []]));
/** CPU ms of the command itself, and of the BMC emulator serving it, per counted run. */
const cpu = new Map<string, { own: number[]; emulator: number[] }>(commands.map((c) => [c.label, { own: [], emulator: [] }]));
const failures = new Map<string, string[]>(commands.map((c) => [c.label, []]));
await withEmulator(FLEET, (emulatorPid) => {
  for (const c of commands) c.run(); // warm-up
  for (let round = 0; round < RUNS; round++) {
    for (const c of round % 2 === 0 ? commands : [...commands].reverse()) {
      const [own, emulator] = [childCpuSeconds(), cpuSecondsOf(emulatorPid)];
      const r = c.run();
      if ('failed' in r) {
        failures.get(c.label)!.push(r.failed);
        continue;
      }
      times.get(c.label)!.push(r.ms);
      cpu.get(c.label)!.own.push((childCpuSeconds() - own) * 1000);
      cpu.get(c.label)!.emulator.push((cpuSecondsOf(emulatorPid) - emulator) * 1000);
    }
  }
});

const stat = (label: string) => {
  const t = times.get(label) ?? [];
  return { median: median(t), min: t.length ? Math.min(...t) : undefined };
};
const verdict = (value: number | undefined, target: number) => (value === undefined ? '' : value <= target ? 'met' : 'NOT met');
const rows: string[][] = [['', 'median ms', 'min ms', 'CPU ms', 'BMCs CPU ms', 'target', '']];
const row = (label: string, target?: number) => {
  const s = stat(label);
  const failed = failures.get(label)!;
  const { own, emulator } = cpu.get(label)!;
  rows.push([
    `  ${label}`,
    cell(s.median, 1),
    cell(s.min, 1),
    cell(mean(own), 0),
    cell(mean(emulator), 0),
    target === undefined ? '' : `≤ ${target} ms`,
    (target === undefined ? '' : verdict(s.median, target)) + (failed.length ? `  ${failed.length} failed: ${failed[0]}` : ''),
  ]);
};
const ratio = (label: string, of: string, over: string, target: number) => {
  const a = stat(of);
  const b = stat(over);
  const med = a.median !== undefined && b.median !== undefined ? a.median / b.median : undefined;
  const min = a.min !== undefined && b.min !== undefined ? a.min / b.min : undefined;
  rows.push([`  ${label}`, cell(med, 2), cell(min, 2), '', '', `≤ ${target}×`, verdict(med, target)]);
};

const [anvilSingle, ipmitool, anvilHelp, pxemngrHelp, nodeStart, anvilFleet, ipmipower] = [
  commands[0]!.label,
  'ipmitool, the same options',
  'anvil --help',
  'pxemngr --help',
  "node -e 0 (Node's own start)",
  commands.find((c) => c.label.startsWith('anvil ipmi -H') && c.label.includes('['))!.label,
  `ipmipower -h ${fleetHosts} -I ${SUITE}`,
];
rows.push(['one BMC: power status over lanplus']);
row(anvilSingle);
if (haveIpmitool) {
  row(ipmitool);
  ratio('anvil / ipmitool', anvilSingle, ipmitool, SINGLE_RATIO_TARGET);
}
rows.push(['usage text']);
row(anvilHelp, HELP_TARGET_MS);
row(pxemngrHelp, HELP_TARGET_MS);
row(nodeStart);
rows.push([`${FLEET.count} BMCs: power status over lanplus, cipher suite ${SUITE}`]);
row(anvilFleet);
if (haveIpmipower) {
  row(ipmipower);
  ratio('anvil / ipmipower', anvilFleet, ipmipower, FLEET_RATIO_TARGET);
  // What no Node client can beat on this machine: its first datagram leaves after Node's own
  // start, and the one emulator process then needs at least the CPU it spent on the cheaper of
  // the two runs to answer the whole fleet. Above ipmipower's time, the target is out of reach
  // here whatever the client does (a faster emulator would lower it).
  const served = Math.min(mean(cpu.get(anvilFleet)!.emulator) ?? Infinity, mean(cpu.get(ipmipower)!.emulator) ?? Infinity);
  const nodeMedian = stat(nodeStart).median;
  const ipmipowerMedian = stat(ipmipower).median;
  if (nodeMedian !== undefined && ipmipowerMedian !== undefined && Number.isFinite(served)) {
    const floor = nodeMedian + served;
    rows.push(["  a Node client's floor: node -e 0 + the BMCs' CPU", cell(floor, 1), '', '', '', '', `${cell(floor / ipmipowerMedian, 2)}× ipmipower`]);
  }
}
out(table(rows.map((r) => (r.length === 1 ? [r[0]!, '', '', '', '', '', ''] : r))));
out('CPU ms: user+system of the command (mean; 10 ms ticks); BMCs CPU ms: of the emulator process while it served the command');
out(`load ${loadAverage()} at the end`);
