// Reply contents: proxyDHCP per PXE spec 2.1 §2.2.5, server-mode OFFER/ACK per RFC 2131.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootFileFor, classify, DEFAULT_BOOT_FILES, type BootPolicy } from './classify.ts';
import { decode, encode, type DhcpPacket } from './codec.ts';
import { testdata } from './testdata/packets.ts';
import { FLAG_BROADCAST, MESSAGE_TYPE, OPTION } from './constants.ts';
import { getIp, getString, getU32, getU8, str, u16 } from './options.ts';
import { leaseReply, nakReply, proxyReply } from './responder.ts';

const policy: BootPolicy = { files: DEFAULT_BOOT_FILES, scriptUrl: (mac) => `http://10.0.0.1:8080/boot/${mac}` };
const proxyConfig = { serverAddress: '10.0.0.1', nextServer: '10.0.0.1' };

function firmwareDiscover(arch: number): DhcpPacket {
  const base = decode(testdata('ipxe-bios-discover.hex'));
  const options = new Map(base.options);
  options.delete(OPTION.USER_CLASS);
  options.delete(OPTION.IPXE_ENCAPSULATED);
  options.set(OPTION.CLIENT_ARCH, u16(arch));
  options.set(OPTION.VENDOR_CLASS, str(`PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:003016`));
  return { ...base, options };
}

function proxy(request: DhcpPacket, via: 'dhcp' | 'pxe'): DhcpPacket {
  const client = classify(request);
  // Through encode/decode, as the client sees it.
  return decode(encode(proxyReply(request, client, bootFileFor(client, policy), via, proxyConfig)));
}

test('proxyDHCP OFFER to a BIOS ROM: no address, 54, 60 PXEClient, 97 echoed, 43.6 = 8, file', () => {
  const request = firmwareDiscover(0);
  const r = proxy(request, 'dhcp');
  assert.equal(r.op, 2);
  assert.equal(r.xid, request.xid);
  assert.equal(getU8(r.options, OPTION.MESSAGE_TYPE), MESSAGE_TYPE.OFFER);
  assert.equal(r.yiaddr, '0.0.0.0');
  assert.equal(r.siaddr, '10.0.0.1');
  assert.equal(r.flags & FLAG_BROADCAST, FLAG_BROADCAST);
  assert.equal(getIp(r.options, OPTION.SERVER_ID), '10.0.0.1');
  assert.equal(getString(r.options, OPTION.VENDOR_CLASS), 'PXEClient');
  assert.deepEqual(r.options.get(OPTION.CLIENT_UUID), request.options.get(OPTION.CLIENT_UUID));
  assert.deepEqual([...r.options.get(OPTION.VENDOR_SPECIFIC)!], [6, 1, 8, 255]);
  assert.equal(r.file, 'undionly.kpxe');
  assert.equal(r.options.has(OPTION.LEASE_TIME), false);
});

test('proxyDHCP to UEFI: no option 43 on port 67 (the firmware asks again on 4011), ACK with file there', () => {
  const request = firmwareDiscover(7);
  const offer = proxy(request, 'dhcp');
  assert.equal(offer.options.has(OPTION.VENDOR_SPECIFIC), false);
  const pxeRequest = { ...request, options: new Map(request.options).set(OPTION.MESSAGE_TYPE, Uint8Array.of(3)) };
  const ack = proxy(pxeRequest, 'pxe');
  assert.equal(getU8(ack.options, OPTION.MESSAGE_TYPE), MESSAGE_TYPE.ACK);
  assert.equal(ack.file, 'ipxe.efi');
  assert.equal(ack.yiaddr, '0.0.0.0');
});

test('proxyDHCP to UEFI names itself in siaddr (EDK2 sends the 4011 request there), the TFTP server in the ACK', () => {
  const request = firmwareDiscover(7);
  const client = classify(request);
  const config = { serverAddress: '10.0.0.1', nextServer: '10.0.0.2' };
  const offer = proxyReply(request, client, bootFileFor(client, policy), 'dhcp', config);
  assert.equal(offer.siaddr, '10.0.0.1');
  const pxeRequest = { ...request, options: new Map(request.options).set(OPTION.MESSAGE_TYPE, Uint8Array.of(3)) };
  const ack = proxyReply(pxeRequest, classify(pxeRequest), bootFileFor(client, policy), 'pxe', config);
  assert.equal(ack.siaddr, '10.0.0.2');
  const bios = firmwareDiscover(0);
  assert.equal(proxyReply(bios, classify(bios), bootFileFor(classify(bios), policy), 'dhcp', config).siaddr, '10.0.0.2');
});

