// The deploy agent against the plain way, in one guest over one link: QEMU under TCG boots the
// agent (.tools/anvil-agent, scripts/anvil-agent) with anvil.poweroff=0, a fake anvil
// (test/helpers/agent-server.ts) has it deploy and capture, and after each job the bench types
// the plain commands into the agent's shell on the serial console and times them the same way
// (guest clock, /proc/uptime). Three boots of one VM:
//   1. the agent deploys a raw image (random bytes) and verifies it;
//      plain: wget -O - URL | dd of=/dev/vda bs=1M; sync   and   dd iflag=direct | sha256sum
//   2. the agent deploys a zstd image, half random, half zeros;
//      plain capture of that disk: dd | anvil-agent-io zstd-compress | anvil-agent-io put, without
//      and with a sha256 of the raw bytes (tee to a FIFO read by sha256sum)
//   3. the agent captures the disk (anvil-agent-io capture: a reader thread that also checksums
//      (XXH64) and the compressor thread of one process, PUT as it goes); then, in its shell,
//      --rounds times one after the other: the plain capture and `anvil-agent-io capture` typed in
//      (the same command the agent runs)
//
//   source scripts/env.sh && node bench/agent.ts [--mib 256] [--memory 384] [--smp 1] [--agent DIR] [--rounds 3] [--json FILE]
// --smp gives the guest that many vCPUs (QEMU's multi-threaded TCG): the agent and the plain
// pipelines always share the one VM, so a ratio compares like with like. --agent boots another
// build of the agent (a directory with vmlinuz and initrd.gz; .tools/anvil-agent by default).
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FakeAgentServer, field, imageOf } from '../test/helpers/agent-server.ts';
import { AGENT_DIR, agentAppend, bootRelayVm, GUEST_SERVER } from '../test/helpers/agent-vm.ts';
import type { Vm } from '../test/helpers/qemu.ts';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    memory: { type: 'string', default: '384' },
    smp: { type: 'string', default: '1' },
    agent: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'string' },
  },
});
const MIB = 1024 * 1024;
const size = Number(values.mib) * MIB;
const smp = Number(values.smp);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 0) throw new Error(`--rounds ${values.rounds}: not a count`);
if (!Number.isInteger(smp) || smp < 1) throw new Error(`--smp ${values.smp}: not a vCPU count`);
const TOKEN = 'bench-token';
const JOB_TIMEOUT_MS = 30 * 60_000;

/** Writes `bytes` of random data then `zeros` zero bytes (sparse) to a new file. */
function fill(path: string, bytes: number, zeros: number): void {
  const fd = openSync(path, 'w');
  for (let done = 0; done < bytes; done += 4 * MIB) writeSync(fd, randomBytes(Math.min(4 * MIB, bytes - done)));
  closeSync(fd);
  truncateSync(path, bytes + zeros);
}

let marks = 0;
/** Runs a command in the guest's shell; resolves with its guest-clock seconds and exit status. */
async function timed(vm: Vm, command: string): Promise<{ seconds: number; status: number }> {
  const mark = `BENCH-${++marks}`;
  // The marker is split in the typed line, so the tty's echo of it never matches.
  const [head, tail] = [mark.slice(0, 3), mark.slice(3)];
  vm.process.stdin?.write(`a=$(cut -d' ' -f1 /proc/uptime); ${command}; s=$?; b=$(cut -d' ' -f1 /proc/uptime); echo "${head}""${tail} $s $a $b"\n`);
  const m = await vm.waitFor(new RegExp(`${mark} (\\d+) ([\\d.]+) ([\\d.]+)\\r?\\n`), JOB_TIMEOUT_MS);
  return { seconds: Number(m[3]) - Number(m[2]), status: Number(m[1]) };
}

const rate = (bytes: number, seconds: number): string => `${(bytes / MIB / seconds).toFixed(1)} MiB/s`;

