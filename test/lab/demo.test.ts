// bin/anvil demo as the README's first command runs it: from a folder with no data directory,
// so it makes ./anvil-demo, with QEMU installed and what scripts/install builds (the deploy
// agent, the tiny Linux and its disk image). Its first machine is a real VM behind an emulated
// IPMI BMC; the demo uploads its disk image into the library and deploys it through anvil's
// provisioning engine (the VM netboots the agent over QEMU's isolated user network, which writes
// the image), the VM boots its disk and reports a test run, all seen through the API; SIGTERM
// stops the demo and every QEMU. --simulated keeps to simulated machines, which boot through the
// boot answer real ones get and have a power state; each start revokes the last one's token.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { ANVIL, tempDir } from '../helpers/anvil-process.ts';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { freeTcpPort } from '../helpers/ports.ts';
import { DEFAULT_IPXE_ROM } from '../../src/lab/qemu-args.ts';
import { demoImageMissing, DEMO_IMAGE } from '../../src/app/demo/image.ts';
import { Output, stopChild } from './helpers.ts';

/** The demo's first deploy under TCG, on a loaded machine: iPXE, the agent, the write, a power cycle. */
const DEPLOY_MS = 150_000;
/** Its disk's boot: SeaBIOS, syslinux, the tiny Linux, its test. */
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

interface Demo {
  readonly output: Output;
  readonly url: string;
  readonly token: string;
  readonly api: <T>(path: string) => Promise<T>;
  stop(): Promise<[number | null, NodeJS.Signals | null]>;
}

/** Starts `anvil demo` in `cwd` with a free HTTP port and no TFTP (the tests of this file may run beside others). */
async function startDemo(t: TestContext, cwd: string, args: readonly string[], readyMs: number): Promise<Demo> {
  const port = await freeTcpPort();
  const env = { ...process.env };
  delete env.ANVIL_DATA;
  const demo = spawn(ANVIL, ['demo', '--http', `127.0.0.1:${port}`, '--tftp', 'off', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => stopChild(demo));
  const output = new Output(demo, demo.stdout, demo.stderr);
  await output.waitFor('Ctrl-C stops it', readyMs);
  const url = `http://127.0.0.1:${port}`;
  const token = /admin token: (\S+)/.exec(output.text)![1]!;
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
    return (await response.json()) as T;
  };
  return { output, url, token, api, stop: () => stopChild(demo, 60_000) };
}

type Run = { id: number; state: string; test: string; infos: number; sent_at: string | null; version: string | null };
type Provision = { provisionState: string; image: string | null; deployment?: { state: string; finishedAt: string | null; device: string | null } };

test("the README's first command: anvil demo in a fresh folder deploys its image to a QEMU machine, which boots it and reports a test; SIGTERM leaves no QEMU", {
  timeout: 240_000,
}, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64', 'qemu-img')) return;
  if (!requireCondition(t, existsSync(DEFAULT_IPXE_ROM), `no iPXE ROM ${DEFAULT_IPXE_ROM} (ipxe-qemu)`)) return;
  const missing = demoImageMissing();
  if (!requireCondition(t, missing === undefined, `the demo cannot deploy: ${missing}`)) return;
  const cwd = tempDir('anvil-demo-cwd-');
  const data = join(cwd, 'anvil-demo');
  t.after(async () => {
    for (const pid of await processesUsing(data)) process.kill(pid, 'SIGKILL');
    await rm(cwd, { recursive: true, force: true });
  });
  const demo = await startDemo(t, cwd, [], 60_000);
  const { output, api } = demo;
  assert.match(output.text, new RegExp(`data directory: ${data}\n`));
  assert.match(output.text, /QEMU lab: 3 real VM\(s\)/);
  assert.match(output.text, /demo-01 {2}52:54:00:de:00:01 {2}IPMI BMC 127\.0\.0\.1:\d+/);
  assert.match(output.text, new RegExp(`each is deployed with image ${DEMO_IMAGE}`));
  assert.match(output.text, /simulated machines \(HTTP clients in this process, driver fake\): demo-04, demo-05/);
  // Isolated: slirp relays the VM to anvil and lets nothing else out.
  assert.match(
    JSON.parse(await readFile(join(data, 'lab/vms/demo-01.json'), 'utf8')).netdev,
    /^user,restrict=on,bootfile=http:\/\/10\.0\.2\.100\/boot\/52:54:00:de:00:01,guestfwd=tcp:10\.0\.2\.100:80-cmd:/,
  );
  const driver = await api<{ driver: string; driverInfo: Record<string, unknown> }>('/machines/demo-01/driver');
  assert.equal(driver.driver, 'ipmi');
  assert.equal(driver.driverInfo.ipmi_password, '******');
  const images = await api<{ name: string; origin: string; virtualSize: number }[]>('/images');
  assert.deepEqual(
    images.map((i) => [i.name, i.origin]),
    [[DEMO_IMAGE, 'upload']],
  );

  // Deployed through the provisioning engine: the agent booted from anvil, wrote and verified the image.
  const deployed = await until('demo-01 to be deployed', DEPLOY_MS, async () => {
    const p = await api<Provision>('/machines/demo-01/provision');
    assert.notEqual(p.provisionState, 'deploy-failed', JSON.stringify(p));
    return p.provisionState === 'active' ? p : undefined;
  });
  assert.deepEqual([deployed.image, deployed.deployment?.state, deployed.deployment?.device], [DEMO_IMAGE, 'done', '/dev/vda']);
  const log = await api<{ kind: string; loader: string | null; profile: string }[]>('/machines/demo-01/boot-log');
  assert.deepEqual(
    log.filter((e) => e.kind === 'boot').map((e) => [e.loader, e.profile]),
    [['iPXE', `anvil agent (deploy ${DEMO_IMAGE})`]],
  );
  // Then it booted its own disk (no further netboot), ran its first test there and uploaded it.
  const run = await until('a test run of demo-01 from its disk', BOOT_MS, async () =>
    (await api<Run[]>('/machines/demo-01/runs')).find((r) => r.state === 'done'),
  );
  assert.equal(run.test, 'hello');
  assert.ok(run.sent_at! > deployed.deployment!.finishedAt!, `sent after the deploy: ${JSON.stringify(run)} ${JSON.stringify(deployed)}`);
  assert.equal(run.infos, 2, JSON.stringify(run));
  assert.match(run.version ?? '', /^demo-os 1\.\d$/);
  const fleet = await api<{ name: string; powerState: string; lastBoot?: { profile: string } }[]>('/machines');
  assert.equal(fleet.find((m) => m.name === 'demo-01')?.lastBoot?.profile, `anvil agent (deploy ${DEMO_IMAGE})`);
  t.diagnostic(`demo start to demo-01 reporting: ${output.text.match(/active with image \S+ after (\d+) s/)?.[1]} s to deploy`);

  assert.deepEqual(await demo.stop(), [0, null], output.text.slice(-2000));
  assert.deepEqual(await processesUsing(data), [], 'no QEMU of the demo is left');
});

