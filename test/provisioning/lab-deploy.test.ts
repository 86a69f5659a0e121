// Issue 10's end to end, as an operator would do it: `anvil serve` and `anvil lab` on one data
// directory; three lab VMs (QEMU, TCG) with empty virtio disks, enrolled with `lab vm create
// --enroll` (no network flags: they reach that anvil), two behind emulated IPMI BMCs and one
// behind an emulated AMT; a bootable disk image built from Debian's packages uploaded raw and
// zstd-compressed; `anvil machine deploy` on all three at once. Each VM is powered on through
// its controller, PXE-boots anvil's agent, which writes and verifies the image; it is
// power-cycled, boots its disk (no further network boot), asks /nexttest/, runs its test and
// uploads the result, which the machine page shows in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { ANVIL, PXEMNGR, exec, startServer } from '../helpers/anvil-process.ts';
import { havePeers } from '../helpers/peers.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.ts';
import { buildDiskImage, DISK_IMAGE_PEERS } from '../../src/lab/disk-image.ts';
import { labData, startLabUp } from '../lab/helpers.ts';
import { GUEST_ANVIL } from '../../src/lab/guest-network.ts';

const PASSWORD = 'deploy-Lab-9';
/**
 * iPXE, the agent, the write, a power cycle, syslinux and the tiny Linux, three VMs at once under
 * TCG on a loaded machine. With the wait for the runs it stays inside the test's timeout, so a
 * deploy that never ends fails with the server's and the lab's words rather than a bare timeout.
 */
const DEPLOY_TIMEOUT_S = 420;

interface Vm {
  readonly name: string;
  readonly mac: string;
  readonly image: string;
  readonly bmc: string[];
}

