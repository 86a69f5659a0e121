// Lab VMs on a real QEMU (TCG): power on into iPXE, reset, soft-off, power off, a killed QEMU,
// one-time boot devices, and a second LabVm (as another process would) driving the same VM.
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LabVm } from '../../src/lab/vm.ts';
import { cleanupOrphans, commandLineOf, isAlive } from '../../src/lab/process.ts';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { lab, nextPower, openVm } from './helpers.ts';

/** iPXE prints its banner under SeaBIOS within a few seconds under TCG. */
const IPXE_BANNER_MS = 40_000;

test('a lab VM boots iPXE from its NIC, resets, ignores ACPI at the iPXE prompt, and powers off', { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64', 'qemu-img')) return;
  const store = await lab(t);
  const def = await store.create({ name: 'pxe1', mac: '52:54:00:aa:00:01', memoryMb: 256, diskSize: '64M' });
  const vm = await openVm(t, store, 'pxe1');
  assert.equal(await vm.getPowerState(), 'off');

  const on = nextPower(vm, 'on');
  await vm.powerOn();
  assert.equal((await on).reason, 'power-on');
  assert.equal(await vm.getPowerState(), 'on');
  assert.ok(existsSync(def.disk!.path), 'qemu-img created the disk');
  const pid = vm.pid!;
  const args = await commandLineOf(pid);
  assert.ok(args?.includes('order=n'), `boots the network first: ${args?.join(' ')}`);
  await vm.console.buffer.waitFor('iPXE', { timeoutMs: IPXE_BANNER_MS });

  // Same boot device as QEMU was started with: a plain system_reset, same process.
  const mark = vm.console.buffer.total;
  const reset = nextPower(vm, 'on');
  await vm.reset();
  assert.equal((await reset).reason, 'reset');
  assert.equal(vm.pid, pid);
  await vm.console.buffer.waitFor('iPXE', { since: mark, timeoutMs: IPXE_BANNER_MS });

  // Firmware has no ACPI handler: the button press is reported, and the VM stays on.
  await assert.rejects(vm.softOff({ wait: true, timeoutMs: 2_000 }), (e: unknown) => (e as { code?: string }).code === 'LAB_TIMEOUT');
  assert.equal(await vm.getPowerState(), 'on');

  const off = nextPower(vm, 'off');
  await vm.powerOff();
  assert.equal((await off).reason, 'requested-off');
  assert.equal(await vm.getPowerState(), 'off');
  assert.equal(isAlive(pid), false, 'QEMU is gone');
  assert.equal(existsSync(store.pidFile('pxe1')), false, 'pid file removed');
});

test("a QEMU killed behind the lab's back reports power off with reason killed", { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64')) return;
  const store = await lab(t);
  await store.create({ name: 'kill1', mac: '52:54:00:aa:00:02', memoryMb: 256, diskSize: null, netdev: 'none' });
  const vm = await openVm(t, store, 'kill1');
  await vm.powerOn();
  const pid = vm.pid!;
  const off = nextPower(vm, 'off');
  process.kill(pid, 'SIGKILL');
  const event = await off;
  assert.deepEqual({ reason: event.reason, signal: event.signal }, { reason: 'killed', signal: 'SIGKILL' });
  assert.equal(await vm.getPowerState(), 'off');
  assert.equal(existsSync(store.pidFile('kill1')), false);
});

test('one-time boot devices apply to one boot; reset restarts QEMU when the boot device changed; another LabVm sees and drives the same VM', {
  timeout: 300_000,
}, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64')) return;
  const store = await lab(t);
  await store.create({ name: 'boot1', mac: '52:54:00:aa:00:03', memoryMb: 256, diskSize: null, netdev: 'none' });
  const vm = await openVm(t, store, 'boot1');
  await vm.setBootDevice('disk', { persistent: false });
  assert.deepEqual(await vm.getBootDevice(), { device: 'disk', persistent: false, efi: false });
  await vm.powerOn();
  assert.ok((await commandLineOf(vm.pid!))?.includes('order=n,once=c'));
  // Consumed by that boot: the persistent device is back.
  assert.deepEqual(await vm.getBootDevice(), { device: 'pxe', persistent: true, efi: false });

  // No change since: a plain system_reset in the same QEMU.
  const first = vm.pid;
  await vm.reset();
  assert.equal(vm.pid, first);

  // A one-time device set while on applies at the reset: QEMU restarts with it.
  await vm.setBootDevice('cdrom', { persistent: false });
  await vm.reset();
  assert.notEqual(vm.pid, first);
  assert.equal(isAlive(first!), false);
  assert.ok((await commandLineOf(vm.pid!))?.includes('order=n,once=d'));

  // What `anvil lab vm power` in another process does: no watch, commands on the control socket.
  const other = await LabVm.open(store, 'boot1', { watch: false });
  t.after(() => other.close());
  assert.equal(other.pid, vm.pid);
  assert.equal(await other.getPowerState(), 'on');
  const off = nextPower(vm, 'off');
  await other.powerOff();
  assert.equal((await off).reason, 'requested-off');
  assert.equal(await vm.getPowerState(), 'off');
  assert.equal(await other.getPowerState(), 'off');
});

