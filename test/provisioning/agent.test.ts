// The deploy agent (.tools/anvil-agent, scripts/anvil-agent) booted in QEMU against a fake
// anvil (test/helpers/agent-server.ts). Two VMs run side by side, each through several jobs:
// the fake anvil answers each result with reboot, so one QEMU process boots the agent again for
// the next job instead of a new VM per case.
//   A: hello before anvil listens, wait (while the test logs in to the agent's dropbear with the
//      key given on its command line), deploy raw (the bootable test disk image), deploy zstd (no
//      filesystem: currentimage.txt skipped), deploy ext4 (currentimage.txt and authorized_keys
//      written), an image too large for the disk, stop
//   B: capture of a disk with a few MiB of data among zeros, a deploy of the bootable image (its
//      FAT gets currentimage.txt and authorized_keys), then a deploy whose progress report is
//      answered 403
// A wait whose `until` holds the agent while the test reads the disk file.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FakeAgentServer, field, imageOf, type AgentRequest } from '../helpers/agent-server.ts';
import type { Vm } from '../helpers/qemu.ts';
import { AGENT_DIR, agentAppend, bootRelayVm } from '../helpers/agent-vm.ts';
import { buildDiskImage, DISK_IMAGE_PEERS } from '../../src/lab/disk-image.ts';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { freeTcpPort } from '../helpers/ports.ts';
import { QEMU } from '../helpers/qemu.ts';
import { makeKey, sshRun } from '../helpers/ssh-client.ts';
import { Xxh64 } from '../../src/provisioning/xxh64.ts';

const MIB = 1024 * 1024;
/** One job: the agent boots (under TCG), writes tens of MiB and reads them back; generous for a loaded CI machine. */
const JOB_TIMEOUT_MS = 300_000;

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const xxh64 = async (data: Buffer): Promise<string> => {
  const h = await Xxh64.create();
  h.update(data);
  return h.hex();
};

function ready(t: import('node:test').TestContext): boolean {
  if (!havePeers(t, QEMU, 'ssh', 'ssh-keygen', 'mkfs.ext4', 'debugfs', 'mtype', ...DISK_IMAGE_PEERS)) return false;
  return requireCondition(
    t,
    existsSync(join(AGENT_DIR, 'vmlinuz')) && existsSync(join(AGENT_DIR, 'initrd.gz')),
    'the deploy agent in .tools/anvil-agent (scripts/anvil-agent)',
  );
}

/**
 * The request, or an error carrying the console's tail and QEMU's stderr when the VM exits
 * first or nothing comes in time (a VM that never asked says why on its console).
 */
async function request(server: FakeAgentServer, vm: Vm, name: string, skip = 0): Promise<AgentRequest> {
  const exited = vm.waitFor(/(?!)/, JOB_TIMEOUT_MS) as Promise<never>;
  exited.catch(() => {});
  return Promise.race([server.waitFor(name, JOB_TIMEOUT_MS + 1000, skip), exited]);
}

