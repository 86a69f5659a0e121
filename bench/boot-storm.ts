// Boot storm: a thousand simulated PXE machines boot at once from one anvil, and the same
// kernel and initrd are then fetched from anvil and from Debian's nginx, same client, same run.
//
//   source scripts/env.sh && node bench/boot-storm.ts [--clients 1000] [--artifact-mib 30]
//                                                      [--verify-every 50] [--json FILE]
//
// Needs root (network namespaces), nginx and Debian's ipxe (/usr/lib/ipxe/undionly.kpxe).
// `bin/anvil serve` runs in its own namespace as the DHCP server (a range of --clients
// addresses), TFTP server and HTTP server of a private link; the machines run in one client
// process in a second namespace at the link's other end (bench/lib/storm-net.ts says why
// their addresses are routed). Every machine is enrolled with a next-boot profile whose
// kernel and initrd (random bytes, a third and two thirds of --artifact-mib) it downloads.
// Each machine does DISCOVER/OFFER/REQUEST/ACK as a PXE ROM, TFTP of undionly.kpxe, iPXE's
// own DHCP exchange, GET /boot/<mac>, and GET of the kernel and initrd the script names
// (bench/lib/pxe-client.ts). Figures are per step; the client's own CPU is in every
// latency (one Node process plays all the machines on the same cores as the servers).
// Then all machines at once fetch the kernel and initrd alone, from anvil and from nginx.
// Everything (namespaces, processes, temp dir) is removed at the end, on error and on Ctrl-C.
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, closeSync, existsSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openServices } from '../src/app/compose.ts';
import { ipToNumber, numberToIp } from '../src/protocols/dhcp/index.ts';
import { loadArtifacts, type LoadResult } from './lib/artifact-load.ts';
import { DhcpPort } from './lib/dhcp-port.ts';
import { Nginx } from './lib/nginx.ts';
import { cpuSecondsOf, memoryOf, treeCpuSeconds } from './lib/proc.ts';
import { bootClient, sha256, stormMac, type BootPlan, type ClientResult } from './lib/pxe-client.ts';
import { cell, GiB, MiB, mibPerSecond, percentile } from './lib/stats.ts';
import { printLoads, printSteps, stormArtifacts, type ServerLoad } from './lib/storm-report.ts';
import { StormNetwork } from './lib/storm-net.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const ANVIL = join(ROOT, 'bin/anvil');
const LOADER = '/usr/lib/ipxe/undionly.kpxe';
const ANVIL_HTTP_PORT = 8080;
const NGINX_PORT = 8081;
/** How long `anvil serve` may take to say it is serving. */
const ANVIL_START_TIMEOUT_MS = 60_000;

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    'artifact-mib': { type: 'string', default: '30' },
    'verify-every': { type: 'string', default: '50' },
    'log-level': { type: 'string', default: 'info' },
    json: { type: 'string' },
    // Internal: a client phase, run by this same file inside the clients' namespace.
    phase: { type: 'string' },
    spec: { type: 'string' },
    out: { type: 'string' },
  },
});

interface StormSpec {
  readonly clients: number;
  readonly plan: Omit<BootPlan, 'loader'> & { readonly loaderPath: string };
}
interface StormOutcome {
  readonly results: ClientResult[];
  readonly wallMs: number;
  readonly stray: number;
}
interface LoadSpec {
  readonly files: { url: string; bytes: number }[];
  readonly sources: string[];
}

/** Client side of the storm: every machine starts at once; one DHCP socket for all. */
async function stormPhase(spec: StormSpec): Promise<StormOutcome> {
  const plan: BootPlan = { ...spec.plan, loader: readFileSync(spec.plan.loaderPath) };
  const port = await DhcpPort.open();
  try {
    const start = performance.now();
    const results = await Promise.all(Array.from({ length: spec.clients }, (_, i) => bootClient(i, port, plan)));
    return { results, wallMs: performance.now() - start, stray: port.stray };
  } finally {
    port.close();
  }
}

interface Prepared {
  readonly data: string;
  readonly www: string;
  readonly kernel: { bytes: number; sha256: string };
  readonly initrd: { bytes: number; sha256: string };
  readonly enrolMs: number;
}

