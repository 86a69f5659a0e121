// TFTP throughput: anvil against dnsmasq's TFTP server, same file, same clients, same run.
//
//   source scripts/env.sh && node bench/tftp.ts [--size-mib 64] [--runs 5] [--cpu N]
//
// Needs root (or unprivileged user namespaces), curl, tftp-hpa and dnsmasq. The bench
// re-executes itself in a private network namespace (unshare -n), so dnsmasq can have
// port 69 on that namespace's own loopback and no packet leaves it. A file of --size-mib
// random bytes is fetched by curl (blksize 512 and 1468) and tftp-hpa (512: it has no
// option support) from each server in rounds, order rotating; every fetch is checked
// byte-exact. Figures are best and median; a ratio is the median of per-round ratios.
// anvil's server runs in its own process, as in `serve`, with its default engine (auto:
// the native pump when it is built); a second anvil with the JS engine runs beside it.
//
// Lock-step on one host's loopback is CPU-bound, not network-bound: a block costs the
// server's CPU plus the client's plus two wake-ups. Where server and client sit on different
// CPUs that go idle between packets (a quiet VM), the wake-ups dominate (~20 µs each, an
// interrupt and a halt exit), which anvil's native pump avoids by busy-polling briefly
// (src/protocols/tftp/native/tftp_pump.c); pinned to one CPU (--cpu) they are context
// switches. So compare like with like: both modes are worth a run. The server CPU per block
// (user and system, from /proc, 10 ms ticks) says where time goes and is steadier than wall
// time on a busy machine. A bare lock-step server on node:dgram is
// measured too: the per-datagram floor of Node's UDP stack, which no server on it can go below.
// Then anvil's own client measures the windowsize (RFC 7440) gain: 1 against 8, 16 and 64.
//
// --cpu N pins both servers, every client and this process to CPU N: a lock-step transfer
// is a ping-pong of wake-ups, so on a busy machine one shared CPU gives steadier figures.
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createSocket } from 'node:dgram';
import { tftpGet } from '../src/protocols/tftp/client.ts';
import { RootDirectoryHandler } from '../src/protocols/tftp/root-handler.ts';
import type { TftpEngine } from '../src/protocols/tftp/native-pump.ts';
import { TftpServer } from '../src/protocols/tftp/server.ts';

const ANVIL_PORT = 6969;
const FLOOR_PORT = 6970;
const ANVIL_JS_PORT = 6971;
const DNSMASQ_PORT = 69; // dnsmasq has no option for another TFTP port; the namespace makes 69 private
const HOST = '127.0.0.1';
const IN_NAMESPACE = 'ANVIL_BENCH_IN_NETNS';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '64' },
    runs: { type: 'string', default: '5' },
    cpu: { type: 'string' },
    'serve-anvil': { type: 'string' },
    'serve-floor': { type: 'string' },
    port: { type: 'string' },
    engine: { type: 'string' },
  },
});

type Fetch = { readonly label: string; readonly blockSize: number; readonly args: (port: number, out: string) => [string, string[]] };

const FETCHES: readonly Fetch[] = [
  { label: 'curl  blksize 512 ', blockSize: 512, args: (port, out) => ['curl', ['-sS', '-o', out, `tftp://${HOST}:${port}/bench.bin`]] },
  {
    label: 'curl  blksize 1468',
    blockSize: 1468,
    args: (port, out) => ['curl', ['-sS', '--tftp-blksize', '1468', '-o', out, `tftp://${HOST}:${port}/bench.bin`]],
  },
  { label: 'tftp-hpa  (512)   ', blockSize: 512, args: (port, out) => ['tftp', ['-m', 'binary', HOST, String(port), '-c', 'get', 'bench.bin', out]] },
];

