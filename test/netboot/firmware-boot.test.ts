// Real firmware boots from anvil. In a private network namespace (bridge and tap; nothing
// leaves the machine) anvil serves DHCP, TFTP and HTTP; a QEMU VM (TCG, Debian's iPXE ROM)
// with an empty disk netboots the tiny Linux, whose init calls /localboot/ and prints a
// marker; then anvil's next answer for that machine is local boot. Three ways: anvil as the
// DHCP server with iPXE over HTTP; the same through pxelinux.0 over TFTP; anvil as proxyDHCP
// beside dnsmasq as the site's DHCP server.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { createNetns, isRoot, type Netns } from '../helpers/netns.ts';
import { bootVm, testMac } from '../helpers/qemu.ts';
import { ANVIL, PXEMNGR, ROOT, exec, tempDir } from '../helpers/anvil-process.ts';

const TINY = join(ROOT, '.tools/tiny-linux');
const HTTP_PORT = 8080;
/** TCG is slow: iPXE, the kernel and the init take a minute or two on a busy 2-core machine. */
const BOOT_TIMEOUT_MS = 300_000;

function ready(t: TestContext): boolean {
  if (!havePeers(t, 'qemu-system-x86_64', 'ip', 'curl')) return false;
  if (!requireCondition(t, isRoot(), 'network namespaces need root')) return false;
  if (!requireCondition(t, existsSync('/usr/lib/ipxe/qemu/pxe-virtio.rom'), 'the iPXE ROM (ipxe-qemu) is missing')) return false;
  return requireCondition(
    t,
    existsSync(join(TINY, 'vmlinuz')) && existsSync(join(TINY, 'initrd.gz')),
    `the tiny Linux is not built in ${TINY} (scripts/tiny-linux)`,
  );
}

/** A data directory with the tiny Linux in the TFTP root and a profile that boots it. */
function dataFor(ns: Netns, marker: string): string {
  const data = tempDir('anvil-e2e-');
  const profiles = join(data, 'tftp/pxelinux.cfg/profiles');
  mkdirSync(profiles, { recursive: true });
  mkdirSync(join(data, 'tests'), { recursive: true });
  mkdirSync(join(data, 'tftp/tiny'), { recursive: true });
  copyFileSync(join(TINY, 'vmlinuz'), join(data, 'tftp/tiny/vmlinuz'));
  copyFileSync(join(TINY, 'initrd.gz'), join(data, 'tftp/tiny/initrd.gz'));
  writeFileSync(join(profiles, 'local.prof'), 'DEFAULT local\nLABEL local\n  LOCALBOOT 0\n');
  writeFileSync(
    join(profiles, 'tiny.prof'),
    [
      'DEFAULT tiny',
      'LABEL tiny',
      '  KERNEL tiny/vmlinuz',
      `  APPEND initrd=tiny/initrd.gz console=ttyS0 quiet anvil.server=${ns.address}:${HTTP_PORT} anvil.mac={{ mac }} anvil.marker=${marker}`,
      '',
    ].join('\n'),
  );
  return data;
}

async function enroll(data: string, mac: string): Promise<void> {
  for (const args of [['syncbootnames'], ['addsystem', 'vm1', mac], ['nextboot', 'vm1', 'tiny']]) {
    const r = await exec(PXEMNGR, ['--data', data, ...args]);
    assert.equal(r.code, 0, `pxemngr ${args.join(' ')}: ${r.stderr}`);
  }
}

