// End to end: QEMU's real iPXE ROM netboots from anvil's DHCP server inside a private
// namespace, gets the HTTP script URL (it is already iPXE), boots the tiny Linux, whose
// init calls /localboot/<mac>/. Then the same with dnsmasq as the site's DHCP server and
// anvil as proxyDHCP beside it, with iPXE's ROM and with real UEFI firmware (OVMF), whose
// PXE client takes the port-4011 path. Each VM run takes ~30-90 s under TCG.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { createNetns, isRoot } from '../helpers/netns.ts';
import { bootVm, OVMF_CODE, QEMU } from '../helpers/qemu.ts';
import { PeerProcess, type PeerEvent } from './fixtures/peer-process.ts';

const TINY_LINUX = join(import.meta.dirname, '..', '..', '.tools', 'tiny-linux');
/** Debian's ipxe package: the x86-64 UEFI iPXE anvil hands to UEFI firmware. */
const IPXE_EFI = '/usr/lib/ipxe/ipxe.efi';
const HTTP_PORT = 8080; // inside a private namespace: no other process can hold it
const READY_TIMEOUT_MS = 15_000;
const BOOT_TIMEOUT_MS = 240_000;

function ready(t: import('node:test').TestContext): boolean {
  if (!havePeers(t, QEMU, 'ip')) return false;
  if (!requireCondition(t, isRoot(), 'root, for network namespaces and tap devices')) return false;
  return requireCondition(
    t,
    existsSync(join(TINY_LINUX, 'vmlinuz')) && existsSync(join(TINY_LINUX, 'initrd.gz')),
    'the tiny Linux in .tools/tiny-linux (scripts/tiny-linux)',
  );
}

const isHttp = (path: string) => (e: PeerEvent) => e.event === 'http' && e.path === path;

test('server mode: iPXE leases from anvil, chainloads the script URL, the tiny Linux calls /localboot', async (t) => {
  if (!ready(t)) return;
  const ns = await createNetns(t, { prefix: 'dhcp-srv' });
  const peer = new PeerProcess(ns, {
    mode: 'server',
    serverAddress: ns.address,
    httpPort: HTTP_PORT,
    tinyLinuxDir: TINY_LINUX,
    range: { start: `${ns.subnet}.100`, end: `${ns.subnet}.150`, subnetMask: '255.255.255.0' },
    ...(process.env.ANVIL_DHCP_CAPTURE ? { captureDir: join(process.env.ANVIL_DHCP_CAPTURE, 'server') } : {}),
  });
  await peer.waitFor((e) => e.event === 'ready', READY_TIMEOUT_MS);
  const vm = bootVm(t, { netns: ns });

  const marker = await vm.waitFor(/ANVIL-TINY-LINUX-OK ([0-9a-f:]{17})/, BOOT_TIMEOUT_MS);
  assert.equal(marker[1], vm.mac);
  await peer.waitFor(isHttp(`/localboot/${vm.mac}/`), READY_TIMEOUT_MS);

  // iPXE's own DHCP exchange got the script URL, not a loader: no chainload loop.
  const ipxeAck = peer.events.find((e) => e.event === 'reply' && e.mac === vm.mac && e.reply === 'ACK');
  assert.ok(ipxeAck, 'an ACK went to the VM');
  assert.deepEqual((ipxeAck as { boot?: unknown }).boot, {
    kind: 'script',
    url: `http://${ns.address}:${HTTP_PORT}/boot/${vm.mac}`,
  });
  assert.ok(peer.events.some(isHttp(`/boot/${vm.mac}`)), 'iPXE fetched its script');
  const leases = peer.events.filter((e) => e.event === 'lease' && e.mac === vm.mac);
  assert.ok(leases.length >= 2, 'iPXE and then the tiny Linux each bound a lease');
  const address = (leases[0] as { address?: string }).address ?? '';
  assert.match(address, new RegExp(`^${ns.subnet.replaceAll('.', '\\.')}\\.(1[0-4][0-9]|150)$`));
  // Per-MAC stickiness: the tiny Linux, a new DHCP client, got the same address.
  assert.ok(leases.every((l) => (l as { address?: string }).address === address));
  const http = peer.events.find(isHttp(`/localboot/${vm.mac}/`)) as { from?: string };
  assert.equal(http.from, address);
});

