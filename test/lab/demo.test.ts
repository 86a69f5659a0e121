// bin/anvil demo with QEMU installed: its first machine is a real VM behind an emulated IPMI
// BMC, powered on through anvil's ipmi driver, netbooting from the demo's anvil over QEMU's
// isolated user network (iPXE fetches /boot/<mac> through slirp's relay), running its test in
// the tiny Linux; SIGTERM stops the demo and its QEMU. --simulated keeps to simulated machines.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { ANVIL, tempDir } from '../helpers/anvil-process.ts';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { DEFAULT_IPXE_ROM } from '../../src/lab/qemu-args.ts';
import { TINY_LINUX_DIR } from '../../src/app/demo/qemu-lab.ts';
import { Output, stopChild } from './helpers.ts';

/** A boot under TCG: SeaBIOS, iPXE, the tiny Linux, its test. */
const BOOT_MS = 90_000;
const POLL_MS = 1_000;

/** Every process whose command line names the directory (the demo's QEMUs have their sockets there). */
async function processesUsing(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(dir) && Number(entry) !== process.pid) pids.push(Number(entry));
  }
  return pids;
}

/** Polls the API until `check` returns a value (the VM's boot is not an event this test can subscribe to). */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

test("anvil demo with QEMU: a demo machine is a VM that netboots from the demo's anvil and runs its test; SIGTERM leaves no QEMU", {
  timeout: 300_000,
}, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64')) return;
  if (!requireCondition(t, existsSync(DEFAULT_IPXE_ROM), `no iPXE ROM ${DEFAULT_IPXE_ROM} (ipxe-qemu)`)) return;
  if (!requireCondition(t, existsSync(join(TINY_LINUX_DIR, 'vmlinuz')), `no tiny Linux in ${TINY_LINUX_DIR} (scripts/tiny-linux builds it)`)) return;
  const data = tempDir('anvil-demo-');
  const demo = spawn(ANVIL, ['demo', '--data', data, '--http', '127.0.0.1:0', '--tftp', 'off', '--lab-vms', '1', '--no-simulate'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(async () => {
    await stopChild(demo);
    for (const pid of await processesUsing(data)) process.kill(pid, 'SIGKILL');
    await rm(data, { recursive: true, force: true });
  });
  const output = new Output(demo, demo.stdout, demo.stderr);
  await output.waitFor('Ctrl-C stops it', 60_000);
  assert.match(output.text, /QEMU lab: 1 real VM\(s\)/);
  assert.match(output.text, /demo-01 {2}52:54:00:de:00:01 {2}IPMI BMC 127\.0\.0\.1:\d+/);
  assert.doesNotMatch(output.text, /simulated machines \(/, '--no-simulate: no simulated machine');
  // Isolated: slirp relays the VM to anvil and lets nothing else out.
  assert.match(
    JSON.parse(await readFile(join(data, 'lab/vms/demo-01.json'), 'utf8')).netdev,
    /^user,restrict=on,bootfile=http:\/\/10\.0\.2\.100\/boot\/52:54:00:de:00:01,guestfwd=tcp:10\.0\.2\.100:80-cmd:/,
  );
  const url = /API: (http:\/\/127\.0\.0\.1:\d+)\/api\/v1\/docs/.exec(output.text)![1]!;
  const token = /admin token: (\S+)/.exec(output.text)![1]!;
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
    return (await response.json()) as T;
  };

  const driver = await api<{ driver: string; driverInfo: Record<string, unknown> }>('/machines/demo-01/driver');
  assert.equal(driver.driver, 'ipmi');
  assert.equal(driver.driverInfo.ipmi_password, '******');
  // iPXE asked anvil for its boot script: the boot is in the machine's boot log.
  const boot = await until('demo-01 to netboot from the demo', BOOT_MS, async () =>
    (await api<{ kind: string; loader: string | null; profile: string }[]>('/machines/demo-01/boot-log')).find((e) => e.kind === 'boot'),
  );
  assert.deepEqual([boot.loader, boot.profile], ['iPXE', 'lab-vm']);
  // The tiny Linux ran the machine's first test and the demo uploaded what it printed.
  const run = await until('a test run of demo-01 to finish', BOOT_MS, async () =>
    (await api<{ state: string; test: string; infos: number }[]>('/machines/demo-01/runs')).find((r) => r.state === 'done'),
  );
  assert.ok(run.infos > 0, JSON.stringify(run));

  assert.deepEqual(await stopChild(demo, 60_000), [0, null], output.text.slice(-2000));
  assert.deepEqual(await processesUsing(data), [], 'no QEMU of the demo is left');
});

test('anvil demo --simulated starts no QEMU', { timeout: 300_000 }, async (t) => {
  const data = tempDir('anvil-demo-');
  const demo = spawn(ANVIL, ['demo', '--data', data, '--http', '127.0.0.1:0', '--tftp', 'off', '--simulated'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(async () => {
    await stopChild(demo);
    await rm(data, { recursive: true, force: true });
  });
  const output = new Output(demo, demo.stdout, demo.stderr);
  await output.waitFor('Ctrl-C stops it', 30_000);
  assert.match(output.text, /simulated machines \(HTTP clients in this process\): demo-01, demo-02, demo-03, demo-04, demo-05/);
  assert.doesNotMatch(output.text, /QEMU lab/);
  assert.equal(existsSync(join(data, 'lab')), false, 'no lab VM defined');
  assert.deepEqual(await stopChild(demo), [0, null]);
});
