// Issue 4's "done when", walked through as an operator would, with real peers: a lab VM
// (a real QEMU) behind its emulated controller, served by `bin/anvil lab up`, powered on and
// off with ipmitool, with amttool and with `bin/anvil machine power` (ipmi and amt drivers of
// VMs enrolled with `lab vm create --enroll`); the iPXE banner seen over SOL (`bin/anvil ipmi
// … sol activate`) and on the serial console (`bin/anvil lab vm console`); a QEMU that dies
// reported off through its BMC and logged; an AMT that sleeps retried, one that is gone
// retried and then a clear failure.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { ANVIL, exec } from '../helpers/anvil-process.ts';
import type { CommandResult } from '../helpers/anvil-process.ts';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.ts';
import { perlHasSoapLite, runChild } from '../amt/fixture.ts';
import { LabStore } from '../../src/lab/store.ts';
import { startLab } from '../../src/lab/up.ts';
import { labData, Output, qemuOf, running, startLabUp, stopChild } from './helpers.ts';

const USER = 'admin';
const PASSWORD = 'walk-Through-7';
/** SeaBIOS, then the iPXE ROM's banner, under TCG on a loaded machine. */
const BANNER_MS = 60_000;
const VM = ['--disk', 'none', '--memory', '128'];

/** bin/anvil lab on the test's data directory; the BMC password comes from the environment, never argv. */
function lab(data: string, ...args: string[]): Promise<CommandResult> {
  return exec(ANVIL, ['lab', ...args, '--data', data], { ANVIL_BMC_PASSWORD: PASSWORD });
}

function machine(data: string, ...args: string[]): Promise<CommandResult> {
  return exec(ANVIL, ['machine', '--data', data, ...args]);
}

/** ipmitool over RMCP+, the password in IPMI_PASSWORD (-E). */
function ipmitool(port: number, ...args: string[]): Promise<CommandResult> {
  return exec('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', USER, '-E', '-N', '2', '-R', '3', ...args], {
    IPMI_PASSWORD: PASSWORD,
  });
}

/** amttool answers its own "[y/N] ?" from stdin; the password in AMT_PASSWORD. */
function amttool(port: number, ...args: string[]) {
  return runChild('amttool', [`127.0.0.1:${port}`, ...args], { password: PASSWORD, input: 'y\n' });
}

