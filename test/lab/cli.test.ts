// bin/anvil lab end to end: define a VM, serve its IPMI BMC with `lab up`, power it on with
// ipmitool, see it from another CLI process, stop `lab up` (the VM keeps running), `lab down`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runPeer } from '../ipmi/emulator-helpers.ts';
import type { PeerResult } from '../ipmi/emulator-helpers.ts';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { LabStore } from '../../src/lab/store.ts';

const ANVIL = fileURLToPath(new URL('../../bin/anvil', import.meta.url));
const PASSWORD = 'cli-lab-pw';
const CLI_TIMEOUT_MS = 60_000;
/** How long a line typed on the console waits for its answer before it is typed again. */
const RETYPE_MS = 2_000;

test('anvil lab: create, lab up with an IPMI BMC, ipmitool power on, status from another process, lab down', { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64', 'ipmitool')) return;
  const data = await mkdtemp(join(tmpdir(), 'anvil-lab-'));
  const anvil = (...args: string[]): Promise<PeerResult> => runPeer(ANVIL, ['lab', ...args, '--data', data], { ANVIL_BMC_PASSWORD: PASSWORD }, CLI_TIMEOUT_MS);
  // Whatever happens, no QEMU outlives the test: stopped before its files go.
  t.after(async () => {
    await anvil('down');
    await rm(data, { recursive: true, force: true });
  });

  const created = await anvil('vm', 'create', 'cli1', '--mac', '52:54:00:dd:00:01', '--disk', 'none', '--memory', '256', '--bmc', 'ipmi', '--bmc-port', '0');
  assert.equal(created.code, 0, created.stderr);
  const file = join(data, 'lab', 'vms', 'cli1.json');
  assert.equal((await stat(file)).mode & 0o777, 0o600, 'the definition holds a password: owner only');
  assert.equal(JSON.parse(await readFile(file, 'utf8')).bmc.password, PASSWORD);
  const shown = await anvil('vm', 'show', 'cli1');
  assert.equal(shown.code, 0);
  assert.ok(!shown.stdout.includes(PASSWORD), 'show never prints the password');
  assert.equal((await anvil('vm', 'create', 'cli1', '--mac', '52:54:00:dd:00:02')).code, 1, 'a second VM of the same name is refused');

  const up = spawn(ANVIL, ['lab', 'up', '--data', data], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
  });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lab up printed no BMC port: ${output}`)), CLI_TIMEOUT_MS);
    up.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /cli1: IPMI BMC on 127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
  });
  const ipmitool = (...args: string[]) =>
    runPeer(
      'ipmitool',
      ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-E', '-N', '2', '-R', '3', ...args],
      { IPMI_PASSWORD: PASSWORD },
      CLI_TIMEOUT_MS,
    );

  assert.match((await ipmitool('power', 'status')).stdout, /Chassis Power is off/);
  const on = await ipmitool('power', 'on');
  assert.equal(on.code, 0, on.stderr);
  assert.equal((await anvil('vm', 'power', 'cli1', 'status')).stdout.trim(), 'on', 'another process sees the VM lab up started');
  assert.match((await anvil('vm', 'list')).stdout, /cli1\s+52:54:00:dd:00:01\s+on/);

  const exited = once(up, 'exit');
  up.kill('SIGTERM');
  assert.deepEqual(await exited, [0, null]);
  assert.equal((await anvil('vm', 'power', 'cli1', 'status')).stdout.trim(), 'on', 'the VM outlives its controller');

  const down = await anvil('down');
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /stopped cli1/);
  assert.equal((await anvil('vm', 'power', 'cli1', 'status')).stdout.trim(), 'off');
  assert.equal((await anvil('vm', 'delete', 'cli1')).code, 0);
  assert.match((await anvil('vm', 'power', 'cli1', 'status')).stderr, /LAB_NOT_FOUND/);
});

test('anvil lab --help lists every command, and bad usage exits 2', async () => {
  const help = await runPeer(ANVIL, ['lab', '--help']);
  assert.equal(help.code, 0);
  for (const word of ['vm create', 'vm list', 'vm show', 'vm delete', 'vm power', 'vm bootdev', 'up', 'down', '--bmc-password-file', '--data'])
    assert.ok(help.stdout.includes(word), word);
  const bad = await runPeer(ANVIL, ['lab', 'vm', 'power']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /missing the VM name/);
});

test('anvil lab vm console: this terminal on the serial console of a VM another CLI process powered on', { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64')) return;
  const tiny = join(import.meta.dirname, '../../.tools/tiny-linux');
  if (!requireCondition(t, existsSync(join(tiny, 'vmlinuz')) && existsSync(join(tiny, 'initrd.gz')), `no tiny Linux in ${tiny} (scripts/tiny-linux builds it)`))
    return;
  const data = await mkdtemp(join(tmpdir(), 'anvil-lab-'));
  const anvil = (...args: string[]): Promise<PeerResult> => runPeer(ANVIL, ['lab', ...args, '--data', data], {}, CLI_TIMEOUT_MS);
  t.after(async () => {
    await anvil('down');
    await rm(data, { recursive: true, force: true });
  });
  // The guest: a shell on the serial console (the tiny Linux, no NIC, anvil.poweroff=0).
  await new LabStore(data).create({
    name: 'con1',
    mac: '52:54:00:dd:00:03',
    memoryMb: 256,
    diskSize: null,
    netdev: 'none',
    extraArgs: ['-kernel', join(tiny, 'vmlinuz'), '-initrd', join(tiny, 'initrd.gz'), '-append', 'console=ttyS0 quiet no_timer_check anvil.poweroff=0'],
  });
  assert.equal((await anvil('vm', 'console', 'con1')).code, 1, 'a VM that is off has no console');
  assert.equal((await anvil('vm', 'power', 'con1', 'on')).code, 0);

  const console = spawn(ANVIL, ['lab', 'vm', 'console', 'con1', '--data', data], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => {
    if (console.exitCode === null && console.signalCode === null) console.kill('SIGKILL');
  });
  let output = '';
  console.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // The shell may not be up yet: the line is typed again until its answer shows (echo is harmless to repeat).
  const deadline = performance.now() + CLI_TIMEOUT_MS;
  let answered = false;
  while (!answered && performance.now() < deadline) {
    console.stdin.write('echo CONSOLE-$((40+2))\n');
    answered = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), RETYPE_MS);
      const onData = (): void => {
        if (!output.includes('CONSOLE-42')) return;
        clearTimeout(timer);
        console.stdout.off('data', onData);
        resolve(true);
      };
      console.stdout.on('data', onData);
      onData();
    });
  }
  assert.ok(answered, `no CONSOLE-42 on the console; saw ${JSON.stringify(output.slice(-500))}`);
  const exited = once(console, 'exit');
  console.stdin.write(Buffer.from([0x1d]));
  assert.deepEqual(await exited, [0, null], 'Ctrl-] leaves the console');
  assert.equal((await anvil('vm', 'power', 'con1', 'status')).stdout.trim(), 'on', 'and the VM runs on');
});

test('anvil lab vm bootdev NAME http: UEFI HTTP boot, always in UEFI mode; an unknown device is refused naming the devices', async (t) => {
  const data = await mkdtemp(join(tmpdir(), 'anvil-lab-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  const anvil = (...args: string[]): Promise<PeerResult> => runPeer(ANVIL, ['lab', ...args, '--data', data], {}, CLI_TIMEOUT_MS);
  assert.equal((await anvil('vm', 'create', 'uh1', '--mac', '52:54:00:dd:00:11', '--disk', 'none', '--netdev', 'none')).code, 0);
  const once = await anvil('vm', 'bootdev', 'uh1', 'http');
  assert.equal(once.code, 0, once.stderr);
  assert.equal(once.stdout, 'uh1: boots http once (UEFI)\n');
  const persistent = await anvil('vm', 'bootdev', 'uh1', 'http', '--persistent');
  assert.equal(persistent.stdout, 'uh1: boots http (UEFI)\n');
  assert.deepEqual(JSON.parse(await readFile(join(data, 'lab', 'vms', 'uh1.json'), 'utf8')).boot, { device: 'http', efi: true });
  const bad = await anvil('vm', 'bootdev', 'uh1', 'floppy');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /boot device 'floppy' must be one of pxe, disk, cdrom, bios, http or default/);
});
