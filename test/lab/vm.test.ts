// Lab VMs on a real QEMU (TCG): power on into iPXE, reset, soft-off, power off, a killed QEMU,
// one-time boot devices, and a second LabVm (as another process would) driving the same VM.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { LabStore } from '../../src/lab/store.ts';
import { LabVm } from '../../src/lab/vm.ts';
import type { LabPowerEvent } from '../../src/lab/vm.ts';
import { commandLineOf, isAlive } from '../../src/lab/process.ts';
import { havePeers } from '../helpers/peers.ts';

/** iPXE prints its banner under SeaBIOS within a few seconds under TCG. */
const IPXE_BANNER_MS = 40_000;

async function lab(t: TestContext): Promise<LabStore> {
  // Short temp paths: Unix socket paths are limited to 107 bytes.
  const dir = await mkdtemp(join(tmpdir(), 'anvil-lab-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return new LabStore(dir);
}

async function openVm(t: TestContext, store: LabStore, name: string, options = {}): Promise<LabVm> {
  const vm = await LabVm.open(store, name, options);
  t.after(async () => {
    await vm.powerOff().catch(() => undefined);
    await vm.close();
  });
  return vm;
}

function nextPower(vm: LabVm, state: 'on' | 'off'): Promise<LabPowerEvent> {
  return new Promise((resolve) => {
    const on = (e: LabPowerEvent): void => {
      if (e.state !== state) return;
      vm.off('power', on);
      resolve(e);
    };
    vm.on('power', on);
  });
}

test('a lab VM boots iPXE from its NIC, resets, ignores ACPI at the iPXE prompt, and powers off', { timeout: 120_000 }, async (t) => {
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
