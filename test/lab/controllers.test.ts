// A lab VM behind anvil's emulated controllers: ipmitool (a real peer) against the IPMI BMC
// emulator, and anvil's AMT client against the AMT emulator, each powering a real QEMU into iPXE.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { LabAmtHandler, LabIpmiHandler } from '../../src/lab/controllers.ts';
import type { LabVm } from '../../src/lab/vm.ts';
import { commandLineOf, isAlive } from '../../src/lab/process.ts';
import { AmtClient, AmtEmulator } from '../../src/protocols/amt/index.ts';
import { BmcServer } from '../../src/protocols/ipmi/server/server.ts';
import { runPeer } from '../ipmi/emulator-helpers.ts';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { lab, openVm } from './helpers.ts';
import { IpmiClient } from '../../src/protocols/ipmi/client/client.ts';
import { SolConsole } from '../../src/protocols/ipmi/client/sol.ts';
import { existsSync } from 'node:fs';

const USER = 'admin';
const PASSWORD = 'lab-test-pw';
const IPXE_BANNER_MS = 40_000;
/** A shell echo over SOL comes back within a second; this is the hung case. */
const SOL_ANSWER_MS = 20_000;

async function labVm(t: TestContext, name: string, mac: string): Promise<LabVm> {
  const store = await lab(t);
  await store.create({
    name,
    mac,
    memoryMb: 256,
    diskSize: null,
    bmc: { kind: 'both', address: '127.0.0.1', ipmiPort: 0, amtPort: 0, user: USER, password: PASSWORD },
  });
  return openVm(t, store, name);
}

test('ipmitool sets a one-time boot device, powers the VM on into iPXE, reads its state, powers it off', { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64', 'ipmitool')) return;
  const vm = await labVm(t, 'ipmi1', '52:54:00:bb:00:01');
  await vm.setBootDevice('disk', { persistent: true });
  const server = new BmcServer();
  t.after(() => server.close());
  const { port } = await server.add({ handler: new LabIpmiHandler(vm, { user: USER, password: PASSWORD }) });
  const ipmitool = (...args: string[]) =>
    runPeer(
      'ipmitool',
      ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', USER, '-E', '-N', '2', '-R', '3', ...args],
      { IPMI_PASSWORD: PASSWORD },
      60_000,
    );

  assert.match((await ipmitool('power', 'status')).stdout, /Chassis Power is off/);
  assert.equal((await ipmitool('chassis', 'bootdev', 'pxe')).code, 0);
  assert.deepEqual(await vm.getBootDevice(), { device: 'pxe', persistent: false, efi: false });

  const on = await ipmitool('power', 'on');
  assert.equal(on.code, 0, on.stderr);
  assert.equal(await vm.getPowerState(), 'on');
  assert.ok((await commandLineOf(vm.pid!))?.includes('order=c,once=n'), 'one-time PXE over a persistent disk');
  await vm.console.buffer.waitFor('iPXE', { timeoutMs: IPXE_BANNER_MS });
  // Spent by that boot: the machine is back to its own order.
  assert.deepEqual(await vm.getBootDevice(), { device: 'disk', persistent: true, efi: false });
  assert.match((await ipmitool('chassis', 'bootparam', 'get', '5')).stdout, /Boot Flag Invalid/);
  assert.match((await ipmitool('power', 'status')).stdout, /Chassis Power is on/);

  const pid = vm.pid!;
  assert.equal((await ipmitool('power', 'off')).code, 0);
  assert.equal(await vm.getPowerState(), 'off');
  assert.equal(isAlive(pid), false);
  assert.match((await ipmitool('power', 'status')).stdout, /Chassis Power is off/);
});