test('anvil demo --simulated: no QEMU; its machines boot through the boot answer and have a power state; a new start revokes the last token', {
  timeout: 300_000,
}, async (t) => {
  const cwd = tempDir('anvil-demo-cwd-');
  t.after(() => rm(cwd, { recursive: true, force: true }));
  const first = await startDemo(t, cwd, ['--simulated'], 30_000);
  assert.match(first.output.text, /simulated machines \(HTTP clients in this process, driver fake\): demo-01, demo-02, demo-03, demo-04, demo-05/);
  assert.doesNotMatch(first.output.text, /QEMU lab/);
  assert.equal(existsSync(join(cwd, 'anvil-demo/lab')), false, 'no lab VM defined');
  type Fleet = { name: string; driver: string; powerState: string; lastBoot?: { profile: string } }[];
  const booted = await until('every simulated machine to boot', 30_000, async () => {
    const fleet = await first.api<Fleet>('/machines');
    return fleet.every((m) => m.lastBoot) ? fleet : undefined;
  });
  for (const m of booted) {
    assert.equal(m.driver, 'fake', m.name);
    assert.match(m.powerState, /^(on|off)$/, m.name);
  }
  // The same boot answer as a real machine's iPXE gets: a boot in the log, the once-rule applied.
  const log = await first.api<{ kind: string; loader: string | null; profile: string; reason: string }[]>('/machines/demo-01/boot-log');
  const firstBoot = log.filter((e) => e.kind === 'boot').at(-1);
  assert.deepEqual([firstBoot?.loader, firstBoot?.profile], ['iPXE', 'install'], `demo-01 was seeded to install once: ${JSON.stringify(log)}`);
  assert.ok(
    log.some((e) => e.kind === 'nextboot' && e.profile === 'local' && e.reason === 'once-rule'),
    JSON.stringify(log),
  );
  const power = await first.api<{ kind: string; message: string }[]>('/machines/demo-02/events');
  assert.ok(
    power.some((e) => e.kind === 'power' && /on by anvil demo/.test(e.message)),
    JSON.stringify(power),
  );
  assert.deepEqual(await first.stop(), [0, null]);

  const second = await startDemo(t, cwd, ['--simulated'], 30_000);
  assert.notEqual(second.token, first.token);
  const old = await fetch(`${second.url}/api/v1/machines`, { headers: { authorization: `Bearer ${first.token}` } });
  assert.equal(old.status, 401, "the last start's token is revoked");
  const tokens = await second.api<{ name: string; role: string }[]>('/tokens');
  assert.deepEqual(
    tokens.filter((k) => k.role === 'admin').map((k) => k.name),
    ['anvil demo'],
  );
  assert.deepEqual(await second.stop(), [0, null]);
});