async function bench(sizeMiB: number, runs: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-bench-tftp-'));
  chmodSync(dir, 0o755); // dnsmasq may drop privileges before it reads the root
  const children: ChildProcess[] = [];
  try {
    const root = join(dir, 'root');
    execFileSync('mkdir', ['-p', root]);
    const content = randomBytes(sizeMiB << 20);
    writeFileSync(join(root, 'bench.bin'), content, { mode: 0o644 });
    writeFileSync(join(root, 'ready.txt'), 'ready\n', { mode: 0o644 });
    const expected = createHash('sha256').update(content).digest('hex');
    const bytes = content.length;

    const anvil = await startChild(['--serve-anvil', root, '--port', String(ANVIL_PORT)]);
    children.push(anvil.child);
    const anvilJs = await startChild(['--serve-anvil', root, '--port', String(ANVIL_JS_PORT), '--engine', 'js']);
    children.push(anvilJs.child);
    const floor = await startChild(['--serve-floor', root]);
    children.push(floor.child);
    const dnsmasq = await startDnsmasq(root, dir);
    children.push(dnsmasq);
    const cpu = values.cpu;
    if (cpu !== undefined) {
      for (const pid of [process.pid, anvil.child.pid!, anvilJs.child.pid!, floor.child.pid!, dnsmasq.pid!]) {
        execFileSync('taskset', ['-a', '-p', '-c', cpu, String(pid)], { stdio: 'ignore' });
      }
    }
    const servers = [
      { name: 'anvil', port: ANVIL_PORT, pid: anvil.child.pid! },
      { name: 'anvil-js', port: ANVIL_JS_PORT, pid: anvilJs.child.pid! },
      { name: 'dnsmasq', port: DNSMASQ_PORT, pid: dnsmasq.pid! },
    ] as const;
    type ServerName = (typeof servers)[number]['name'];
    console.log(`TFTP bench: ${sizeMiB} MiB file, ${runs} rounds (each server once per round, order rotating), loopback in a private network namespace`);
    console.log(`anvil: ${anvil.engine} engine (its default); anvil-js: the JS engine`);
    console.log(`node ${process.version}, ${execFileSync('dnsmasq', ['--version']).toString().split('\n')[0]}`);
    if (cpu !== undefined) console.log(`Servers, clients and this process pinned to CPU ${cpu}.`);
    console.log(`load average before: ${loadAverage()}`);
    console.log('MB/s best and median; server CPU per block in µs (user + system, medians) from /proc.\n');
    console.log('client               server     MB/s best  median   CPU µs/block user  sys');
    for (const fetch of FETCHES) {
      const samples: Record<ServerName, Sample[]> = { anvil: [], 'anvil-js': [], dnsmasq: [] };
      const ratios: Record<'anvil' | 'anvil-js', number[]> = { anvil: [], 'anvil-js': [] };
      for (let run = 0; run < runs; run++) {
        // Rotate the order so a slow drift of the machine's load does not favour one server.
        const order = servers.map((_, i) => servers[(i + run) % servers.length]!);
        const round: Partial<Record<ServerName, Sample>> = {};
        for (const server of order) {
          const sample = await timeFetch(fetch, server.port, server.pid, dir, expected);
          round[server.name] = sample;
          samples[server.name].push(sample);
        }
        for (const name of ['anvil', 'anvil-js'] as const) ratios[name].push(round.dnsmasq!.seconds / round[name]!.seconds);
      }
      for (const [i, server] of servers.entries()) {
        console.log(row(i === 0 ? fetch.label : ' '.repeat(fetch.label.length), server.name, samples[server.name], bytes, fetch.blockSize));
      }
      for (const name of ['anvil', 'anvil-js'] as const) {
        const best = Math.min(...samples.dnsmasq.map((x) => x.seconds)) / Math.min(...samples[name].map((x) => x.seconds));
        console.log(
          `${' '.repeat(fetch.label.length)}   ${`${name}/dnsmasq`.padEnd(16)} throughput ×${median(ratios[name]).toFixed(2)} median of per-round ratios, ×${best.toFixed(2)} best against best`,
        );
      }
    }

    // The floor: what any server built on node:dgram pays per lock-step datagram.
    console.log('\nnode:dgram floor: a bare lock-step server (packets prebuilt in memory, no options, no timers, no checks), blksize 512:');
    for (const fetch of [FETCHES[0]!, FETCHES[2]!]) {
      const samples: Sample[] = [];
      for (let run = 0; run < runs; run++) samples.push(await timeFetch(fetch, FLOOR_PORT, floor.child.pid!, dir, expected));
      console.log(row(fetch.label, 'floor', samples, bytes, fetch.blockSize));
    }

    console.log("\nwindowsize (RFC 7440): anvil's client against anvil's servers, blksize 1468:");
    const received = Buffer.allocUnsafe(bytes);
    for (const server of servers.slice(0, 2)) {
      let base = 0;
      for (const windowSize of [1, 8, 16, 64]) {
        const times: number[] = [];
        const serverCpu: number[] = [];
        let retransmissions = 0;
        for (let run = 0; run < runs; run++) {
          let at = 0;
          const cpuBefore = cpuSecondsOf(server.pid);
          const start = performance.now();
          const result = await tftpGet({
            host: HOST,
            port: server.port,
            filename: 'bench.bin',
            blockSize: 1468,
            windowSize,
            onData: (p) => (at += p.copy(received, at)),
          });
          times.push((performance.now() - start) / 1000);
          const cpuAfter = cpuSecondsOf(server.pid);
          serverCpu.push(cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system);
          if (result.bytes !== bytes || result.windowSize !== windowSize || !received.equals(content))
            throw new Error(`windowsize ${windowSize}: content or window differs`);
          retransmissions += result.retransmissions;
        }
        const seconds = median(times);
        if (windowSize === 1) base = seconds;
        const perBlock = (median(serverCpu) * 1e6) / (Math.floor(bytes / 1468) + 1);
        console.log(
          `  ${server.name.padEnd(8)} windowsize ${String(windowSize).padEnd(3)} ${mbps(bytes, Math.min(...times)).padStart(7)} best ${mbps(bytes, seconds).padStart(7)} median MB/s  ×${(base / seconds).toFixed(2)} vs windowsize 1 (medians)` +
            `  server CPU ${perBlock.toFixed(2)} µs/block, ${retransmissions} client retransmissions`,
        );
      }
    }
    console.log(`\nload average after: ${loadAverage()}`);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

function mbps(bytes: number, seconds: number): string {
  return (bytes / 1e6 / seconds).toFixed(1);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** One line of the table: MB/s best and median, server CPU µs per block (medians). */
function row(label: string, server: string, samples: readonly Sample[], bytes: number, blockSize: number): string {
  const blocks = Math.floor(bytes / blockSize) + 1;
  const perBlock = (seconds: number) => ((seconds * 1e6) / blocks).toFixed(2).padStart(5);
  const best = mbps(bytes, Math.min(...samples.map((x) => x.seconds)));
  const typical = mbps(bytes, median(samples.map((x) => x.seconds)));
  const user = median(samples.map((x) => x.userSeconds));
  const system = median(samples.map((x) => x.systemSeconds));
  return `${label}   ${server.padEnd(8)} ${best.padStart(9)} ${typical.padStart(7)}   ${perBlock(user + system)} = ${perBlock(user)} + ${perBlock(system)}`;
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

type Sample = { readonly seconds: number; readonly userSeconds: number; readonly systemSeconds: number };

/** User and system CPU seconds of a process so far, from /proc (clock ticks are 1/100 s on Linux). */
function cpuSecondsOf(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

async function timeFetch(fetch: Fetch, port: number, pid: number, dir: string, expected: string): Promise<Sample> {
  const out = join(dir, 'out.bin');
  rmSync(out, { force: true });
  const [peer, peerArgs] = fetch.args(port, out);
  const [command, args]: [string, string[]] = values.cpu === undefined ? [peer, peerArgs] : ['taskset', ['-c', values.cpu, peer, ...peerArgs]];
  const cpuBefore = cpuSecondsOf(pid);
  const start = performance.now();
  const { code, output } = await runChild(command, args);
  const seconds = (performance.now() - start) / 1000;
  const cpuAfter = cpuSecondsOf(pid);
  if (code !== 0 || /Error code|timed out/i.test(output)) throw new Error(`${command} ${args.join(' ')} failed (${code}): ${output}`);
  if ((await sha256File(out)) !== expected) throw new Error(`${fetch.label.trim()} from port ${port}: content differs`);
  return { seconds, userSeconds: cpuAfter.user - cpuBefore.user, systemSeconds: cpuAfter.system - cpuBefore.system };
}

function runChild(command: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** A server in a child process of its own; its first line says it listens, and with which engine. */
function startChild(args: readonly string[]): Promise<{ child: ChildProcess; engine: string }> {
  const child = spawn(process.execPath, [...process.execArgv, import.meta.filename, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} server exited with ${code}`)));
    child.stdout.once('data', (line: Buffer) => resolve({ child, engine: line.toString().trim().split(' ')[1] ?? '' }));
  });
}

async function startDnsmasq(root: string, dir: string): Promise<ChildProcess> {
  const log = join(dir, 'dnsmasq.log');
  const child = spawn(
    'dnsmasq',
    [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--port=0',
      '--enable-tftp',
      `--tftp-root=${root}`,
      `--listen-address=${HOST}`,
      '--bind-interfaces',
      '--pid-file=',
      `--log-facility=${log}`,
    ],
    { stdio: 'inherit' },
  );
  // dnsmasq says nothing on stdout when ready: wait until its port answers a request.
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      await tftpGet({ host: HOST, port: DNSMASQ_PORT, filename: 'ready.txt', timeoutMs: 100, maxRetries: 0 });
      return child;
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill('SIGTERM');
        throw new Error(`dnsmasq did not start its TFTP server: ${(error as Error).message}`);
      }
    }
  }
}

/**
 * The least a TFTP server on node:dgram can do per datagram: RFC 1350 lock-step from
 * packets built in memory before the request, one connected socket per transfer, no
 * options, retransmission or validation. A measuring instrument only, never a server to use.
 */
function serveFloor(path: string): void {
  const file = readFileSync(path);
  const last = Math.floor(file.length / 512) + 1;
  const packets: Buffer[] = [];
  for (let n = 1; n <= last; n++) {
    const start = (n - 1) * 512;
    const out = Buffer.allocUnsafe(4 + Math.min(512, file.length - start));
    out.writeUInt16BE(3, 0);
    out.writeUInt16BE(n & 0xffff, 2);
    file.copy(out, 4, start, start + 512);
    packets.push(out);
  }
  const packet = (n: number) => packets[n - 1]!;
  const listener = createSocket('udp4');
  listener.on('message', (_request, client) => {
    const socket = createSocket('udp4');
    socket.bind(0, HOST, () =>
      socket.connect(client.port, client.address, () => {
        let acked = 0;
        socket.on('message', (ack) => {
          if (ack.readUInt16BE(2) !== ((acked + 1) & 0xffff)) return;
          acked++;
          if (acked === last) socket.close();
          else socket.send(packet(acked + 1));
        });
        socket.send(packet(1));
      }),
    );
  });
  listener.bind(FLOOR_PORT, HOST, () => process.stdout.write('listening\n'));
}

// Dispatch last: the functions and tables above must be initialised first.
if (values['serve-anvil'] !== undefined) {
  // Child mode: anvil's server alone in its process, as `anvil serve --tftp` runs it.
  const engine = values.engine as TftpEngine | undefined;
  const server = new TftpServer({ handler: new RootDirectoryHandler(values['serve-anvil']), host: HOST, port: Number(values.port), engine });
  await server.listen();
  process.stdout.write(`listening ${server.engine}\n`);
  process.on('SIGTERM', () => {
    void server.close().then(() => process.exit(0));
  });
} else if (values['serve-floor'] !== undefined) {
  serveFloor(join(values['serve-floor'], 'bench.bin'));
} else if (process.env[IN_NAMESPACE] !== '1') {
  // Parent mode: re-run inside a fresh network namespace with only loopback, up.
  const script = `ip link set lo up && exec "$0" "$@"`;
  const asRoot = process.getuid?.() === 0 ? ['-n'] : ['-r', '-n'];
  const child = spawn('unshare', [...asRoot, 'sh', '-c', script, process.execPath, ...process.execArgv, import.meta.filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [IN_NAMESPACE]: '1' },
  });
  child.on('exit', (code) => process.exit(code ?? 1));
} else {
  await bench(Number(values['size-mib']), Number(values.runs));
}