/** The data dir: profiles, artifacts (hard-linked into nginx's root: same inodes, same page cache), machines. */
async function prepare(dir: string, clients: number, artifactBytes: number): Promise<Prepared> {
  const data = join(dir, 'data');
  const profiles = join(data, 'tftp/pxelinux.cfg/profiles');
  const artifacts = join(data, 'tftp/storm');
  const www = join(dir, 'www');
  for (const d of [profiles, join(data, 'tests'), artifacts, join(www, 'storm')]) mkdirSync(d, { recursive: true });
  // nginx's workers run as nobody: they need the way in to www and the files' contents.
  for (const d of [dir, www, join(www, 'storm')]) chmodSync(d, 0o755);
  writeFileSync(join(profiles, 'local.prof'), 'LOCALBOOT 0\n');
  writeFileSync(
    join(profiles, 'storm.prof'),
    'DEFAULT storm\nLABEL storm\n  KERNEL storm/vmlinuz\n  INITRD storm/initrd.img\n  APPEND console=ttyS0 anvil.system={{ system }}\n',
  );
  const kernelBytes = Math.round(artifactBytes / 3);
  const files = { kernel: { name: 'vmlinuz', bytes: kernelBytes }, initrd: { name: 'initrd.img', bytes: artifactBytes - kernelBytes } };
  const sums: Record<string, string> = {};
  for (const [key, f] of Object.entries(files)) {
    const content = randomBytes(f.bytes);
    sums[key] = sha256(content);
    writeFileSync(join(artifacts, f.name), content, { mode: 0o644 });
    linkSync(join(artifacts, f.name), join(www, 'storm', f.name));
  }
  const started = performance.now();
  const s = await openServices({ data });
  try {
    await s.profiles.sync(new Date().toISOString());
    for (let i = 0; i < clients; i++) {
      const name = `storm-${String(i).padStart(5, '0')}`;
      await s.machines.add(name, [stormMac(i)]);
      await s.nextBoot.set(name, 'storm');
    }
  } finally {
    await s.close();
  }
  return {
    data,
    www,
    kernel: { bytes: files.kernel.bytes, sha256: sums.kernel! },
    initrd: { bytes: files.initrd.bytes, sha256: sums.initrd! },
    enrolMs: performance.now() - started,
  };
}