test('soft-off: a Linux guest that handles the ACPI power button powers off and QEMU exits', { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64')) return;
  const dir = process.env.ANVIL_TINY_LINUX_DIR ?? join(import.meta.dirname, '../../.tools/tiny-linux');
  const kernel = join(dir, 'vmlinuz');
  const initrd = join(dir, 'initrd.gz');
  if (!requireCondition(t, existsSync(kernel) && existsSync(initrd), `no tiny Linux in ${dir} (scripts/tiny-linux builds it)`)) return;
  const modules = await initrdModules(initrd);
  // Without them the kernel sees the power button but no program can: nothing would power off.
  const acpiReady = modules.includes('button.ko') && modules.includes('evdev.ko');
  if (
    !requireCondition(
      t,
      acpiReady,
      `the tiny Linux in ${dir} lacks button.ko and evdev.ko (drivers/acpi/button, drivers/input/evdev), so it cannot act on the ACPI power button`,
    )
  )
    return;
  const store = await lab(t);
  await store.create({
    name: 'acpi1',
    mac: '52:54:00:aa:00:04',
    memoryMb: 256,
    diskSize: null,
    netdev: 'none',
    // anvil.poweroff=0: the init gives a shell on the console instead of powering off by itself.
    extraArgs: ['-kernel', kernel, '-initrd', initrd, '-append', 'console=ttyS0 quiet no_timer_check anvil.poweroff=0'],
  });
  const vm = await openVm(t, store, 'acpi1');
  await vm.powerOn();
  await vm.console.buffer.waitFor(/\/ # /, { timeoutMs: 60_000 });
  const shell = vm.openConsole();
  t.after(() => shell.destroy());
  // busybox acpid runs /etc/acpi/PWRF/00000080 when the power button is pressed.
  const mark = vm.console.buffer.total;
  shell.write(
    'insmod /lib/modules/button.ko; insmod /lib/modules/evdev.ko; mkdir -p /etc/acpi/PWRF /var/log; ' +
      "printf '#!/bin/sh\\npoweroff -f\\n' > /etc/acpi/PWRF/00000080; chmod +x /etc/acpi/PWRF/00000080; acpid -f & echo ACPI-READY\n",
  );
  await vm.console.buffer.waitFor('ACPI-READY\r\n', { since: mark, timeoutMs: 20_000 });
  const off = nextPower(vm, 'off');
  // acpid opens the input devices just after it forks into the background: a press that comes
  // before is lost, as on a real machine, so the button is pressed again until the guest acts.
  for (let press = 1; ; press++) {
    try {
      await vm.softOff({ wait: true, timeoutMs: 3_000 });
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== 'LAB_TIMEOUT' || press === 10) throw error;
    }
  }
  assert.equal((await off).reason, 'soft-off');
  assert.equal(await vm.getPowerState(), 'off');
});

/** The file names of the kernel modules in a gzipped initramfs (newc cpio). */
async function initrdModules(initrd: string): Promise<string[]> {
  const { gunzipSync } = await import('node:zlib');
  const archive = gunzipSync(await readFile(initrd));
  const names: string[] = [];
  let offset = 0;
  // newc: a 110-byte ASCII header ("070701", then 13 8-digit hex fields), the name, data, each 4-aligned.
  while (offset + 110 <= archive.length && archive.toString('latin1', offset, offset + 6) === '070701') {
    const field = (i: number): number => Number.parseInt(archive.toString('latin1', offset + 6 + i * 8, offset + 14 + i * 8), 16);
    const size = field(6);
    const nameSize = field(11);
    const name = archive.toString('latin1', offset + 110, offset + 110 + nameSize - 1);
    if (name === 'TRAILER!!!') {
      // Archives may be concatenated (an overlay appended to a base image): go on to the next.
      offset = archive.indexOf('070701', offset + 110, 'latin1');
      if (offset < 0) break;
      continue;
    }
    if (name.endsWith('.ko')) names.push(name.slice(name.lastIndexOf('/') + 1));
    offset = Math.ceil((offset + 110 + nameSize) / 4) * 4;
    offset = Math.ceil((offset + size) / 4) * 4;
  }
  return names;
}

test('orphan cleanup stops a QEMU whose definition was deleted behind its back, and only that one', { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64')) return;
  const store = await lab(t);
  await store.create({ name: 'keep1', mac: '52:54:00:aa:00:05', memoryMb: 64, diskSize: null, netdev: 'none' });
  await store.create({ name: 'orphan1', mac: '52:54:00:aa:00:06', memoryMb: 64, diskSize: null, netdev: 'none' });
  const keep = await openVm(t, store, 'keep1');
  const orphan = await openVm(t, store, 'orphan1', { watch: false });
  await keep.powerOn();
  await orphan.powerOn();
  const orphanPid = orphan.pid!;
  t.after(() => {
    if (isAlive(orphanPid)) process.kill(orphanPid, 'SIGKILL');
  });
  await rm(join(store.vmsDir, 'orphan1.json'));

  assert.deepEqual(await cleanupOrphans(store), ['orphan1']);
  assert.equal(isAlive(orphanPid), false);
  assert.equal(existsSync(store.runDir('orphan1')), false);
  assert.equal(await keep.getPowerState(), 'on');
});