/** Starts bin/anvil serve inside the namespace and waits for its HTTP side. */
async function serveIn(t: TestContext, ns: Netns, data: string, args: string[]): Promise<() => string> {
  const child = ns.spawn(ANVIL, ['serve', '--data', data, '--http', `0.0.0.0:${HTTP_PORT}`, '--tftp', '0.0.0.0:69', ...args]);
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const deadline = Date.now() + 30_000;
  while (!/anvil is serving/.test(log)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`anvil serve did not start in ${ns.name}:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.after(() => void child.kill('SIGTERM'));
  return () => log;
}

async function bootAndCheck(t: TestContext, ns: Netns, data: string, logs: () => string, marker: string, mac: string): Promise<void> {
  const vm = bootVm(t, { netns: ns, mac });
  try {
    await vm.waitFor(new RegExp(`${marker} ${mac}`), BOOT_TIMEOUT_MS);
  } catch (error) {
    throw new Error(`${(error as Error).message}\nanvil log tail:\n${logs().slice(-4000)}`);
  }
  // The init's /localboot/ callback switched the machine: anvil now answers with local boot.
  const dpy = await exec(PXEMNGR, ['--data', data, 'dpysystem', 'vm1']);
  assert.match(dpy.stdout, /next boot: local/);
  assert.match(dpy.stdout, /localboot callback/);
  const next = await ns.exec('curl', ['-sf', `http://${ns.address}:${HTTP_PORT}/profile/${mac}/`]);
  assert.equal(next, 'local');
}

test('iPXE firmware gets its lease from anvil, fetches /boot/<mac> and boots the tiny Linux', { timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
  if (!ready(t)) return;
  const ns = await createNetns(t, { prefix: 'anvil-ipxe' });
  const marker = 'ANVIL-E2E-IPXE';
  const mac = testMac(1);
  const data = dataFor(ns, marker);
  await enroll(data, mac);
  const logs = await serveIn(t, ns, data, ['--dhcp', 'server', '--dhcp-interface', ns.bridge, '--dhcp-range', `${ns.subnet}.100-${ns.subnet}.150`]);
  await bootAndCheck(t, ns, data, logs, marker, mac);
  const dpy = await exec(PXEMNGR, ['--data', data, 'dpysystem', 'vm1']);
  assert.match(dpy.stdout, /booted\s+tiny\s+iPXE/);
  assert.match(logs(), /"dhcp":"REQUEST".*"reply":"ACK"|dhcp reply/);
});

test('firmware loads pxelinux.0 over TFTP, which boots the rendered pxelinux.cfg/01-<mac>', { timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
  if (!ready(t)) return;
  if (!requireCondition(t, existsSync('/usr/lib/PXELINUX/pxelinux.0'), 'pxelinux.0 (Debian pxelinux) is missing')) return;
  const ns = await createNetns(t, { prefix: 'anvil-pxl' });
  const marker = 'ANVIL-E2E-PXELINUX';
  const mac = testMac(2);
  const data = dataFor(ns, marker);
  await enroll(data, mac);
  const logs = await serveIn(t, ns, data, [
    '--dhcp',
    'server',
    '--dhcp-interface',
    ns.bridge,
    '--dhcp-range',
    `${ns.subnet}.100-${ns.subnet}.150`,
    '--boot-loader',
    'pxelinux',
  ]);
  await bootAndCheck(t, ns, data, logs, marker, mac);
  const dpy = await exec(PXEMNGR, ['--data', data, 'dpysystem', 'vm1']);
  assert.match(dpy.stdout, /booted\s+tiny\s+pxelinux/);
  assert.match(logs(), /pxelinux\.0/);
});

test("anvil as proxyDHCP beside dnsmasq, the site's DHCP server", { timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
  if (!ready(t) || !havePeers(t, 'dnsmasq')) return;
  const ns = await createNetns(t, { prefix: 'anvil-proxy' });
  const marker = 'ANVIL-E2E-PROXY';
  const mac = testMac(3);
  const data = dataFor(ns, marker);
  await enroll(data, mac);
  // The site's DHCP server is another host on the LAN (a peer namespace on the bridge); it
  // hands out addresses only: no PXE options, no TFTP, no DNS.
  const siteHost = await ns.addPeer(2);
  const site = ns.spawn(
    'dnsmasq',
    [
      '--no-daemon',
      '--port=0',
      '--interface=eth0',
      '--bind-interfaces',
      `--dhcp-range=${ns.subnet}.50,${ns.subnet}.90,255.255.255.0,10m`,
      '--dhcp-leasefile=/dev/null',
      '--log-dhcp',
    ],
    {},
    siteHost,
  );
  let siteLog = '';
  site.stderr!.on('data', (c: Buffer) => (siteLog += c.toString()));
  const logs = await serveIn(t, ns, data, ['--dhcp', 'proxy', '--dhcp-interface', ns.bridge]);
  await bootAndCheck(t, ns, data, () => `${logs()}\ndnsmasq:\n${siteLog}`, marker, mac);
  assert.match(siteLog, new RegExp(`DHCPACK\\(eth0\\) ${ns.subnet}\\.\\d+ ${mac}`));
});