function tempDir(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-agent-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What anvil's deploy answer says of the login files. */
const LOGIN = { home: '/root', currentimage: ['img-a', 'id=7', 'prettyname=img-a', 'computer_hostname=vm-a'], keys: [] as string[] };

/** An ext4 filesystem image of `bytes` (no partition table) holding /root/.ssh/authorized_keys with one key. */
function ext4Image(dir: string, bytes: number, existingKey: string): string {
  const tree = join(dir, 'ext4-tree');
  mkdirSync(join(tree, 'root/.ssh'), { recursive: true, mode: 0o700 });
  writeFileSync(join(tree, 'root/.ssh/authorized_keys'), `${existingKey}\n`, { mode: 0o600 });
  const image = join(dir, 'ext4.raw');
  writeFileSync(image, '');
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', tree, '-E', 'root_owner=0:0', image, `${bytes / 1024}k`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  return image;
}

/** A file of an ext4 image (debugfs). */
function ext4File(image: string, path: string): string {
  return execFileSync('debugfs', ['-R', `cat ${path}`, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
}

/** A file of the FAT at 1 MiB into a disk image (mtools). */
function fatFile(disk: string, path: string): string {
  return execFileSync('mtype', ['-i', `${disk}@@${MIB}`, `::${path}`], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' }, timeout: 30_000 });
}

/** A sparse file of `bytes` with `data` written at the given offsets. */
function diskWith(path: string, bytes: number, data: readonly [number, Buffer][]): Buffer {
  const content = Buffer.alloc(bytes);
  for (const [offset, chunk] of data) chunk.copy(content, offset);
  writeFileSync(path, content);
  return content;
}

describe('the deploy agent', { concurrency: 2 }, () => {
  test('retries hello until anvil answers, deploys raw and zstd images byte for byte, refuses an image larger than the disk, and obeys wait and stop', async (t) => {
    if (!ready(t)) return;
    const dir = tempDir(t);
    const diskBytes = 128 * MIB;
    const disk = join(dir, 'disk.raw');
    diskWith(disk, diskBytes, []);
    // Raw: the bootable test image the provisioning tests deploy.
    const bootable = buildDiskImage({ server: '10.0.2.100' });
    const raw = await imageOf(bootable.path, 'raw');
    assert.equal(raw.sha256, bootable.sha256);
    // zstd: random data around a long run of zeros, so the write and verify report progress.
    const zstdSource = join(dir, 'zstd-source.raw');
    const zstdContent = diskWith(zstdSource, 96 * MIB, [
      [0, randomBytes(16 * MIB)],
      [95 * MIB, randomBytes(MIB)],
    ]);
    const zstd = await imageOf(zstdSource, 'zstd', join(dir, 'image.zst'));
    // ext4: the agent adds the site's key to the one already there and writes currentimage.txt.
    const key = await makeKey(dir);
    const ext4 = await imageOf(ext4Image(dir, 16 * MIB, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExisting existing@image'), 'raw');
    const login = { ...LOGIN, keys: [key.publicKey] };
    // The agent boots before anvil listens: its hello fails and is retried.
    const port = await freeTcpPort();
    const sshPort = await freeTcpPort();
    const append = agentAppend('token-a', `anvil.sshkey=${Buffer.from(key.publicKey).toString('base64url')}`);
    const vm = bootRelayVm(t, { port, sshPort, disk, mac: '52:54:00:a6:00:0a', kernel: { dir: AGENT_DIR, append } });
    await vm.waitFor(/anvil-agent: hello failed \(.*\); again in 1 s/, JOB_TIMEOUT_MS);
    let loggedIn = false;
    let ext4Read = false;
    const server = await FakeAgentServer.start({
      port,
      token: 'token-a',
      jobs: [
        { action: 'wait', retry: 1, until: () => loggedIn },
        { action: 'deploy', image: raw, progressInterval: 1, then: 'reboot' },
        { action: 'deploy', image: zstd, progressInterval: 1, login, then: 'reboot' },
        { action: 'deploy', image: ext4, login, then: 'reboot' },
        { action: 'wait', retry: 1, until: () => ext4Read },
        { action: 'deploy', image: raw, size: diskBytes + MIB, then: 'reboot' },
        { action: 'stop', message: 'nothing more to do' },
      ],
    });
    t.after(() => server.close());

    const hello = await request(server, vm, 'hello');
    assert.deepEqual(hello.fields.get('mac'), ['52:54:00:a6:00:0a']);
    assert.deepEqual(hello.fields.get('disk'), ['vda']);
    assert.equal(field(hello, 'disk.vda.size'), String(diskBytes));
    assert.equal(field(hello, 'disk.vda.removable'), '0');
    assert.match(field(hello, 'kernel') ?? '', /^\d+\.\d+\.\d+-/);
    assert.equal(field(hello, 'agent'), '1');
    assert.equal(hello.fields.has('disk.vda.model'), false, 'virtio disks have no model: the line is left out');
    // The agent's dropbear lets the key from its command line in (and only key logins).
    assert.match(vm.console, /anvil-agent: dropbear: SSH on port 22 with the site's key/);
    assert.equal(await sshRun(sshPort, key.path, 'cat /sys/class/net/eth0/address; id -u'), '52:54:00:a6:00:0a\n0\n');
    loggedIn = true;

    // wait (held while the test logged in), then hello again: the raw deploy.
    const first = await request(server, vm, 'result', 0);
    assert.ok(server.to('hello').length >= 2, 'asked again after action=wait');
    assert.equal(field(first, 'currentimage'), 'skipped anvil sent no currentimage.txt');
    assert.equal(field(first, 'status'), 'ok', field(first, 'message'));
    assert.equal(field(first, 'phase'), 'done');
    assert.equal(field(first, 'sha256'), bootable.sha256);
    assert.equal(field(first, 'bytes'), String(bootable.size));
    assert.match(field(first, 'write_seconds') ?? '', /^\d+\.\d\d$/);
    assert.match(field(first, 'verify_seconds') ?? '', /^\d+\.\d\d$/);
    const written = readFileSync(disk);
    assert.ok(written.subarray(0, bootable.size).equals(readFileSync(bootable.path)), 'the disk holds the image byte for byte');
    assert.ok(
      written.subarray(bootable.size).every((b) => b === 0),
      'and nothing after it',
    );
    assert.equal(server.to('image')[0]?.imageComplete, true);

    const second = await request(server, vm, 'result', 1);
    assert.equal(field(second, 'status'), 'ok', field(second, 'message'));
    assert.equal(field(second, 'sha256'), sha256(zstdContent));
    assert.ok(readFileSync(disk).subarray(0, zstdContent.length).equals(zstdContent), 'the zstd image decompressed onto the disk byte for byte');
    const progress = server.to('progress').filter((p) => p.at > first.at && p.at < second.at);
    const phases = progress.map((p) => field(p, 'phase'));
    assert.ok(phases.includes('write') || phases.includes('verify'), `progress reported while the 96 MiB went through: ${phases.join(', ')}`);
    const counts = progress.map((p) => Number(field(p, 'bytes')));
    assert.ok(counts.every((n) => n >= 0 && n <= zstdContent.length + MIB) && counts.some((n) => n > 0), `progress bytes: ${counts.join(', ')}`);
    assert.equal(field(second, 'currentimage'), 'skipped no ext4 or FAT filesystem on /dev/vda or its partitions');

    // ext4 (the whole disk, no partition table): currentimage.txt and the key, beside the one there.
    const onExt4 = await request(server, vm, 'result', 2);
    assert.equal(field(onExt4, 'status'), 'ok', field(onExt4, 'message'));
    assert.equal(field(onExt4, 'sha256'), ext4.sha256, 'verified before the login files were written');
    assert.equal(field(onExt4, 'currentimage'), 'written /dev/vda ext4');
    writeFileSync(join(dir, 'written.raw'), readFileSync(disk).subarray(0, ext4.size));
    ext4Read = true;
    assert.equal(ext4File(join(dir, 'written.raw'), '/root/currentimage.txt'), `${LOGIN.currentimage.join('\n')}\n`);
    assert.equal(
      ext4File(join(dir, 'written.raw'), '/root/.ssh/authorized_keys'),
      `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExisting existing@image\n${key.publicKey}\n`,
    );
    assert.match(vm.console, /anvil-agent: currentimage.txt: written \/dev\/vda ext4/);

    const third = await request(server, vm, 'result', 3);
    assert.equal(field(third, 'status'), 'failed');
    assert.equal(field(third, 'phase'), 'write');
    assert.equal(field(third, 'message'), `image of ${diskBytes + MIB} bytes does not fit /dev/vda of ${diskBytes} bytes`);
    assert.equal(server.to('image').length, 3, 'the image too large was never fetched');
    await vm.waitFor(new RegExp(`ANVIL-AGENT-FAILED write image of ${diskBytes + MIB} bytes does not fit /dev/vda`), 10_000);

    await vm.waitFor(/ANVIL-AGENT-STOPPED nothing more to do/, JOB_TIMEOUT_MS);
    await once(vm.process, 'exit');
    assert.equal((vm.console.match(/ANVIL-AGENT-DONE deploy ok/g) ?? []).length, 3);
    for (const r of server.requests) assert.equal(r.token, 'token-a', `${r.path} carried the token`);
  });

  test('captures a mostly empty disk compactly and exactly, and a 403 to a progress report stops a write', async (t) => {
    if (!ready(t)) return;
    const dir = tempDir(t);
    const diskBytes = 64 * MIB;
    const disk = join(dir, 'disk.raw');
    const data = 4 * MIB;
    const content = diskWith(disk, diskBytes, [
      [0, randomBytes(MIB)],
      [20 * MIB, randomBytes(2 * MIB)],
      [diskBytes - MIB, randomBytes(MIB)],
    ]);
    const source = join(dir, 'image.raw');
    writeFileSync(source, randomBytes(48 * MIB));
    const image = await imageOf(source, 'raw');
    const bootable = await imageOf(buildDiskImage({ server: '10.0.2.100' }).path, 'raw');
    const holdAfter = 8 * MIB;
    const login = { ...LOGIN, keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIsite anvil@site'] };
    let fatRead = false;
    const server = await FakeAgentServer.start({
      token: 'token-b',
      jobs: [
        { action: 'capture', size: diskBytes, into: join(dir, 'captured.raw'), progressInterval: 1, then: 'reboot' },
        { action: 'deploy', image: bootable, login, then: 'reboot' },
        { action: 'wait', retry: 1, until: () => fatRead },
        {
          action: 'deploy',
          image,
          holdAfter,
          progressInterval: 1,
          progress: (report) => (Number(field(report, 'bytes')) > 0 ? 'deploy cancelled by the operator' : undefined),
          then: 'reboot',
        },
      ],
    });
    t.after(() => server.close());
    const vm = bootRelayVm(t, { port: server.port, disk, mac: '52:54:00:a6:00:0b', kernel: { dir: AGENT_DIR, append: agentAppend('token-b') } });

    const captured = await request(server, vm, 'result', 0);
    assert.equal(field(captured, 'status'), 'ok', field(captured, 'message'));
    // The agent's checksum is XXH64 (Debian's libxxhash in the agent, xxhash-wasm here).
    assert.equal(field(captured, 'xxh64'), await xxh64(content));
    assert.equal(field(captured, 'sha256'), undefined, 'the agent no longer spends its CPU on SHA-256 for a capture');
    assert.equal(field(captured, 'bytes'), String(diskBytes));
    assert.match(field(captured, 'read_seconds') ?? '', /^\d+\.\d\d$/);
    const put = server.to('capture')[0];
    assert.equal(put?.uploadSha256, sha256(content));
    assert.equal(put?.uploadXxh64, field(captured, 'xxh64'));
    assert.equal(field(captured, 'sent'), String(put?.uploadBytes), 'the agent reports the bytes it put on the wire');
    assert.ok(readFileSync(join(dir, 'captured.raw')).equals(content), 'the PUT body decompresses to the disk byte for byte');
    // Random data does not compress; the 60 MiB of zeros must cost next to nothing.
    assert.ok((put?.uploadBytes ?? Infinity) < data + 256 * 1024, `${put?.uploadBytes} bytes on the wire for ${data} bytes of data in ${diskBytes}`);

    // The bootable image's FAT partition gets the login home with currentimage.txt and the key.
    const onFat = await request(server, vm, 'result', 1);
    assert.equal(field(onFat, 'status'), 'ok', field(onFat, 'message'));
    assert.equal(field(onFat, 'currentimage'), 'written /dev/vda1 vfat');
    writeFileSync(join(dir, 'fat.raw'), readFileSync(disk).subarray(0, bootable.size));
    fatRead = true;
    assert.equal(fatFile(join(dir, 'fat.raw'), '/root/currentimage.txt').replaceAll('\r', ''), `${LOGIN.currentimage.join('\n')}\n`);
    assert.equal(fatFile(join(dir, 'fat.raw'), '/root/.ssh/authorized_keys').replaceAll('\r', ''), `${login.keys[0]}\n`);

    // The deploy: the image stalls after 8 MiB; the first progress report with bytes written gets a
    // 403 (on a loaded machine a report can come before the first byte).
    await vm.waitFor(/ANVIL-AGENT-ABORTED write deploy cancelled by the operator/, JOB_TIMEOUT_MS);
    await once(vm.process, 'exit');
    const report = server.to('progress').at(-1);
    assert.ok(report !== undefined);
    assert.equal(field(report, 'phase'), 'write');
    assert.ok(Number(field(report, 'bytes')) > 0 && Number(field(report, 'bytes')) <= holdAfter, `bytes=${field(report, 'bytes')}`);
    assert.equal(server.to('result').length, 2, 'no result after the 403: the deploy is over');
    assert.equal(server.to('image')[1]?.imageComplete, false, 'the image stream was cut');
    assert.ok(!readFileSync(disk).subarray(0, image.size).equals(readFileSync(source)), 'the write stopped');
    assert.match(vm.console, /anvil answered 403 to progress: the deploy is over \(deploy cancelled by the operator\)/);
  });
});