test('proxy mode: dnsmasq leases the address, anvil as proxyDHCP gives iPXE its script URL', async (t) => {
  if (!ready(t) || !havePeers(t, 'dnsmasq')) return;
  const ns = await createNetns(t, { prefix: 'dhcp-proxy' });
  // The site's DHCP server: another host on the LAN, no PXE configuration at all.
  const site = await ns.addPeer(2);
  const dnsmasq = ns.spawn(
    'dnsmasq',
    [
      '--no-daemon', '--port=0', '--conf-file=/dev/null', '--leasefile-ro', '--log-dhcp', '--interface=eth0',
      '--bind-interfaces', `--dhcp-range=${ns.subnet}.50,${ns.subnet}.60,255.255.255.0,5m`,
      `--pid-file=/tmp/anvil-dnsmasq-${process.pid}.pid`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
    site,
  );
  let dnsmasqLog = '';
  dnsmasq.stderr?.on('data', (c: Buffer) => (dnsmasqLog += c.toString()));
  const peer = new PeerProcess(ns, {
    mode: 'proxy',
    serverAddress: ns.address,
    httpPort: HTTP_PORT,
    tinyLinuxDir: TINY_LINUX,
    ...(process.env.ANVIL_DHCP_CAPTURE ? { captureDir: join(process.env.ANVIL_DHCP_CAPTURE, 'proxy') } : {}),
  });
  await peer.waitFor((e) => e.event === 'ready', READY_TIMEOUT_MS);
  const vm = bootVm(t, { netns: ns });

  const marker = await vm.waitFor(/ANVIL-TINY-LINUX-OK ([0-9a-f:]{17})/, BOOT_TIMEOUT_MS).catch((err: Error) => {
    throw new Error(`${err.message}\ndnsmasq:\n${dnsmasqLog.slice(-3000)}`);
  });
  assert.equal(marker[1], vm.mac);
  const callback = (await peer.waitFor(isHttp(`/localboot/${vm.mac}/`), READY_TIMEOUT_MS)) as { from?: string };
  // The address came from dnsmasq's range; anvil handed out none.
  assert.match(callback.from ?? '', new RegExp(`^${ns.subnet.replaceAll('.', '\\.')}\\.(5[0-9]|60)$`));
  assert.ok(!peer.events.some((e) => e.event === 'lease'));
  const proxied = peer.events.filter((e) => e.event === 'reply' && e.mac === vm.mac);
  assert.ok(proxied.length > 0, 'anvil answered the VM as proxyDHCP');
  for (const r of proxied) {
    assert.equal((r as { address?: string }).address, '0.0.0.0', 'proxyDHCP never offers an address');
    assert.deepEqual((r as { boot?: unknown }).boot, { kind: 'script', url: `http://${ns.address}:${HTTP_PORT}/boot/${vm.mac}` });
  }
  assert.ok(peer.events.some(isHttp(`/boot/${vm.mac}`)), 'iPXE fetched its script from the proxy-given URL');
});

test('proxy mode, real UEFI firmware: OVMF\'s PXE asks on port 4011, gets ipxe.efi, which gets the script URL', async (t) => {
  if (!ready(t) || !havePeers(t, 'dnsmasq')) return;
  if (!requireCondition(t, existsSync(OVMF_CODE), `UEFI firmware ${OVMF_CODE} (Debian package ovmf)`)) return;
  if (!requireCondition(t, existsSync(IPXE_EFI), `${IPXE_EFI} (Debian package ipxe)`)) return;
  const ns = await createNetns(t, { prefix: 'dhcp-uefi' });
  // The site's host runs its DHCP server and, here, the TFTP server the loader comes from.
  const site = await ns.addPeer(2);
  const tftpRoot = mkdtempSync(join(tmpdir(), 'anvil-tftp-'));
  t.after(() => rmSync(tftpRoot, { recursive: true, force: true }));
  copyFileSync(IPXE_EFI, join(tftpRoot, 'ipxe.efi'));
  const dnsmasq = ns.spawn(
    'dnsmasq',
    [
      '--no-daemon', '--port=0', '--conf-file=/dev/null', '--leasefile-ro', '--log-dhcp', '--interface=eth0',
      '--bind-interfaces', `--dhcp-range=${ns.subnet}.50,${ns.subnet}.60,255.255.255.0,5m`,
      '--enable-tftp', `--tftp-root=${tftpRoot}`, `--pid-file=/tmp/anvil-dnsmasq-${process.pid}-uefi.pid`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
    site,
  );
  let dnsmasqLog = '';
  dnsmasq.stderr?.on('data', (c: Buffer) => (dnsmasqLog += c.toString()));
  const peer = new PeerProcess(ns, {
    mode: 'proxy',
    serverAddress: ns.address,
    nextServer: `${ns.subnet}.2`,
    httpPort: HTTP_PORT,
    tinyLinuxDir: TINY_LINUX,
    ...(process.env.ANVIL_DHCP_CAPTURE ? { captureDir: join(process.env.ANVIL_DHCP_CAPTURE, 'uefi') } : {}),
  });
  await peer.waitFor((e) => e.event === 'ready', READY_TIMEOUT_MS);
  const vm = bootVm(t, { netns: ns, firmware: 'uefi', memoryMb: 512 });

  await vm.waitFor(/ANVIL-TINY-LINUX-OK ([0-9a-f:]{17})/, BOOT_TIMEOUT_MS).catch((err: Error) => {
    throw new Error(`${err.message}\nanvil:\n${JSON.stringify(peer.events.slice(-20))}\ndnsmasq:\n${dnsmasqLog.slice(-3000)}`);
  });
  const replies = peer.events.filter((e) => e.event === 'reply' && e.mac === vm.mac) as unknown as {
    via: string;
    boot: { kind: string; file?: string; url?: string };
  }[];
  // EDK2's PXE: an OFFER on 67 without option 43, then the boot-server ACK on 4011 with the loader.
  const binl = replies.find((r) => r.via === 'pxe');
  assert.ok(binl, `the firmware asked on port 4011: ${JSON.stringify(replies)}`);
  assert.deepEqual(binl.boot, { kind: 'loader', file: 'ipxe.efi', firmware: 'efi-x64' });
  assert.match(dnsmasqLog, /sent .*ipxe\.efi/, 'the loader came over TFTP from the next server');
  // Then iPXE (user class iPXE, arch 7) got the script URL, not ipxe.efi again: no loop.
  assert.ok(replies.some((r) => r.boot.kind === 'script' && r.boot.url === `http://${ns.address}:${HTTP_PORT}/boot/${vm.mac}`));
  await peer.waitFor(isHttp(`/localboot/${vm.mac}/`), READY_TIMEOUT_MS);
});