test('the AMT emulator in front of a lab VM: power on with a one-time PXE boot, reset refused when off', { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64')) return;
  const vm = await labVm(t, 'amt1', '52:54:00:bb:00:02');
  await vm.setBootDevice('disk', { persistent: true });
  const emulator = new AmtEmulator({ password: PASSWORD, address: '127.0.0.1', port: 0, handler: new LabAmtHandler(vm) });
  const { port } = await emulator.listen();
  t.after(() => emulator.close());
  const amt = new AmtClient({ host: '127.0.0.1', port, password: PASSWORD });
  t.after(() => amt.close());

  assert.equal(await amt.getPowerState(), 'off');
  await assert.rejects(amt.setPowerState('reset'));
  amt.setNextBoot('pxe');
  await amt.setPowerState('on');
  assert.equal(await vm.getPowerState(), 'on');
  assert.ok((await commandLineOf(vm.pid!))?.includes('order=c,once=n'));
  await vm.console.buffer.waitFor('iPXE', { timeoutMs: IPXE_BANNER_MS });
  assert.equal(await amt.getPowerState(), 'on');
  await amt.setPowerState('off');
  assert.equal(await vm.getPowerState(), 'off');
});

test("SOL through the IPMI emulator reaches the VM's serial console: a shell command typed over SOL runs in the guest", { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64')) return;
  const tiny = join(import.meta.dirname, '../../.tools/tiny-linux');
  if (!requireCondition(t, existsSync(join(tiny, 'vmlinuz')) && existsSync(join(tiny, 'initrd.gz')), `no tiny Linux in ${tiny} (scripts/tiny-linux builds it)`))
    return;
  const store = await lab(t);
  await store.create({
    name: 'sol1',
    mac: '52:54:00:bb:00:03',
    memoryMb: 256,
    diskSize: null,
    netdev: 'none',
    // anvil.poweroff=0: without a NIC the init gives up at once and leaves a shell on the console.
    extraArgs: ['-kernel', join(tiny, 'vmlinuz'), '-initrd', join(tiny, 'initrd.gz'), '-append', 'console=ttyS0 quiet no_timer_check anvil.poweroff=0'],
  });
  const vm = await openVm(t, store, 'sol1');
  const server = new BmcServer();
  t.after(() => server.close());
  const { port } = await server.add({ handler: new LabIpmiHandler(vm, { user: USER, password: PASSWORD }) });
  await vm.powerOn();
  await vm.console.buffer.waitFor(/\/ # /, { timeoutMs: 60_000 });

  const client = new IpmiClient();
  t.after(() => client.close());
  const sol = await SolConsole.activate(client.bmc({ host: '127.0.0.1', port, user: USER, password: PASSWORD }));
  t.after(() => sol.close());
  let shown = '';
  const answered = new Promise<void>((resolve) => sol.on('data', (d: Buffer) => (shown += d.toString()).includes('SOL-42') && resolve()));
  sol.write('echo SOL-$((6*7))\r');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`no SOL-42 over SOL; saw ${JSON.stringify(shown)}`)), SOL_ANSWER_MS)),
  );
  await Promise.race([answered, timedOut]).finally(() => clearTimeout(timer));
  assert.match(vm.console.buffer.text(), /SOL-42/);
});

test("a power-on that fails (QEMU refuses the VM) is an IPMI error to the client and reported with QEMU's own words", { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64', 'ipmitool')) return;
  const store = await lab(t);
  await store.create({ name: 'bad1', mac: '52:54:00:bb:00:04', memoryMb: 256, diskSize: null, netdev: 'no-such-backend' });
  const vm = await openVm(t, store, 'bad1');
  const failures: string[] = [];
  const server = new BmcServer();
  t.after(() => server.close());
  const handler = new LabIpmiHandler(vm, {
    user: USER,
    password: PASSWORD,
    onError: (error, action) => failures.push(`${action}: ${(error as { code?: string }).code} ${(error as Error).message}`),
  });
  const { port } = await server.add({ handler });
  const on = await runPeer(
    'ipmitool',
    ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', USER, '-E', '-N', '5', '-R', '1', 'power', 'on'],
    { IPMI_PASSWORD: PASSWORD },
    60_000,
  );
  assert.notEqual(on.code, 0);
  // Under load QEMU may take longer to fail than ipmitool waits: the failure is reported when it does.
  for (const deadline = Date.now() + 30_000; failures.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
  assert.equal(failures.length, 1);
  assert.match(failures[0]!, /^power on: LAB_QEMU_FAILED .*no-such-backend/);
  assert.equal(await vm.getPowerState(), 'off');
});
