// Real firmware boots from anvil. In a private network namespace (bridge and tap; nothing
// leaves the machine) anvil serves DHCP, TFTP and HTTP; a QEMU VM (TCG, Debian's iPXE ROM)
// with an empty disk netboots the tiny Linux, whose init calls /localboot/ and prints a
// marker; then anvil's next answer for that machine is local boot. Three ways: anvil as the
// DHCP server with iPXE over HTTP; the same through pxelinux.0 over TFTP; anvil as proxyDHCP
// beside dnsmasq as the site's DHCP server.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { createNetns, type Netns } from '../helpers/netns.ts';
import { bootVm, testMac } from '../helpers/qemu.ts';
import { ANVIL, PXEMNGR, exec } from '../helpers/anvil-process.ts';
import { NETBOOT_HTTP_PORT, enrollTiny, netbootReady, serveInNamespace, startSiteDhcp, tinyBootData } from '../helpers/netboot-e2e.ts';

/** TCG is slow: iPXE, the kernel and the init take a minute or two on a busy 2-core machine. */
const BOOT_TIMEOUT_MS = 300_000;

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
  const next = await ns.exec('curl', ['-sf', `http://${ns.address}:${NETBOOT_HTTP_PORT}/profile/${mac}/`]);
  assert.equal(next, 'local');
}

test('iPXE firmware gets its lease from anvil, fetches /boot/<mac> and boots the tiny Linux', { timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
  if (!netbootReady(t, [['/usr/lib/ipxe/qemu/pxe-virtio.rom', 'the iPXE ROM, Debian package ipxe-qemu']])) return;
  const ns = await createNetns(t, { prefix: 'anvil-ipxe' });
  const marker = 'ANVIL-E2E-IPXE';
  const mac = testMac(1);
  const data = tinyBootData(ns, marker, 'anvil-e2e-');
  await enrollTiny(data, mac);
  const logs = await serveInNamespace(t, ns, data, [
    '--tftp',
    '0.0.0.0:69',
    '--dhcp',
    'server',
    '--dhcp-interface',
    ns.bridge,
    '--dhcp-range',
    `${ns.subnet}.100-${ns.subnet}.150`,
  ]);
  await bootAndCheck(t, ns, data, logs, marker, mac);
  const dpy = await exec(PXEMNGR, ['--data', data, 'dpysystem', 'vm1']);
  assert.match(dpy.stdout, /booted\s+tiny\s+iPXE/);
  assert.match(logs(), /"dhcp":"REQUEST".*"reply":"ACK"|dhcp reply/);
});

test('firmware loads pxelinux.0 over TFTP, which boots the rendered pxelinux.cfg/01-<mac>', { timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
  if (!netbootReady(t, [['/usr/lib/ipxe/qemu/pxe-virtio.rom', 'the iPXE ROM, Debian package ipxe-qemu']])) return;
  if (!requireCondition(t, existsSync('/usr/lib/PXELINUX/pxelinux.0'), 'pxelinux.0 (Debian pxelinux) is missing')) return;
  const ns = await createNetns(t, { prefix: 'anvil-pxl' });
  const marker = 'ANVIL-E2E-PXELINUX';
  const mac = testMac(2);
  const data = tinyBootData(ns, marker, 'anvil-e2e-');
  await enrollTiny(data, mac);
  const logs = await serveInNamespace(t, ns, data, [
    '--tftp',
    '0.0.0.0:69',
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
  if (!netbootReady(t, [['/usr/lib/ipxe/qemu/pxe-virtio.rom', 'the iPXE ROM, Debian package ipxe-qemu']]) || !havePeers(t, 'dnsmasq')) return;
  const ns = await createNetns(t, { prefix: 'anvil-proxy' });
  const marker = 'ANVIL-E2E-PROXY';
  const mac = testMac(3);
  const data = tinyBootData(ns, marker, 'anvil-e2e-');
  await enrollTiny(data, mac);
  const siteLog = await startSiteDhcp(ns);
  const logs = await serveInNamespace(t, ns, data, ['--tftp', '0.0.0.0:69', '--dhcp', 'proxy', '--dhcp-interface', ns.bridge]);
  await bootAndCheck(t, ns, data, () => `${logs()}\ndnsmasq:\n${siteLog()}`, marker, mac);
  assert.match(siteLog(), new RegExp(`DHCPACK\\(eth0\\) ${ns.subnet}\\.\\d+ ${mac}`));
});
