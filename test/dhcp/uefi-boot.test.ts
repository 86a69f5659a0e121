// End to end with real UEFI firmware: OVMF (Debian's EDK2 build) with its own PXE client and
// virtio-net driver, no iPXE ROM. The firmware gets ipxe.efi over TFTP, that iPXE gets the
// script URL (no loop), the tiny Linux boots and calls /localboot/. Through anvil as proxyDHCP
// (the port-4011 path pixiecore and dnsmasq use for UEFI) and as the DHCP server. ~60 s each.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { createNetns } from '../helpers/netns.ts';
import { bootVm, OVMF_CODE } from '../helpers/qemu.ts';
import {
  BOOT_TIMEOUT_MS,
  bootReady,
  captureConfig,
  HTTP_PORT,
  IPXE_EFI,
  isHttp,
  MARKER,
  READY_TIMEOUT_MS,
  startSiteDnsmasq,
  TINY_LINUX,
} from './fixtures/boot-env.ts';
import { PeerProcess } from './fixtures/peer-process.ts';

/** Above the BIOS tests' 256 MiB: room for OVMF's own allocations beside the kernel and initrd. */
const UEFI_MEMORY_MB = 512;

function uefiReady(t: TestContext): boolean {
  if (!bootReady(t) || !havePeers(t, 'dnsmasq')) return false;
  if (!requireCondition(t, existsSync(OVMF_CODE), `UEFI firmware ${OVMF_CODE} (Debian package ovmf)`)) return false;
  return requireCondition(t, existsSync(IPXE_EFI), `${IPXE_EFI} (Debian package ipxe)`);
}

type Reply = { event: string; mac?: string; via: string; reply: string; address: string; to: string; boot: { kind: string; file?: string; url?: string } };

test("proxy mode: OVMF's PXE asks on port 4011, gets ipxe.efi, which gets the script URL", async (t) => {
  if (!uefiReady(t)) return;
  const ns = await createNetns(t, { prefix: 'dhcp-uefi-proxy', defaultRoute: false });
  // The site's host runs its DHCP server and, here, the TFTP server the loader comes from.
  const site = await startSiteDnsmasq(t, ns, { host: 2, dhcpRange: [50, 60], tftpFiles: [IPXE_EFI] });
  const peer = new PeerProcess(ns, {
    mode: 'proxy',
    serverAddress: ns.address,
    nextServer: site.address,
    httpPort: HTTP_PORT,
    tinyLinuxDir: TINY_LINUX,
    ...captureConfig('uefi-proxy'),
  });
  await peer.waitFor((e) => e.event === 'ready', READY_TIMEOUT_MS);
  const vm = bootVm(t, { netns: ns, firmware: 'uefi', memoryMb: UEFI_MEMORY_MB });

  await vm.waitFor(MARKER, BOOT_TIMEOUT_MS).catch((err: Error) => {
    throw new Error(`${err.message}\nanvil:\n${JSON.stringify(peer.events.slice(-20))}\ndnsmasq:\n${site.log().slice(-3000)}`);
  });
  const replies = peer.events.filter((e) => e.event === 'reply' && e.mac === vm.mac) as unknown as Reply[];
  // EDK2's PXE: an OFFER on 67 without option 43, then the boot-server ACK on 4011 with the loader.
  const binl = replies.find((r) => r.via === 'pxe');
  assert.ok(binl, `the firmware asked on port 4011: ${JSON.stringify(replies)}`);
  assert.deepEqual(binl.boot, { kind: 'loader', file: 'ipxe.efi', firmware: 'efi-x64' });
  assert.match(site.log(), /sent .*ipxe\.efi/, 'the loader came over TFTP from the next server');
  // Then iPXE (user class iPXE, arch 7) got the script URL, not ipxe.efi again: no loop.
  assert.ok(replies.some((r) => r.boot.kind === 'script' && r.boot.url === `http://${ns.address}:${HTTP_PORT}/boot/${vm.mac}`));
  await peer.waitFor(isHttp(`/localboot/${vm.mac}/`), READY_TIMEOUT_MS);
});

test('server mode: OVMF leases from anvil and boots ipxe.efi from siaddr, then the script', async (t) => {
  if (!uefiReady(t)) return;
  const ns = await createNetns(t, { prefix: 'dhcp-uefi-srv', defaultRoute: false });
  // A TFTP-only host for the loader (anvil's own TFTP server is another part of anvil).
  const tftp = await startSiteDnsmasq(t, ns, { host: 2, tftpFiles: [IPXE_EFI] });
  const peer = new PeerProcess(ns, {
    mode: 'server',
    serverAddress: ns.address,
    nextServer: tftp.address,
    httpPort: HTTP_PORT,
    tinyLinuxDir: TINY_LINUX,
    range: { start: `${ns.subnet}.100`, end: `${ns.subnet}.150`, subnetMask: '255.255.255.0' },
    ...captureConfig('uefi-server'),
  });
  await peer.waitFor((e) => e.event === 'ready', READY_TIMEOUT_MS);
  const vm = bootVm(t, { netns: ns, firmware: 'uefi', memoryMb: UEFI_MEMORY_MB });

  await vm.waitFor(MARKER, BOOT_TIMEOUT_MS).catch((err: Error) => {
    throw new Error(`${err.message}\nanvil:\n${JSON.stringify(peer.events.slice(-20))}\ndnsmasq:\n${tftp.log().slice(-3000)}`);
  });
  const replies = peer.events.filter((e) => e.event === 'reply' && e.mac === vm.mac) as unknown as Reply[];
  const firmwareAck = replies.find((r) => r.reply === 'ACK' && r.boot.kind === 'loader');
  assert.deepEqual(firmwareAck?.boot, { kind: 'loader', file: 'ipxe.efi', firmware: 'efi-x64' });
  // Without a default route in the namespace: sent from anvil's socket bound to br0's address.
  assert.equal(firmwareAck?.to, '255.255.255.255:68');
  assert.match(tftp.log(), /sent .*ipxe\.efi/);
  const ipxeAck = replies.find((r) => r.reply === 'ACK' && r.boot.kind === 'script');
  assert.equal(ipxeAck?.address, firmwareAck?.address, 'firmware and iPXE got the same address');
  await peer.waitFor(isHttp(`/localboot/${vm.mac}/`), READY_TIMEOUT_MS);
});
