// End to end with QEMU's real iPXE ROM (SeaBIOS): it netboots from anvil's DHCP server in
// a private namespace, gets the HTTP script URL (it already is iPXE), boots the tiny Linux,
// whose init calls /localboot/<mac>/. Then the same with dnsmasq as the site's DHCP server
// and anvil as proxyDHCP beside it, on another host and on the same one. Each VM run takes
// ~25-60 s under TCG.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { havePeers } from '../helpers/peers.ts';
import { createNetns } from '../helpers/netns.ts';
import { bootVm } from '../helpers/qemu.ts';
import { BOOT_TIMEOUT_MS, bootReady, captureConfig, HTTP_PORT, isHttp, MARKER, READY_TIMEOUT_MS, startSiteDnsmasq, TINY_LINUX } from './fixtures/boot-env.ts';
import { PeerProcess } from './fixtures/peer-process.ts';

const inSubnet = (subnet: string, hosts: string) => new RegExp(`^${subnet.replaceAll('.', '\\.')}\\.(${hosts})$`);

test('server mode: iPXE leases from anvil, chainloads the script URL, the tiny Linux calls /localboot', async (t) => {
  if (!bootReady(t)) return;
  const ns = await createNetns(t, { prefix: 'dhcp-srv', defaultRoute: false });
  const peer = new PeerProcess(ns, {
    mode: 'server',
    serverAddress: ns.address,
    httpPort: HTTP_PORT,
    tinyLinuxDir: TINY_LINUX,
    range: { start: `${ns.subnet}.100`, end: `${ns.subnet}.150`, subnetMask: '255.255.255.0' },
    append: 'anvil.run=nexttest',
    ...captureConfig('server'),
  });
  await peer.waitFor((e) => e.event === 'ready', READY_TIMEOUT_MS);
  const vm = bootVm(t, { netns: ns });

  const marker = await vm.waitFor(MARKER, BOOT_TIMEOUT_MS);
  assert.equal(marker[1], vm.mac);
  await peer.waitFor(isHttp(`/localboot/${vm.mac}/`), READY_TIMEOUT_MS);

  // iPXE's own DHCP exchange got the script URL, not a loader: no chainload loop.
  const ipxeAck = peer.events.find((e) => e.event === 'reply' && e.mac === vm.mac && e.reply === 'ACK');
  assert.ok(ipxeAck, 'an ACK went to the VM');
  assert.deepEqual((ipxeAck as { boot?: unknown }).boot, {
    kind: 'script',
    url: `http://${ns.address}:${HTTP_PORT}/boot/${vm.mac}`,
  });
  // No default route in this namespace: the broadcast left by br0 because anvil sends it
  // from a socket bound to its own address there.
  assert.equal((ipxeAck as { to?: string }).to, '255.255.255.255:68');
  assert.ok(peer.events.some(isHttp(`/boot/${vm.mac}`)), 'iPXE fetched its script');
  const leases = peer.events.filter((e) => e.event === 'lease' && e.mac === vm.mac);
  assert.ok(leases.length >= 2, 'iPXE and then the tiny Linux each bound a lease');
  const address = (leases[0] as { address?: string }).address ?? '';
  assert.match(address, inSubnet(ns.subnet, '1[0-4][0-9]|150'));
  // Per-MAC stickiness: the tiny Linux, a new DHCP client, got the same address.
  assert.ok(leases.every((l) => (l as { address?: string }).address === address));
  const http = peer.events.find(isHttp(`/localboot/${vm.mac}/`)) as { from?: string };
  assert.equal(http.from, address);
  // The init's anvil.run=nexttest hook fetched and ran the test script before the callback.
  assert.ok(peer.events.some(isHttp(`/nexttest/${vm.mac}/`)));
  assert.match(vm.console, new RegExp(`ANVIL-RUN-BEGIN ${vm.mac}\\s+I: tiny Linux ran its test on \\S+-cloud-amd64\\s+ANVIL-RUN-END ${vm.mac} status 3`));
});