test('proxyDHCP to iPXE: the script URL in file and option 67', () => {
  const request = decode(testdata('ipxe-bios-discover.hex'));
  const r = proxy(request, 'dhcp');
  const mac = classify(request).mac;
  assert.equal(r.file, `http://10.0.0.1:8080/boot/${mac}`);
  assert.equal(getString(r.options, OPTION.BOOTFILE_NAME), `http://10.0.0.1:8080/boot/${mac}`);
});

test("UEFI HTTP boot (OVMF's captured DISCOVER): proxy OFFER without address and lease OFFER both carry 60 HTTPClient and the URL, no option 43", () => {
  const request = decode(testdata('edk2-http-discover.hex'));
  const client = classify(request);
  const decision = bootFileFor(client, { ...policy, httpBase: 'http://10.0.0.1:8080/tftp' });
  const url = 'http://10.0.0.1:8080/tftp/ipxe.efi';
  const offer = decode(encode(proxyReply(request, client, decision, 'dhcp', proxyConfig)));
  assert.equal(getU8(offer.options, OPTION.MESSAGE_TYPE), MESSAGE_TYPE.OFFER);
  assert.equal(offer.yiaddr, '0.0.0.0');
  assert.equal(getString(offer.options, OPTION.VENDOR_CLASS), 'HTTPClient');
  assert.equal(getString(offer.options, OPTION.BOOTFILE_NAME), url);
  assert.equal(offer.file, url);
  assert.equal(offer.options.has(OPTION.VENDOR_SPECIFIC), false);
  const lease = decode(
    encode(
      leaseReply(request, MESSAGE_TYPE.OFFER, '10.0.0.100', client, decision, {
        serverAddress: '10.0.0.1',
        nextServer: '10.0.0.1',
        subnetMask: '255.255.255.0',
        leaseTime: 600,
      }),
    ),
  );
  assert.equal(lease.yiaddr, '10.0.0.100');
  assert.equal(getString(lease.options, OPTION.VENDOR_CLASS), 'HTTPClient');
  assert.equal(getString(lease.options, OPTION.BOOTFILE_NAME), url);
});

test('a boot URL longer than the file field goes in option 67 only', () => {
  const request = decode(testdata('ipxe-bios-discover.hex'));
  const client = classify(request);
  const long = `http://10.0.0.1:8080/${'x'.repeat(200)}`;
  const r = decode(encode(proxyReply(request, client, { kind: 'script', url: long }, 'dhcp', proxyConfig)));
  assert.equal(r.file, '');
  assert.equal(getString(r.options, OPTION.BOOTFILE_NAME), long);
});

test('server-mode OFFER: yiaddr, lease time with T1 = 50 % and T2 = 87.5 % (RFC 2131 §4.4.5), mask, router, DNS', () => {
  const request = decode(testdata('udhcpc-discover.hex'));
  const client = classify(request);
  const r = decode(
    encode(
      leaseReply(request, MESSAGE_TYPE.OFFER, '10.0.0.100', client, bootFileFor(client, policy), {
        serverAddress: '10.0.0.1',
        nextServer: '10.0.0.1',
        subnetMask: '255.255.255.0',
        routers: ['10.0.0.254'],
        dnsServers: ['10.0.0.53'],
        leaseTime: 3600,
      }),
    ),
  );
  assert.equal(r.yiaddr, '10.0.0.100');
  assert.equal(getU32(r.options, OPTION.LEASE_TIME), 3600);
  assert.equal(getU32(r.options, OPTION.RENEWAL_TIME), 1800);
  assert.equal(getU32(r.options, OPTION.REBINDING_TIME), 3150);
  assert.equal(getIp(r.options, OPTION.SUBNET_MASK), '255.255.255.0');
  assert.equal(getIp(r.options, OPTION.ROUTER), '10.0.0.254');
  assert.equal(getIp(r.options, OPTION.DNS_SERVERS), '10.0.0.53');
  assert.equal(r.file, '', 'no boot file for a plain client');
});

test('NAK carries no address and says why (RFC 2131 §4.3.2)', () => {
  const r = decode(encode(nakReply(decode(testdata('udhcpc-request.hex')), '10.0.0.1', 'not yours')));
  assert.equal(getU8(r.options, OPTION.MESSAGE_TYPE), MESSAGE_TYPE.NAK);
  assert.equal(r.yiaddr, '0.0.0.0');
  assert.equal(getString(r.options, OPTION.MESSAGE), 'not yours');
});
