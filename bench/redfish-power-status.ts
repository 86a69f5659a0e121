// Power status of a fleet of emulated Redfish BMCs over HTTPS: anvil's client with session
// reuse, the same client without it, and DMTF's redfishtool on a sample (one process per BMC,
// extrapolated). Prints absolute times, the ratios, the load average and memory.
//
//   source scripts/env.sh && node bench/redfish-power-status.ts [--count 1000] [--runs 3] [--sample 20] [--fanout 64] [--port 12000] [--keep-alive 300] [--no-peers] [--json FILE]
//
// The BMCs are `bin/anvil bmc redfish --count N` in one separate process on 127.0.0.1, ports
// P..P+N-1, with the certificate it generates; anvil verifies it against the CA written out
// (--cert-out), never with verification off. Each way of asking gets a fresh emulator, warmed
// by one unmeasured pass of that way, then `--runs` measured passes over every BMC, `--fanout`
// BMCs at a time; every pass is printed with the 1-minute load average, then best and median.
// A BMC counts only if it answered PowerState "Off" (the emulator's initial state). The
// emulator keeps idle connections for --keep-alive seconds (300 by default, longer than a
// pass), so a client that keeps its connections finds them still open in the next pass
// whatever the machine's load; with a short one (its own default is 5 s) a pass that takes
// longer reconnects, and the "TLS connections" column shows it.
//
//   anvil, session reuse   one RedfishClient per BMC kept across passes: after the first pass
//                          (service root, SessionService login, Systems) a poll is one GET of the
//                          system on a kept-alive TLS connection with its X-Auth-Token.
//   anvil, new session     a new client per poll: TLS handshake, service root, session login,
//                          Systems, the system, and logout (DELETE of the session) — what a poller
//                          that does not keep sessions does, logging out so the BMC's few session
//                          slots do not fill up.
//   anvil, Basic           a new client per poll with HTTP Basic on every request: TLS handshake,
//                          service root, Systems, the system; no session to log out of.
//   redfishtool            `redfishtool -S Always Systems get -P PowerState`, one process per BMC
//                          (its default Basic auth: service root, Systems, the system).
import { spawnSync } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RedfishClient } from '../src/protocols/redfish/client.ts';
import type { RedfishClientOptions } from '../src/protocols/redfish/client.ts';
import type { RedfishPowerState } from '../src/protocols/redfish/constants.ts';
import { havePeer, loadAverage as load, portsOf } from './lib/bmc-fleet.ts';
import type { Run } from './lib/bmc-fleet.ts';
import { cpuSecondsOf, memoryOf } from './lib/proc.ts';
import { HOST, PASSWORD, USER, withRedfishFleet } from './lib/redfish-fleet.ts';
import type { RunningFleet } from './lib/redfish-fleet.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    sample: { type: 'string', default: '20' },
    fanout: { type: 'string', default: '64' },
    port: { type: 'string', default: '12000' },
    'keep-alive': { type: 'string', default: '300' },
    'no-peers': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const COUNT = Number(values.count);
const RUNS = Math.max(1, Number(values.runs));
const SAMPLE = Math.min(Number(values.sample), COUNT);
const FANOUT = Math.max(1, Number(values.fanout));
const FLEET = { basePort: Number(values.port), count: COUNT, keepAliveS: Number(values['keep-alive']) };
/** RSS is sampled this often during a pass (reading it per BMC would cost a syscall each). */
const RSS_SAMPLE_MS = 25;
/** Each redfishtool process is killed after this long (its own -T is per request). */
const REDFISHTOOL_TIMEOUT_MS = 60_000;