/** `bin/anvil serve` in the server's namespace, its log in a file; resolves once it serves. */
async function startAnvil(net: StormNetwork, data: string, log: string, logLevel: string): Promise<ChildProcess> {
  const fd = openSync(log, 'a');
  const child = net.spawn(
    net.server,
    ANVIL,
    [
      'serve',
      '--data',
      data,
      '--http',
      `${net.serverAddress}:${ANVIL_HTTP_PORT}`,
      '--tftp',
      `${net.serverAddress}:69`,
      '--dhcp',
      'server',
      '--dhcp-interface',
      net.serverInterface,
      '--dhcp-range',
      `${net.rangeStart}-${net.rangeEnd}`,
      '--log-level',
      logLevel,
      // The machines have no BMC: a power sync would only add noise.
      '--power-sync-interval',
      '0',
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const deadline = performance.now() + ANVIL_START_TIMEOUT_MS;
  while (!/anvil is serving/.test(readFileSync(log, 'utf8'))) {
    if (child.exitCode !== null || performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`anvil serve did not start:\n${readFileSync(log, 'utf8').slice(-3000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return child;
}

/** Runs one client phase in the clients' namespace: this file again, with --phase. */
async function clientPhase<T>(net: StormNetwork, dir: string, phase: 'storm' | 'load', spec: unknown): Promise<T> {
  const specPath = join(dir, `${phase}-spec.json`);
  const outPath = join(dir, `${phase}-out.json`);
  rmSync(outPath, { force: true });
  writeFileSync(specPath, JSON.stringify(spec));
  const child = net.spawn(net.clients, process.execPath, [...process.execArgv, import.meta.filename, '--phase', phase, '--spec', specPath, '--out', outPath], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0 || !existsSync(outPath)) throw new Error(`the ${phase} client phase exited with ${code}`);
  return JSON.parse(readFileSync(outPath, 'utf8')) as T;
}

/**
 * What anvil logged (pino JSON lines): replies, transfers and boots served, warnings and
 * errors, and its own time for each /boot/<mac> (Fastify's responseTime, matched to the
 * request's URL by reqId): the script step's latency less what the network and client add.
 */
function logSummary(log: string): { counts: Record<string, number>; scriptMs: number[] } {
  const counts: Record<string, number> = { 'dhcp reply': 0, 'tftp transfer': 0, 'boot served': 0, 'warn+': 0 };
  const scripts = new Set<string>();
  const scriptMs: number[] = [];
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { msg?: string; level?: number; reqId?: string; req?: { url?: string }; responseTime?: number };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue; // not a log line
    }
    if (entry.msg !== undefined && entry.msg in counts) counts[entry.msg]!++;
    if ((entry.level ?? 0) >= 40) counts['warn+']!++;
    if (entry.msg === 'incoming request' && entry.reqId !== undefined && entry.req?.url?.startsWith('/boot/')) scripts.add(entry.reqId);
    if (entry.msg === 'request completed' && entry.reqId !== undefined && scripts.has(entry.reqId) && entry.responseTime !== undefined)
      scriptMs.push(entry.responseTime);
  }
  return { counts, scriptMs };
}

async function measureLoad(net: StormNetwork, dir: string, spec: LoadSpec, cpu: () => number): Promise<ServerLoad> {
  const before = cpu();
  const result = await clientPhase<LoadResult>(net, dir, 'load', spec);
  return { result, cpuSeconds: cpu() - before };
}

async function bench(clients: number, artifactMiB: number, verifyEvery: number, logLevel: string): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('the boot storm needs root: it builds network namespaces');
  for (const [what, ok] of [
    ['nginx (apt-get install nginx-light)', commandExists('nginx')],
    [`${LOADER} (apt-get install ipxe)`, existsSync(LOADER)],
  ] as const) {
    if (!ok) throw new Error(`missing ${what}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'anvil-bench-storm-'));
  let net: StormNetwork | undefined;
  const cleanUp = () => {
    net?.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanUp);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      cleanUp();
      process.exit(code);
    });
  }
  let anvil: ChildProcess | undefined;
  let nginx: Nginx | undefined;
  try {
    const artifactBytes = Math.round(artifactMiB * MiB);
    const prepared = await prepare(dir, clients, artifactBytes);
    net = StormNetwork.create({ leases: clients });
    const log = join(dir, 'anvil.log');
    anvil = await startAnvil(net, prepared.data, log, logLevel);
    const server = net;
    nginx = await Nginx.start({
      dir: join(dir, 'nginx'),
      root: prepared.www,
      listen: `${net.serverAddress}:${NGINX_PORT}`,
      connections: clients,
      spawn: (command, args) => server.spawn(server.server, command, args, { stdio: ['ignore', 'ignore', 'pipe'] }),
    });

    console.log(`Boot storm: ${clients} PXE machines at once against one anvil (DHCP server, TFTP, HTTP), then the artifacts alone from anvil and from nginx`);
    console.log(
      `kernel ${(prepared.kernel.bytes / MiB).toFixed(1)} MiB + initrd ${(prepared.initrd.bytes / MiB).toFixed(1)} MiB per machine; loader ${LOADER} over TFTP; node ${process.version}, ${nginxVersion()}; ${clients} machines enrolled in ${(prepared.enrolMs / 1000).toFixed(1)} s`,
    );
    console.log(`anvil log level ${logLevel}; artifacts of every ${verifyEvery === 1 ? '' : `${verifyEvery}th `}machine checked by sha256, all by length\n`);

    const anvilPid = anvil.pid!;
    const countersBefore = { server: net.counters(net.server), clients: net.counters(net.clients) };
    const cpuBefore = cpuSecondsOf(anvilPid);
    const storm = await clientPhase<StormOutcome>(net, dir, 'storm', {
      clients,
      plan: { loaderName: 'undionly.kpxe', loaderPath: LOADER, kernel: prepared.kernel, initrd: prepared.initrd, verifyEvery },
    } satisfies StormSpec);
    const stormCpu = cpuSecondsOf(anvilPid) - cpuBefore;
    const stormMemory = memoryOf(anvilPid);
    const countersAfter = { server: net.counters(net.server), clients: net.counters(net.clients) };
    const delta = (side: 'server' | 'clients', name: string) => (countersAfter[side][name] ?? 0) - (countersBefore[side][name] ?? 0);
    const drops = (side: 'server' | 'clients') => delta(side, 'Udp.RcvbufErrors');

    const figures = printSteps(storm.results);
    const booted = storm.results.filter((r) => r.failed === undefined).length;
    const artifacts = stormArtifacts(storm.results);
    const { counts: logged, scriptMs } = logSummary(log);
    console.log(
      `\nwall time ${(storm.wallMs / 1000).toFixed(1)} s; ${booted}/${clients} machines booted; errors ${clients - booted}; DHCP replies nobody waited for: ${storm.stray}`,
    );
    console.log(
      `anvil: CPU ${stormCpu.toFixed(1)} s during the storm; resident ${stormMemory.rssMiB.toFixed(0)} MiB after it, peak ${stormMemory.peakMiB.toFixed(0)} MiB`,
    );
    console.log(
      `anvil logged ${logged['dhcp reply']} DHCP replies, ${logged['tftp transfer']} TFTP transfers, ${logged['boot served']} boots served, ${logged['warn+']} warnings or errors`,
    );
    console.log(
      `anvil's own time per /boot/<mac> (its log's responseTime): p50 ${cell(percentile(scriptMs, 0.5))} ms, p99 ${cell(percentile(scriptMs, 0.99))} ms, ${scriptMs.length} requests`,
    );
    console.log(`UDP receive-buffer drops: ${drops('server')} at anvil's end, ${drops('clients')} at the machines' end`);
    console.log(
      `TCP at anvil's end: listen queue overflowed ${delta('server', 'TcpExt.ListenOverflows')} times (a dropped SYN is resent after 1, 3, 7… s), ${delta('server', 'Tcp.RetransSegs')} segments resent, ${delta('server', 'TcpExt.TCPTimeouts')} retransmission timeouts`,
    );
    console.log(
      `HTTP artifacts during the storm: ${(artifacts.bytes / GiB).toFixed(2)} GiB in ${(artifacts.ms / 1000).toFixed(1)} s (first request to last byte) = ${mibPerSecond(artifacts.bytes, artifacts.ms).toFixed(0)} MiB/s`,
    );

    // The artifacts alone, from each server, with the same client and concurrency.
    const first = ipToNumber(net.rangeStart);
    const sources = Array.from({ length: clients }, (_, i) => numberToIp(first + i));
    const files = (base: string) => [
      { url: `${base}/storm/vmlinuz`, bytes: prepared.kernel.bytes },
      { url: `${base}/storm/initrd.img`, bytes: prepared.initrd.bytes },
    ];
    const anvilLoad = await measureLoad(net, dir, { files: files(`http://${net.serverAddress}:${ANVIL_HTTP_PORT}/tftp`), sources }, () =>
      cpuSecondsOf(anvilPid),
    );
    const nginxPid = nginx.pid;
    const nginxLoad = await measureLoad(net, dir, { files: files(`http://${net.serverAddress}:${NGINX_PORT}`), sources }, () => treeCpuSeconds(nginxPid));
    console.log(`\nHTTP artifacts alone: ${clients} machines at once, each the kernel then the initrd over one keep-alive connection`);
    const ratio = printLoads({ anvil: anvilLoad, nginx: nginxLoad });
    console.log(
      `anvil/nginx throughput ×${ratio.toFixed(2)}; anvil resident ${memoryOf(anvilPid).rssMiB.toFixed(0)} MiB after, peak ${memoryOf(anvilPid).peakMiB.toFixed(0)} MiB`,
    );

    const errors = clients - booted + anvilLoad.result.errors + nginxLoad.result.errors;
    if (values.json !== undefined) {
      writeFileSync(
        values.json,
        JSON.stringify(
          {
            clients,
            artifactBytes,
            namespaces: [net.server, net.clients],
            steps: figures,
            wallMs: storm.wallMs,
            booted,
            errors: clients - booted,
            stray: storm.stray,
            anvil: {
              cpuSeconds: stormCpu,
              ...stormMemory,
              logged,
              scriptMs: { p50: percentile(scriptMs, 0.5), p99: percentile(scriptMs, 0.99), n: scriptMs.length },
            },
            udpDrops: { server: drops('server'), clients: drops('clients') },
            listenOverflows: delta('server', 'TcpExt.ListenOverflows'),
            stormArtifacts: artifacts,
            load: { anvil: anvilLoad, nginx: nginxLoad, ratio },
          },
          null,
          1,
        ),
      );
    }
    return errors === 0 ? 0 : 1;
  } finally {
    await nginx?.stop();
    if (anvil && anvil.exitCode === null) {
      const exited = once(anvil, 'exit');
      anvil.kill('SIGTERM');
      await exited;
    }
    cleanUp();
    process.off('exit', cleanUp);
  }
}

function commandExists(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** nginx -v prints its version on stderr. */
function nginxVersion(): string {
  return spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim();
}

// Dispatch last: everything above must be initialised first.
if (values.phase !== undefined) {
  const spec = JSON.parse(readFileSync(values.spec!, 'utf8')) as unknown;
  const out = values.phase === 'storm' ? await stormPhase(spec as StormSpec) : await loadArtifacts((spec as LoadSpec).files, (spec as LoadSpec).sources);
  writeFileSync(values.out!, JSON.stringify(out));
} else {
  const clients = Number(values.clients);
  const artifactMiB = Number(values['artifact-mib']);
  const verifyEvery = Number(values['verify-every']);
  if (!Number.isSafeInteger(clients) || clients < 1) throw new Error(`--clients '${values.clients}' must be a positive whole number`);
  if (!(artifactMiB > 0)) throw new Error(`--artifact-mib '${values['artifact-mib']}' must be a positive number`);
  if (!Number.isSafeInteger(verifyEvery) || verifyEvery < 1) throw new Error(`--verify-every '${values['verify-every']}' must be a positive whole number`);
  process.exitCode = await bench(clients, artifactMiB, verifyEvery, values['log-level']!);
}