async function ok(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const result = await exec(file, args, env);
  assert.equal(result.code, 0, `${file} ${args.join(' ')}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

test('three lab VMs deployed at once (ipmi raw, ipmi zstd, amt raw) boot their disks and report a test run', { timeout: 900_000 }, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64', 'zstd', CHROMIUM, ...DISK_IMAGE_PEERS)) return;
  const data = labData(t);
  mkdirSync(join(data, 'tftp/pxelinux.cfg/profiles'), { recursive: true });
  mkdirSync(join(data, 'tests'), { recursive: true });
  writeFileSync(join(data, 'tftp/pxelinux.cfg/profiles/local.prof'), 'DEFAULT local\nLABEL local\n  LOCALBOOT 0\n');
  writeFileSync(join(data, 'tests/wait.test'), 'sleep 5\n');
  writeFileSync(
    join(data, 'tests/hello.test'),
    '#!/bin/sh\necho "I: hello from {{ system }} on its own disk"\necho "V: tiny-1"\ngrep -q anvil.run=nexttest-upload /proc/cmdline && echo "I: booted the deployed image"\n',
  );
  await ok(PXEMNGR, ['--data', data, 'syncbootnames']);
  await ok(PXEMNGR, ['--data', data, 'synctestnames']);

  const server = await startServer(data, ['--power-sync-interval', '0']);
  t.after(() => server.stop());

  const vms: Vm[] = [
    { name: 'dep-ipmi', mac: '52:54:00:d1:00:01', image: 'tiny', bmc: ['--bmc', 'ipmi', '--bmc-port', String(await freeUdpPort())] },
    { name: 'dep-zstd', mac: '52:54:00:d1:00:02', image: 'tiny-zstd', bmc: ['--bmc', 'ipmi', '--bmc-port', String(await freeUdpPort())] },
    { name: 'dep-amt', mac: '52:54:00:d1:00:03', image: 'tiny', bmc: ['--bmc', 'amt', '--amt-port', String(await freeTcpPort())] },
  ];
  for (const vm of vms) {
    await ok(ANVIL, ['lab', 'vm', 'create', vm.name, '--mac', vm.mac, '--disk', '64M', '--memory', '384', ...vm.bmc, '--enroll', '--data', data], {
      ANVIL_BMC_PASSWORD: PASSWORD,
    });
    await ok(PXEMNGR, ['--data', data, 'nexttest', vm.name, 'hello']);
  }
  const lab = await startLabUp(
    t,
    data,
    vms.map((vm) => `${vm.name}: `),
  );

  // The image's tiny Linux reaches anvil at the lab network's guest address.
  const image = buildDiskImage({ server: GUEST_ANVIL });
  const zstd = join(data, 'tiny.raw.zst');
  execFileSync('zstd', ['-q', '-f', image.path, '-o', zstd]);
  assert.match(
    await ok(ANVIL, ['image', 'upload', image.path, '--name', 'tiny', '--sha256', image.sha256, '--data', data]),
    /tiny: raw, 32\.0 MiB of disk content/,
  );
  assert.match(
    await ok(ANVIL, ['image', 'upload', zstd, '--name', 'tiny-zstd', '--data', data]),
    new RegExp(`tiny-zstd: zstd, 32\\.0 MiB of disk content, sha256 ${image.sha256}`),
  );

  // What the server, the lab and each machine's provision state say, for a failure's message.
  const evidence = async (): Promise<string> => {
    const states = await Promise.all(vms.map((vm) => exec(ANVIL, ['machine', 'provision', vm.name, '--data', data]).then((r) => r.stdout + r.stderr)));
    return `${states.join('\n')}\n--- anvil serve:\n${server.logs().slice(-6000)}\n--- anvil lab up:\n${lab.output.text.slice(-3000)}`;
  };
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const overdue = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => void evidence().then((text) => reject(new Error(`the deploys did not end within ${DEPLOY_TIMEOUT_S + 60} s:\n${text}`))),
      (DEPLOY_TIMEOUT_S + 60) * 1000,
    );
  });
  overdue.catch(() => {});
  const deploys = await Promise.race([
    Promise.all(vms.map((vm) => exec(ANVIL, ['machine', 'deploy', vm.name, '--image', vm.image, '--timeout', String(DEPLOY_TIMEOUT_S), '--data', data]))),
    overdue,
  ]).finally(() => clearTimeout(timer));
  for (const [i, result] of deploys.entries()) {
    assert.equal(result.code, 0, `${vms[i]!.name}: ${result.stdout}\n${result.stderr}\n${await evidence()}`);
    assert.match(result.stdout, new RegExp(`${vms[i]!.name}: active, image ${vms[i]!.image}`));
  }
  t.diagnostic(`three deploys took ${Math.round((Date.now() - started) / 1000)} s`);

  const token = (await ok(ANVIL, ['token', 'create', '--role', 'viewer', '--data', data])).trim();
  const api = async <T>(path: string): Promise<T> =>
    (await (await fetch(`${server.url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } })).json()) as T;
  type Run = { id: number; state: string; infos: number; version: string | null };
  for (const vm of vms) {
    // The disk-booted tiny Linux asks /nexttest/ and uploads; give it the time of a boot.
    let runs: Run[] = [];
    for (let i = 0; i < 180 && !(runs[0]?.state === 'done'); i++) {
      runs = await api<Run[]>(`/machines/${vm.name}/runs`);
      if (runs[0]?.state !== 'done') await sleep(1000);
    }
    assert.equal(runs[0]?.state, 'done', `${vm.name}'s test run: ${JSON.stringify(runs)}\n${await evidence()}`);
    assert.equal(runs[0]?.infos, 2, `${vm.name} booted the deployed image`);
    assert.equal(runs[0]?.version, 'tiny-1');
    // Booted from its disk: the last boot anvil served it was the agent's.
    const log = await api<Array<{ kind: string; profile: string }>>(`/machines/${vm.name}/boot-log`);
    assert.equal(log.find((e) => e.kind === 'boot')?.profile, `anvil agent (deploy ${vm.image})`, JSON.stringify(log));
    const provision = await api<{ provisionState: string; image: string; deployment: { device: string; bytesDone: number } }>(`/machines/${vm.name}/provision`);
    assert.deepEqual(
      [provision.provisionState, provision.image, provision.deployment.device, provision.deployment.bytesDone],
      ['active', vm.image, '/dev/vda', image.size],
    );
  }

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await (await browser.newContext({ baseURL: server.url })).newPage();
  await page.goto('/machines/dep-zstd');
  await page.fill('#token', token);
  await Promise.all([page.waitForURL('**/machines/dep-zstd'), page.click('button[type=submit]')]);
  assert.match(await page.locator('#provision-state').innerText(), /active · image tiny-zstd/);
  assert.match(await page.locator('table.runs tbody tr').first().innerText(), /hello\s+ok/);
  assert.match(await page.locator('#deployment').innerText(), /deploy of tiny-zstd: done to \/dev\/vda/);
  await page.screenshot({ path: join(data, '..', `deployed-machine-${process.pid}.png`), fullPage: true });
});