const dir = mkdtempSync(join(tmpdir(), 'anvil-bench-redfish-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const ports = portsOf(FLEET);

const MODES = {
  reuse: 'anvil, session reuse',
  session: 'anvil, new session',
  basic: 'anvil, Basic',
} as const;
type Mode = keyof typeof MODES;

interface ClientRun extends Run {
  readonly peakRssMiB: number;
  readonly rssBeforeMiB: number;
  readonly cpuS: number;
  readonly emulatorCpuS: number;
  /** TCP connections the client opened in the pass (each one a TLS handshake). */
  readonly connections: number;
  readonly firstError?: string;
}

/** One poll of a BMC, as a mode does it. */
type Poll = (port: number) => Promise<RedfishPowerState>;

/** Every BMC polled once, FANOUT at a time, with the client's CPU, memory and connections. */
async function pass(poll: Poll, emulatorPid: number): Promise<ClientRun> {
  let connections = 0;
  const onSocket = (): void => void connections++;
  subscribe('net.client.socket', onSocket);
  const rssBefore = process.memoryUsage.rss();
  let peakRss = rssBefore;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), RSS_SAMPLE_MS);
  const cpu = process.cpuUsage();
  const emulatorBefore = cpuSecondsOf(emulatorPid);
  const errors = new Map<string, number>();
  let firstError: string | undefined;
  let ok = 0;
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < ports.length) {
      const port = ports[next++]!;
      try {
        const state = await poll(port);
        if (state === 'Off') ok++;
        else errors.set(`answered ${state}`, (errors.get(`answered ${state}`) ?? 0) + 1);
      } catch (error) {
        const code = (error as { code?: string }).code ?? (error as Error).name;
        errors.set(code, (errors.get(code) ?? 0) + 1);
        firstError ??= `${port}: ${(error as Error).message}`;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FANOUT, COUNT) }, worker));
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const emulatorCpuS = cpuSecondsOf(emulatorPid) - emulatorBefore;
  clearInterval(sampler);
  unsubscribe('net.client.socket', onSocket);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  return {
    ms,
    ok,
    errors,
    load: load(),
    peakRssMiB: peakRss / 2 ** 20,
    rssBeforeMiB: rssBefore / 2 ** 20,
    cpuS: (used.user + used.system) / 1e6,
    emulatorCpuS,
    connections,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

const endpoint = (port: number, ca: string) => ({ url: `https://${HOST}:${port}`, username: USER, password: PASSWORD, ca });

/** The poll of a mode, and what to do once its passes are over. */
function modePoll(mode: Mode, fleet: RunningFleet): { poll: Poll; done: () => Promise<void> } {
  if (mode === 'reuse') {
    const clients = new Map(ports.map((port) => [port, new RedfishClient(endpoint(port, fleet.ca))]));
    return {
      poll: (port) => clients.get(port)!.getPowerState(),
      // Logs every session out, as a conductor does when it stops.
      done: async () => void (await Promise.all([...clients.values()].map((c) => c.close()))),
    };
  }
  const options: RedfishClientOptions = mode === 'basic' ? { auth: 'basic' } : {};
  return {
    poll: async (port) => {
      const client = new RedfishClient(endpoint(port, fleet.ca), options);
      try {
        return await client.getPowerState();
      } finally {
        await client.close(); // the session's logout is part of the poll
      }
    },
    done: async () => {},
  };
}

interface ModeResult {
  readonly warm: ClientRun;
  readonly runs: ClientRun[];
  readonly emulatorRssMiB: number;
  readonly emulatorPeakMiB: number;
  readonly emulatorStartS: number;
}

async function runMode(mode: Mode): Promise<ModeResult> {
  return withRedfishFleet(FLEET, dir, async (fleet) => {
    const { poll, done } = modePoll(mode, fleet);
    const label = MODES[mode].padEnd(21);
    // JIT warm-up of client and emulator; for session reuse it is also the pass that logs in.
    const warm = await pass(poll, fleet.pid);
    out(`  ${label} warm-up ${fmt(warm.ms).padStart(8)}  ${warm.ok}/${COUNT} ok  load ${warm.load}  ${warm.connections} connections${errorText(warm.errors)}`);
    if (warm.firstError) out(`    first error: ${warm.firstError}`);
    const runs: ClientRun[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await pass(poll, fleet.pid);
      runs.push(r);
      out(
        `  ${label} run ${i + 1}   ${fmt(r.ms).padStart(8)}  ${r.ok}/${COUNT} ok  load ${r.load}  client CPU ${r.cpuS.toFixed(2)} s, emulator CPU ${r.emulatorCpuS.toFixed(2)} s, ${r.connections} TLS connections, peak RSS ${r.peakRssMiB.toFixed(0)} MiB${errorText(r.errors)}`,
      );
      if (r.firstError) out(`    first error: ${r.firstError}`);
    }
    await done();
    const emulator = memoryOf(fleet.pid);
    return { warm, runs, emulatorRssMiB: emulator.rssMiB, emulatorPeakMiB: emulator.peakMiB, emulatorStartS: fleet.startS };
  });
}

/** redfishtool's own words on what it could not do, for the errors table. */
function firstLine(text: string, status: number | null): string {
  return (text.trim().split('\n')[0] ?? '') || `exit ${status}`;
}

/**
 * The redfishtool command for one BMC. Its password is on the command line: redfishtool 1.1.5
 * takes it only from -p (its -c config file option is parsed but never read, and it reads no
 * environment variable). That is acceptable here only because PASSWORD is the emulator's
 * throwaway password for BMCs that live for this run; never do it with a real BMC's password.
 * -S Always: HTTPS for every request. redfishtool cannot verify the certificate at all (it
 * calls requests with verify=False, hard-coded, and has no CA option), so it trusts any BMC.
 */
const redfishtoolArgs = (port: number): string[] => ['-r', `${HOST}:${port}`, '-u', USER, '-p', PASSWORD, '-S', 'Always', 'Systems', 'get', '-P', 'PowerState'];

/** CPU seconds of this process's children that have been waited for (cutime + cstime): the redfishtool processes. */
function reapedChildrenCpuS(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function redfishtoolRun(emulatorPid: number): Run & { readonly cpuS: number; readonly emulatorCpuS: number } {
  const errors = new Map<string, number>();
  let ok = 0;
  const cpuBefore = reapedChildrenCpuS();
  const emulatorBefore = cpuSecondsOf(emulatorPid);
  const started = performance.now();
  for (const port of ports.slice(0, SAMPLE)) {
    const r = spawnSync('redfishtool', redfishtoolArgs(port), { encoding: 'utf8', timeout: REDFISHTOOL_TIMEOUT_MS });
    let state: unknown;
    try {
      state = (JSON.parse(r.stdout) as { PowerState?: unknown }).PowerState;
    } catch {
      state = undefined;
    }
    if (state === 'Off') ok++;
    else {
      const why = state === undefined ? firstLine(r.stderr, r.status) : `answered ${String(state)}`;
      errors.set(why, (errors.get(why) ?? 0) + 1);
    }
  }
  const ms = performance.now() - started;
  return { ms, ok, errors, load: load(), cpuS: reapedChildrenCpuS() - cpuBefore, emulatorCpuS: cpuSecondsOf(emulatorPid) - emulatorBefore };
}

/** Peak RSS of one redfishtool process (getrusage of a child, through Python's resource module), in MiB. */
function redfishtoolPeakMiB(port: number): number | undefined {
  const script =
    'import resource,subprocess,sys\nsubprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL)\nprint(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)';
  const r = spawnSync('python3', ['-c', script, 'redfishtool', ...redfishtoolArgs(port)], { encoding: 'utf8', timeout: REDFISHTOOL_TIMEOUT_MS });
  const kib = Number(r.stdout.trim());
  return r.status === 0 && kib > 0 ? kib / 1024 : undefined;
}

const fmt = (ms: number) => (ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`);
const out = (line: string) => process.stdout.write(`${line}\n`);
const errorText = (errors: ReadonlyMap<string, number>) => (errors.size === 0 ? '' : `  errors: ${[...errors].map(([k, n]) => `${n}× ${k}`).join(', ')}`);
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
interface Summary {
  readonly best: number;
  readonly median: number;
  /** Median CPU seconds of a pass, client and emulator: less swayed by other work on the machine than wall time. */
  readonly cpuS: number;
}
/** Best and median of the complete passes (every BMC answered "Off"); incomplete ones are listed, never ranked. */
function summary(runs: readonly ClientRun[], of: number): Summary | undefined {
  const complete = runs.filter((r) => r.ok === of);
  if (complete.length === 0) return undefined;
  const ms = complete.map((r) => r.ms);
  return { best: Math.min(...ms), median: median(ms), cpuS: median(complete.map((r) => r.cpuS + r.emulatorCpuS)) };
}
const summaryText = (s: Summary | undefined) =>
  s
    ? `best ${fmt(s.best)}, median ${fmt(s.median)} (${((COUNT / s.best) * 1000).toFixed(0)} BMCs/s); CPU ${s.cpuS.toFixed(2)} s per pass, client and emulator`
    : `no complete run of ${RUNS}`;

out(
  `Redfish power status of ${COUNT} emulated BMCs (anvil bmc redfish --count ${COUNT}, one separate process), HTTPS on loopback, fanout ${FANOUT}, emulator keep-alive ${FLEET.keepAliveS} s, ${availableParallelism()} CPUs, load ${load()} at start`,
);

const results = {} as Record<Mode, ModeResult>;
const summaries = {} as Record<Mode, Summary | undefined>;
for (const mode of Object.keys(MODES) as Mode[]) {
  results[mode] = await runMode(mode);
  summaries[mode] = summary(results[mode].runs, COUNT);
  out(`  ${MODES[mode].padEnd(21)} ${summaryText(summaries[mode])}`);
}
const reuse = summaries.reuse;
const ratio = (other: Summary | undefined, name: string) =>
  reuse && other
    ? `  ratio                 ${name} / session reuse = ${(other.best / reuse.best).toFixed(1)} (best runs), ${(other.median / reuse.median).toFixed(1)} (medians), ${(other.cpuS / reuse.cpuS).toFixed(1)} (CPU)`
    : `  ratio                 ${name} / session reuse: none (no complete run)`;
out(ratio(summaries.session, 'new session'));
out(ratio(summaries.basic, 'Basic'));
// The modes run one after another in this process: a mode's RSS starts where the one before
// left it (the garbage collector returns memory lazily), so each is given as its peak and as
// its growth over its own start.
const firstRss = results.reuse.warm.rssBeforeMiB;
out(`  anvil memory          ${firstRss.toFixed(0)} MiB RSS before the first pass (Node, the TypeScript loader, the bench); client peak RSS per mode:`);
for (const mode of Object.keys(MODES) as Mode[]) {
  const r = results[mode];
  const peak = Math.max(...[r.warm, ...r.runs].map((run) => run.peakRssMiB));
  out(
    `    ${MODES[mode].padEnd(21)} ${peak.toFixed(0)} MiB, +${(peak - r.warm.rssBeforeMiB).toFixed(0)} MiB over its start (${r.warm.rssBeforeMiB.toFixed(0)} MiB); emulator RSS then ${r.emulatorRssMiB.toFixed(0)} MiB`,
  );
}
out(
  `  emulator              ${COUNT} BMCs in one process: peak RSS ${Math.max(...Object.values(results).map((r) => r.emulatorPeakMiB)).toFixed(0)} MiB, ${((Math.max(...Object.values(results).map((r) => r.emulatorPeakMiB)) / COUNT) * 1024).toFixed(0)} KiB per BMC; started in ${results.reuse.emulatorStartS.toFixed(1)} s (certificate included)`,
);

const haveRedfishtool = !values['no-peers'] && havePeer('redfishtool', ['-V']);
let redfishtool: { run: ReturnType<typeof redfishtoolRun>; perHostMs: number; peakMiB: number | undefined } | undefined;
if (haveRedfishtool && SAMPLE > 0) {
  redfishtool = await withRedfishFleet(FLEET, dir, (fleet) => {
    const run = redfishtoolRun(fleet.pid);
    return { run, perHostMs: run.ms / SAMPLE, peakMiB: redfishtoolPeakMiB(ports[0]!) };
  });
  const { run, perHostMs, peakMiB } = redfishtool;
  const cpuAll = ((run.cpuS + run.emulatorCpuS) / SAMPLE) * COUNT;
  out(
    `  redfishtool (serial)  ${fmt(run.ms).padStart(8)}  ${run.ok}/${SAMPLE} ok on a sample of ${SAMPLE}, load ${run.load}; ${perHostMs.toFixed(0)} ms each, ~${fmt(perHostMs * COUNT)} for all ${COUNT}; CPU ${((run.cpuS / SAMPLE) * 1000).toFixed(0)} ms per process + emulator ${((run.emulatorCpuS / SAMPLE) * 1000).toFixed(0)} ms per BMC, ~${cpuAll.toFixed(0)} s for all; peak RSS ${peakMiB === undefined ? '?' : peakMiB.toFixed(0)} MiB per process${errorText(run.errors)}`,
  );
  out('  redfishtool TLS       not verified: redfishtool 1.1.5 has verify=False hard-coded and no CA option (anvil verified every connection)');
  if (reuse)
    out(
      `  ratio                 redfishtool (extrapolated) / session reuse = ${((perHostMs * COUNT) / reuse.best).toFixed(0)} (best run), ${(cpuAll / reuse.cpuS).toFixed(0)} (CPU)`,
    );
} else if (!haveRedfishtool) {
  out('  redfishtool           not run (not installed, or --no-peers)');
}

if (values.json !== undefined) {
  const runJson = (r: ClientRun) => ({ ...r, errors: Object.fromEntries(r.errors) });
  writeFileSync(
    values.json,
    `${JSON.stringify(
      {
        count: COUNT,
        runs: RUNS,
        fanout: FANOUT,
        anvil: Object.fromEntries(
          (Object.keys(MODES) as Mode[]).map((mode) => [
            mode,
            { ...results[mode], warm: runJson(results[mode].warm), runs: results[mode].runs.map(runJson), summary: summaries[mode] ?? null },
          ]),
        ),
        redfishtool: redfishtool ? { ...redfishtool, run: { ...redfishtool.run, errors: Object.fromEntries(redfishtool.run.errors) }, sample: SAMPLE } : null,
      },
      null,
      2,
    )}\n`,
  );
}