async function created(data: string, ...args: string[]): Promise<string> {
  const result = await lab(data, 'vm', 'create', ...args);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

/** The VM's QEMU, which must be running. */
async function qemu(data: string, name: string): Promise<number> {
  const pid = await qemuOf(data, name);
  assert.ok(pid !== undefined, `${name}'s QEMU runs`);
  return pid;
}

function haveQemu(t: TestContext): boolean {
  return havePeers(t, 'qemu-system-x86_64');
}

test('ipmitool powers a lab VM on through its emulated BMC; anvil ipmi sol activate shows the iPXE banner; ipmitool powers it off', {
  timeout: 300_000,
}, async (t) => {
  if (!haveQemu(t) || !havePeers(t, 'ipmitool')) return;
  const data = labData(t);
  const port = await freeUdpPort();
  await created(data, 'wk-ipmi', '--mac', '52:54:00:4a:00:01', ...VM, '--bmc', 'ipmi', '--bmc-port', String(port));
  await startLabUp(t, data, [`wk-ipmi: IPMI BMC on 127.0.0.1:${port}`]);
  assert.match((await ipmitool(port, 'power', 'status')).stdout, /Chassis Power is off/);
  assert.equal(await qemuOf(data, 'wk-ipmi'), undefined, 'no QEMU while the VM is off');

  // SOL first, as an operator watching a machine boot does: it outlives the power-on.
  const sol = spawn(ANVIL, ['ipmi', '-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', USER, '-E', 'sol', 'activate'], {
    env: { ...process.env, IPMI_PASSWORD: PASSWORD },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  t.after(() => stopChild(sol));
  const solErr = new Output(sol, sol.stderr);
  const solOut = new Output(sol, sol.stdout);
  await solErr.waitFor('[SOL Session operational', 30_000);

  const on = await ipmitool(port, 'power', 'on');
  assert.equal(on.code, 0, on.stderr);
  const pid = await qemu(data, 'wk-ipmi');
  await solOut.waitFor('iPXE', BANNER_MS);
  assert.match((await ipmitool(port, 'power', 'status')).stdout, /Chassis Power is on/);

  const left = once(sol, 'exit');
  sol.stdin.write('\r~.');
  assert.deepEqual(await left, [0, null], '~. leaves SOL');

  const off = await ipmitool(port, 'power', 'off');
  assert.equal(off.code, 0, off.stderr);
  assert.equal(await running(pid), false, 'the QEMU process is gone');
  assert.equal(await qemuOf(data, 'wk-ipmi'), undefined);
  assert.match((await ipmitool(port, 'power', 'status')).stdout, /Chassis Power is off/);
});

test('amttool powers a lab VM up with a PXE boot through its emulated AMT; lab vm console shows the iPXE banner; amttool powers it down', {
  timeout: 300_000,
}, async (t) => {
  if (!haveQemu(t) || !havePeers(t, 'amttool', 'perl')) return;
  if (!requireCondition(t, perlHasSoapLite(), "Perl's SOAP::Lite (Debian libsoap-lite-perl), which amttool needs")) return;
  const data = labData(t);
  const port = await freeTcpPort();
  // A disk first in the boot order: only amttool's "pxe" makes this boot a network boot.
  await created(data, 'wk-amt', '--mac', '52:54:00:4a:00:02', '--disk', '64M', '--memory', '128', '--boot', 'disk', '--bmc', 'amt', '--amt-port', String(port));
  await startLabUp(t, data, [`wk-amt: AMT on 127.0.0.1:${port}`]);
  assert.match((await amttool(port, 'info')).stdout, /Powerstate: {3}S5 \(soft-off\)/);

  // AMT has no SOL here: the console is the lab's, which lab up shares while it holds QEMU's one connection.
  const console = spawn(ANVIL, ['lab', 'vm', 'console', 'wk-amt', '--data', data], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => stopChild(console));
  const consoleOut = new Output(console, console.stdout);
  await new Output(console, console.stderr).waitFor(/connected to wk-amt's serial console \(shared by lab up; the VM is off/, 30_000);

  const up = await amttool(port, 'powerup', 'pxe');
  assert.match(up.stdout, /powerup \[y\/N\] \? execute: powerup\nresult: pt_status: success/, up.stderr);
  const pid = await qemu(data, 'wk-amt');
  await consoleOut.waitFor('iPXE', BANNER_MS);
  assert.match((await amttool(port, 'info')).stdout, /Powerstate: {3}S0/);

  const left = once(console, 'exit');
  console.stdin.write(Buffer.from([0x1d]));
  assert.deepEqual(await left, [0, null], 'Ctrl-] leaves the console');

  const down = await amttool(port, 'powerdown');
  assert.match(down.stdout, /result: pt_status: success/, down.stderr);
  assert.equal(await running(pid), false, 'the QEMU process is gone');
  assert.match((await amttool(port, 'info')).stdout, /Powerstate: {3}S5 \(soft-off\)/);
});

test('anvil machine power drives VMs enrolled with lab vm create --enroll, with the ipmi driver and with the amt driver', { timeout: 300_000 }, async (t) => {
  if (!haveQemu(t)) return;
  const data = labData(t);
  const [ipmiA, amtA, ipmiB, amtB] = [await freeUdpPort(), await freeTcpPort(), await freeUdpPort(), await freeTcpPort()];
  // Two VMs with both controllers: one managed by anvil over IPMI (the default), one over AMT.
  assert.match(
    await created(data, 'wk-mi', '--mac', '52:54:00:4a:00:03', ...VM, '--bmc', 'both', '--bmc-port', String(ipmiA), '--amt-port', String(amtA), '--enroll'),
    new RegExp(`enrolled machine wk-mi: driver ipmi at 127\\.0\\.0\\.1:${ipmiA}`),
  );
  assert.match(
    await created(
      data,
      'wk-ma',
      '--mac',
      '52:54:00:4a:00:04',
      ...VM,
      '--bmc',
      'both',
      '--bmc-port',
      String(ipmiB),
      '--amt-port',
      String(amtB),
      '--enroll-driver',
      'amt',
    ),
    new RegExp(`enrolled machine wk-ma: driver amt at 127\\.0\\.0\\.1:${amtB}`),
  );
  await startLabUp(t, data, [`wk-mi: IPMI BMC on 127.0.0.1:${ipmiA}`, `wk-ma: AMT on 127.0.0.1:${amtB}`]);

  for (const [name, driver] of [
    ['wk-mi', 'ipmi'],
    ['wk-ma', 'amt'],
  ] as const) {
    assert.equal(JSON.parse((await machine(data, '--json', 'show', name)).stdout).driver, driver);
    assert.equal((await machine(data, 'power', name, 'status')).stdout, `${name}: power off\n`);
    const on = await machine(data, 'power', name, 'on');
    assert.deepEqual([on.code, on.stdout], [0, `${name}: power on\n`], on.stderr);
    const pid = await qemu(data, name);
    assert.equal((await machine(data, 'power', name, 'status')).stdout, `${name}: power on\n`);
    const off = await machine(data, 'power', name, 'off');
    assert.deepEqual([off.code, off.stdout], [0, `${name}: power off\n`], off.stderr);
    assert.equal(await running(pid), false, `${name}'s QEMU is gone`);
    assert.equal((await machine(data, 'power', name, 'status')).stdout, `${name}: power off\n`);
    assert.match((await machine(data, 'events', name)).stdout, /power on → off \(off by /);
  }
});

test("a VM whose QEMU dies reports power off through its BMC, and the event is logged by lab up and in the machine's events", {
  timeout: 300_000,
}, async (t) => {
  if (!haveQemu(t) || !havePeers(t, 'ipmitool')) return;
  const data = labData(t);
  const port = await freeUdpPort();
  await created(data, 'wk-die', '--mac', '52:54:00:4a:00:05', ...VM, '--bmc', 'ipmi', '--bmc-port', String(port), '--enroll');
  const up = await startLabUp(t, data, [`wk-die: IPMI BMC on 127.0.0.1:${port}`]);
  assert.equal((await machine(data, 'power', 'wk-die', 'on')).stdout, 'wk-die: power on\n');
  const pid = await qemu(data, 'wk-die');

  process.kill(pid, 'SIGKILL');
  await up.output.waitFor('wk-die: power off (killed, SIGKILL)', 30_000);
  assert.match((await ipmitool(port, 'power', 'status')).stdout, /Chassis Power is off/);
  // What power sync does on its interval: the state read from the BMC, recorded as a change.
  assert.equal((await machine(data, 'power', 'wk-die', 'status')).stdout, 'wk-die: power off\n');
  assert.match((await machine(data, 'events', 'wk-die')).stdout, /power on → off \(read\)/);
});

test('an AMT that sleeps while its host is off is retried until it answers; one that is gone is retried, then fails clearly', {
  timeout: 300_000,
}, async (t) => {
  if (!haveQemu(t)) return;
  const data = labData(t);
  const port = await freeTcpPort();
  await created(data, 'wk-zz', '--mac', '52:54:00:4a:00:06', ...VM, '--bmc', 'amt', '--amt-port', String(port), '--enroll');

  // Nothing listens: each attempt is refused, and after the last one the error names the machine, the AMT and what happened.
  const gone = await machine(data, 'power', 'wk-zz', 'status');
  assert.equal(gone.code, 1);
  assert.match(
    gone.stderr,
    new RegExp(`machine 'wk-zz': cannot reach AMT 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\) after 5 attempts, [\\d.]+ s in all; check the address and port`),
  );
  assert.doesNotMatch(gone.stderr + gone.stdout, new RegExp(PASSWORD));

  // A sleeping interface: the first connection is dropped; the AMT (lab up's, in this process) is up before the retry.
  const store = new LabStore(data);
  let drops = 0;
  let woken: ReturnType<typeof startLab> | undefined;
  const sleeping = createServer((socket) => {
    drops++;
    socket.resetAndDestroy();
    sleeping.close();
    woken ??= startLab(store);
  });
  await new Promise<void>((resolve) => sleeping.listen(port, '127.0.0.1', resolve));
  t.after(async () => {
    sleeping.close();
    await (await woken)?.close();
  });
  const on = await machine(data, 'power', 'wk-zz', 'on');
  assert.deepEqual([on.code, on.stdout], [0, 'wk-zz: power on\n'], on.stderr);
  assert.equal(drops, 1);
  await qemu(data, 'wk-zz');
});