test('proxy mode: dnsmasq leases the address, anvil as proxyDHCP gives iPXE its script URL', async (t) => {
  if (!bootReady(t) || !havePeers(t, 'dnsmasq')) return;
  const ns = await createNetns(t, { prefix: 'dhcp-proxy', defaultRoute: false });
  // The site's DHCP server: another host on the LAN, no PXE configuration at all.
  const site = await startSiteDnsmasq(t, ns, { host: 2, dhcpRange: [50, 60] });
  const peer = new PeerProcess(ns, {
    mode: 'proxy',
    serverAddress: ns.address,
    httpPort: HTTP_PORT,
    tinyLinuxDir: TINY_LINUX,
    ...captureConfig('proxy'),
  });
  await peer.waitFor((e) => e.event === 'ready', READY_TIMEOUT_MS);
  const vm = bootVm(t, { netns: ns });

  const marker = await vm.waitFor(MARKER, BOOT_TIMEOUT_MS).catch((err: Error) => {
    throw new Error(`${err.message}\ndnsmasq:\n${site.log().slice(-3000)}`);
  });
  assert.equal(marker[1], vm.mac);
  const callback = (await peer.waitFor(isHttp(`/localboot/${vm.mac}/`), READY_TIMEOUT_MS)) as { from?: string };
  // The address came from dnsmasq's range; anvil handed out none.
  assert.match(callback.from ?? '', inSubnet(ns.subnet, '5[0-9]|60'));
  assert.match(site.log(), new RegExp(`DHCPACK\\(eth0\\) ${callback.from} ${vm.mac}`));
  assert.ok(!peer.events.some((e) => e.event === 'lease'));
  const proxied = peer.events.filter((e) => e.event === 'reply' && e.mac === vm.mac);
  assert.ok(proxied.length > 0, 'anvil answered the VM as proxyDHCP');
  for (const r of proxied) {
    assert.equal((r as { address?: string }).address, '0.0.0.0', 'proxyDHCP never offers an address');
    assert.deepEqual((r as { boot?: unknown }).boot, { kind: 'script', url: `http://${ns.address}:${HTTP_PORT}/boot/${vm.mac}` });
  }
  assert.ok(peer.events.some(isHttp(`/boot/${vm.mac}`)), 'iPXE fetched its script from the proxy-given URL');
});

test('proxy mode on the same host as dnsmasq (--bind-interfaces): both share port 67', async (t) => {
  if (!bootReady(t) || !havePeers(t, 'dnsmasq')) return;
  const ns = await createNetns(t, { prefix: 'dhcp-cohost', defaultRoute: false });
  const pidFile = `/tmp/anvil-dnsmasq-${ns.name}.pid`;
  t.after(() => rmSync(pidFile, { force: true }));
  const dnsmasq = ns.spawn('dnsmasq', [
    '--no-daemon',
    '--port=0',
    '--conf-file=/dev/null',
    '--leasefile-ro',
    '--log-dhcp',
    `--interface=${ns.bridge}`,
    '--bind-interfaces',
    `--dhcp-range=${ns.subnet}.70,${ns.subnet}.80,255.255.255.0,5m`,
    `--pid-file=${pidFile}`,
  ]);
  let log = '';
  dnsmasq.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  // dnsmasq first, so anvil's bind is the one that must share.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dnsmasq did not start: ${log}`)), READY_TIMEOUT_MS);
    dnsmasq.stderr?.on('data', () => {
      if (!/sockets bound exclusively/.test(log)) return;
      clearTimeout(timer);
      resolve();
    });
  });
  const peer = new PeerProcess(ns, { mode: 'proxy', serverAddress: ns.address, httpPort: HTTP_PORT, tinyLinuxDir: TINY_LINUX });
  await peer.waitFor((e) => e.event === 'ready', READY_TIMEOUT_MS);
  const vm = bootVm(t, { netns: ns });
  await vm.waitFor(MARKER, BOOT_TIMEOUT_MS).catch((err: Error) => {
    throw new Error(`${err.message}\ndnsmasq:\n${log.slice(-3000)}`);
  });
  const callback = (await peer.waitFor(isHttp(`/localboot/${vm.mac}/`), READY_TIMEOUT_MS)) as { from?: string };
  assert.match(callback.from ?? '', inSubnet(ns.subnet, '7[0-9]|80'));
  assert.ok(peer.events.some((e) => e.event === 'reply' && e.mac === vm.mac && e.reply === 'OFFER'));
});
