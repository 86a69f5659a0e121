// Shared by the lab tests: a lab in a temp directory and VMs opened in it, so that no QEMU a
// test started outlives it — stopped through the lab first, then by pid if still there.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { commandLineOf, isAlive } from '../../src/lab/process.ts';
import { LabStore } from '../../src/lab/store.ts';
import { stopLab } from '../../src/lab/up.ts';
import { LabVm } from '../../src/lab/vm.ts';
import type { LabPowerEvent, LabVmOptions } from '../../src/lab/vm.ts';

const started = new WeakMap<LabStore, Set<number>>();

/** A lab in a short temp directory (Unix socket paths are limited to 107 bytes). */
export async function lab(t: TestContext): Promise<LabStore> {
  const dir = await mkdtemp(join(tmpdir(), 'anvil-lab-'));
  const store = new LabStore(dir);
  const pids = new Set<number>();
  started.set(store, pids);
  t.after(async () => {
    await stopLab(store).catch(() => undefined);
    // Belt and braces: a QEMU this test started whose stop failed is killed by its pid, if it is still that QEMU.
    for (const pid of pids) {
      if (isAlive(pid) && (await commandLineOf(pid))?.some((a) => a.includes(dir))) process.kill(pid, 'SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  });
  return store;
}

/** Opens a VM of a lab made by lab(); every QEMU it starts is remembered for the clean-up. */
export async function openVm(t: TestContext, store: LabStore, name: string, options: LabVmOptions = {}): Promise<LabVm> {
  const vm = await LabVm.open(store, name, options);
  t.after(() => vm.close());
  const pids = started.get(store);
  vm.on('power', (e: LabPowerEvent) => {
    if (e.state === 'on' && vm.pid !== undefined) pids?.add(vm.pid);
  });
  return vm;
}

/** The next power event of that state. */
export function nextPower(vm: LabVm, state: 'on' | 'off'): Promise<LabPowerEvent> {
  return new Promise((resolve) => {
    const on = (e: LabPowerEvent): void => {
      if (e.state !== state) return;
      vm.off('power', on);
      resolve(e);
    };
    vm.on('power', on);
  });
}