const dir = mkdtempSync(join(tmpdir(), 'anvil-bench-agent-'));
let server: FakeAgentServer | undefined;
let vm: Vm | undefined;
try {
  const raw = join(dir, 'random.raw');
  const half = join(dir, 'half.raw');
  const disk = join(dir, 'disk.raw');
  fill(raw, size, 0);
  fill(half, size / 2, size / 2);
  writeFileSync(disk, '');
  truncateSync(disk, size + 64 * MIB);
  const rawImage = await imageOf(raw, 'raw');
  const halfImage = await imageOf(half, 'zstd', join(dir, 'half.zst'));
  server = await FakeAgentServer.start({
    token: TOKEN,
    jobs: [
      { action: 'deploy', image: rawImage, then: 'poweroff' },
      { action: 'deploy', image: halfImage, then: 'poweroff' },
      { action: 'capture', size, into: join(dir, 'captured.raw'), then: 'poweroff' },
    ],
  });
  vm = bootRelayVm(undefined, {
    port: server.port,
    disk,
    kernel: { dir: values.agent ?? AGENT_DIR, append: agentAppend(TOKEN, 'anvil.poweroff=0') },
    memoryMb: Number(values.memory),
    stdin: true,
    extraArgs: ['-smp', String(smp)],
  });
  const shell = async (n: number): Promise<void> => {
    await vm!.waitFor(new RegExp(`(?:a shell instead of powering off[^]*){${n}}`), JOB_TIMEOUT_MS);
  };
  const url = `http://${GUEST_SERVER}/agent/v1`;
  const header = `--header "X-Anvil-Token: $ANVIL_TOKEN"`;
  const dropCaches = 'sync; echo 3 > /proc/sys/vm/drop_caches';

  // 1. raw deploy
  const deploy1 = await server.waitFor('result', JOB_TIMEOUT_MS, 0);
  await shell(1);
  const plainWrite = await timed(vm, `wget -q -O - ${header} ${url}/image | dd of=/dev/vda bs=1M 2>/dev/null`);
  const plainSync = await timed(vm, 'sync');
  await timed(vm, dropCaches);
  const plainVerify = await timed(vm, `dd if=/dev/vda bs=1M iflag=direct,count_bytes count=${size} 2>/dev/null | sha256sum`);
  vm.process.stdin?.write('reboot -f\n');

  // 2. zstd deploy, then the plain capture
  const deploy2 = await server.waitFor('result', JOB_TIMEOUT_MS, 1);
  await shell(2);
  await timed(vm, dropCaches);
  const plainCapture = await timed(
    vm,
    `dd if=/dev/vda bs=1M count=${size / MIB} 2>/dev/null | anvil-agent-io zstd-compress 3 | anvil-agent-io put ${url}/capture`,
  );
  const plainCaptureWire = server.to('capture')[0]?.uploadBytes ?? NaN;
  await timed(vm, dropCaches);
  const plainHashed = await timed(
    vm,
    `rm -f /tmp/h; mkfifo /tmp/h; sha256sum < /tmp/h > /tmp/h.sum & dd if=/dev/vda bs=1M count=${size / MIB} 2>/dev/null | tee /tmp/h | anvil-agent-io zstd-compress 3 | anvil-agent-io put ${url}/capture; wait`,
  );
  vm.process.stdin?.write('reboot -f\n');

  // 3. the agent's capture
  const capture = await server.waitFor('result', JOB_TIMEOUT_MS, 2);
  const agentWire = server.to('capture')[2]?.uploadBytes ?? NaN;
  await shell(3);

  // 4. in that shell, ROUNDS times: the plain capture and the agent's own capture command, one
  // right after the other (the order alternating), so a loaded host slows both alike.
  const plainCommand = `dd if=/dev/vda bs=1M count=${size / MIB} 2>/dev/null | anvil-agent-io zstd-compress 3 | anvil-agent-io put ${url}/capture`;
  const agentCommand = `anvil-agent-io capture /dev/vda ${size} ${url}/capture > /tmp/capture.bench`;
  const side = async (label: string, command: string): Promise<{ seconds: number; wire: number }> => {
    await timed(vm!, dropCaches);
    const before = server!.to('capture').length;
    const r = await timed(vm!, command);
    const put = server!.to('capture')[before];
    if (r.status !== 0 || put === undefined) throw new Error(`the ${label} capture in the shell failed (exit status ${r.status})`);
    if (put.uploadSha256 !== halfImage.sha256) throw new Error(`the ${label} capture in the shell does not match the disk`);
    return { seconds: r.seconds, wire: put.uploadBytes ?? NaN };
  };
  const rounds: { plain: number; agent: number; plainWire: number; agentWire: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const first = i % 2 === 0 ? await side('plain', plainCommand) : await side('agent', agentCommand);
    const second = i % 2 === 0 ? await side('agent', agentCommand) : await side('plain', plainCommand);
    const [plain, agent] = i % 2 === 0 ? [first, second] : [second, first];
    rounds.push({ plain: plain.seconds, agent: agent.seconds, plainWire: plain.wire, agentWire: agent.wire });
  }
  vm.process.stdin?.write('poweroff -f\n');

  const seconds = (r: typeof deploy1, key: string): number => Number(field(r, key));
  for (const [what, r] of [
    ['deploy raw', deploy1],
    ['deploy zstd', deploy2],
    ['capture', capture],
  ] as const) {
    if (field(r, 'status') !== 'ok') throw new Error(`the agent's ${what} failed: ${field(r, 'message')}`);
  }
  // What arrived is the disk; the agent's checksum of what it read agrees (XXH64; sha256 from an agent before it).
  const upload = server.to('capture')[2];
  if (upload?.uploadSha256 !== halfImage.sha256) throw new Error('the capture does not match the disk');
  const agreed = field(capture, 'xxh64') !== undefined ? field(capture, 'xxh64') === upload.uploadXxh64 : field(capture, 'sha256') === halfImage.sha256;
  if (!agreed) throw new Error("the agent's checksum of the capture does not agree with what arrived");
  const figures = {
    mib: size / MIB,
    smp,
    rounds,
    deployRaw: { agentWrite: seconds(deploy1, 'write_seconds'), agentVerify: seconds(deploy1, 'verify_seconds') },
    deployZstd: { agentWrite: seconds(deploy2, 'write_seconds'), agentVerify: seconds(deploy2, 'verify_seconds'), wire: statSync(halfImage.file).size },
    plain: { write: plainWrite.seconds, writeSync: plainWrite.seconds + plainSync.seconds, verify: plainVerify.seconds },
    capture: { agent: seconds(capture, 'read_seconds'), agentWire, plain: plainCapture.seconds, plainWire: plainCaptureWire, plainHashed: plainHashed.seconds },
  };
  const row = (label: string, ours: number, theirs: number, bytes = size): string =>
    `${label.padEnd(36)} agent ${ours.toFixed(2).padStart(6)} s ${rate(bytes, ours).padStart(12)}   plain ${theirs.toFixed(2).padStart(6)} s ${rate(bytes, theirs).padStart(12)}   agent/plain rate ${(theirs / ours).toFixed(2)}`;
  console.log(`deploy agent under TCG, ${size / MIB} MiB, ${values.memory} MB guest, ${smp} vCPU, over slirp + guestfwd relay`);
  console.log(row('write raw (plain: wget | dd; sync)', figures.deployRaw.agentWrite, figures.plain.writeSync));
  console.log(row('write raw (plain: wget | dd, no sync)', figures.deployRaw.agentWrite, figures.plain.write));
  console.log(row('write zstd half zeros (vs plain raw)', figures.deployZstd.agentWrite, figures.plain.writeSync));
  console.log(row('verify (plain: dd iflag=direct | sha256sum)', figures.deployRaw.agentVerify, figures.plain.verify));
  console.log(row('capture half zeros (plain: dd|zstd|put)', figures.capture.agent, figures.capture.plain));
  console.log(row('capture, plain hashing with tee+sha256sum', figures.capture.agent, figures.capture.plainHashed));
  console.log(`capture bytes on the wire: agent ${agentWire}, plain ${plainCaptureWire} (disk ${size})`);
  if (rounds.length > 0) {
    const ratios = rounds.map((r) => r.plain / r.agent).sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)] ?? NaN;
    for (const [i, r] of rounds.entries()) {
      console.log(row(`round ${i + 1}: capture -- shell`, r.agent, r.plain) + `   wire agent ${r.agentWire} plain ${r.plainWire}`);
    }
    console.log(
      `capture, alternating in one boot: median agent/plain rate ${median.toFixed(2)} over ${rounds.length} rounds (${ratios.map((x) => x.toFixed(2)).join(' ')})`,
    );
  }
  if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(figures, null, 2));
} finally {
  await vm?.kill();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
}
