// The DHCP server over real UDP sockets on loopback (high ports, configurable), driven by a
// raw client built on the codec: server mode's full exchange, proxyDHCP on both ports,
// bind errors, and a fuzz run of malformed packets.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test, type TestContext } from 'node:test';
import {
  DEFAULT_BOOT_FILES,
  DEFAULT_RECEIVE_BUFFER_BYTES,
  DhcpServer,
  getIp,
  getString,
  getU8,
  ip,
  MESSAGE_TYPE,
  OPTION,
  str,
  u16,
  type DgramSocket,
  type DhcpServerOptions,
} from '../../src/protocols/dhcp/index.ts';
import { which } from '../helpers/peers.ts';
import { buildRequest, DhcpTestClient } from './dhcp-client.ts';

const SERVER = '127.0.0.1';
const boot = { files: DEFAULT_BOOT_FILES, scriptUrl: (mac: string) => `http://${SERVER}:8080/boot/${mac}` };
const pool = { start: '10.77.0.100', end: '10.77.0.102', subnetMask: '255.255.255.0', routers: ['10.77.0.1'] };
const PXE_BIOS = [
  [OPTION.VENDOR_CLASS, str('PXEClient:Arch:00000:UNDI:002001')],
  [OPTION.CLIENT_ARCH, u16(0)],
] as const;
const PXE_EFI = [
  [OPTION.VENDOR_CLASS, str('PXEClient:Arch:00007:UNDI:003016')],
  [OPTION.CLIENT_ARCH, u16(7)],
  [OPTION.CLIENT_UUID, Uint8Array.of(0, ...new Array(16).fill(0x42))],
] as const;

async function start(t: TestContext, opts: Partial<DhcpServerOptions> & Pick<DhcpServerOptions, 'mode'>) {
  const client = await DhcpTestClient.open();
  t.after(() => client.close());
  const server = new DhcpServer({
    serverAddress: SERVER,
    boot,
    bindAddress: SERVER,
    port: 0,
    // "Broadcast" replies come back to the test client on loopback: nothing leaves lo.
    broadcastAddress: SERVER,
    clientPort: client.port,
    ...(opts.mode === 'server' ? { pool } : { pxePort: 0 }),
    ...opts,
  });
  await server.start();
  t.after(() => server.stop());
  const ports = server.ports();
  return { server, client, port: ports.dhcp!, pxePort: ports.pxe };
}

test('server mode: DISCOVER/OFFER/REQUEST/ACK, stickiness, NAK, RELEASE, DECLINE, INFORM, byAddress', async (t) => {
  const { server, client, port } = await start(t, { mode: 'server' });
  const mac = '52:54:00:00:00:01';
  const offer = await client.exchange(buildRequest({ mac, type: MESSAGE_TYPE.DISCOVER }), port);
  assert.equal(getU8(offer.options, OPTION.MESSAGE_TYPE), MESSAGE_TYPE.OFFER);
  assert.equal(offer.yiaddr, '10.77.0.100');
  assert.equal(getIp(offer.options, OPTION.SERVER_ID), SERVER);
  assert.equal(getIp(offer.options, OPTION.ROUTER), '10.77.0.1');

  const request = buildRequest({
    mac,
    type: MESSAGE_TYPE.REQUEST,
    options: [
      [OPTION.SERVER_ID, ip(SERVER)],
      [OPTION.REQUESTED_ADDRESS, ip(offer.yiaddr)],
    ],
  });
  const leases: string[] = [];
  server.on('lease', (l) => leases.push(`${l.mac} ${l.address}`));
  const ack = await client.exchange(request, port);
  assert.equal(getU8(ack.options, OPTION.MESSAGE_TYPE), MESSAGE_TYPE.ACK);
  assert.equal(ack.yiaddr, '10.77.0.100');
  assert.deepEqual(leases, [`${mac} 10.77.0.100`]);
  assert.equal(await server.macByAddress('10.77.0.100'), mac);
  assert.equal(await server.macByAddress('10.77.0.101'), undefined);

  // Another MAC asking for that address is refused; it gets the next one.
  const other = '52:54:00:00:00:02';
  const nak = await client.exchange(buildRequest({ mac: other, type: MESSAGE_TYPE.REQUEST, options: [[OPTION.REQUESTED_ADDRESS, ip('10.77.0.100')]] }), port);
  assert.equal(getU8(nak.options, OPTION.MESSAGE_TYPE), MESSAGE_TYPE.NAK);
  const offer2 = await client.exchange(buildRequest({ mac: other, type: MESSAGE_TYPE.DISCOVER }), port);
  assert.equal(offer2.yiaddr, '10.77.0.101');

  // RELEASE (no reply), then the same MAC is offered its old address again.
  await client.send(buildRequest({ mac, type: MESSAGE_TYPE.RELEASE, ciaddr: '10.77.0.100', options: [[OPTION.SERVER_ID, ip(SERVER)]] }), port);
  const again = await client.exchange(buildRequest({ mac, type: MESSAGE_TYPE.DISCOVER }), port);
  assert.equal(again.yiaddr, '10.77.0.100');
  assert.equal(await server.macByAddress('10.77.0.100'), undefined, 'released and only offered: not bound');

  // DECLINE (RFC 2131 §4.3.3): the address is in use by someone else; it is not offered again.
  const declined: string[] = [];
  server.on('declined', (d) => declined.push(d.address));
  await client.send(
    buildRequest({
      mac: other,
      type: MESSAGE_TYPE.DECLINE,
      options: [
        [OPTION.REQUESTED_ADDRESS, ip('10.77.0.101')],
        [OPTION.SERVER_ID, ip(SERVER)],
      ],
    }),
    port,
  );
  const afterDecline = await client.exchange(buildRequest({ mac: other, type: MESSAGE_TYPE.DISCOVER }), port);
  assert.deepEqual(declined, ['10.77.0.101']);
  assert.equal(afterDecline.yiaddr, '10.77.0.102');

  // INFORM: configuration without an address, unicast to ciaddr (127.0.0.1 here).
  const inform = await client.exchange(buildRequest({ mac: other, type: MESSAGE_TYPE.INFORM, ciaddr: SERVER }), port);
  assert.equal(getU8(inform.options, OPTION.MESSAGE_TYPE), MESSAGE_TYPE.ACK);
  assert.equal(inform.yiaddr, '0.0.0.0');
  assert.equal(inform.options.has(OPTION.LEASE_TIME), false);
  assert.equal(server.stats.malformed, 0);
});

test('server mode: a PXE client gets its lease and its loader, iPXE the script URL', async (t) => {
  const { client, port } = await start(t, { mode: 'server' });
  const bios = await client.exchange(buildRequest({ mac: '52:54:00:00:00:03', type: MESSAGE_TYPE.DISCOVER, options: PXE_BIOS }), port);
  assert.equal(bios.file, 'undionly.kpxe');
  assert.equal(bios.siaddr, SERVER);
  assert.notEqual(bios.yiaddr, '0.0.0.0');
  const ipxe = await client.exchange(
    buildRequest({ mac: '52:54:00:00:00:03', type: MESSAGE_TYPE.DISCOVER, options: [...PXE_BIOS, [OPTION.USER_CLASS, str('iPXE')]] }),
    port,
  );
  assert.equal(getString(ipxe.options, OPTION.BOOTFILE_NAME), `http://${SERVER}:8080/boot/52:54:00:00:00:03`);
  assert.equal(ipxe.yiaddr, bios.yiaddr, 'same MAC, same address');
});

test('proxy mode: answers PXE clients only, without an address; UEFI is sent on to port 4011', async (t) => {
  const { server, client, port, pxePort } = await start(t, { mode: 'proxy' });
  assert.ok(pxePort !== undefined && pxePort > 0);
  // A plain client is ignored; the PXE DISCOVER right after it is the first thing answered.
  await client.send(buildRequest({ mac: '52:54:00:00:01:00', type: MESSAGE_TYPE.DISCOVER }), port);
  const bios = await client.exchange(buildRequest({ mac: '52:54:00:00:01:01', type: MESSAGE_TYPE.DISCOVER, options: PXE_BIOS }), port);
  assert.equal(server.stats.ignored, 1);
  assert.equal(bios.yiaddr, '0.0.0.0');
  assert.equal(bios.file, 'undionly.kpxe');
  assert.deepEqual([...bios.options.get(OPTION.VENDOR_SPECIFIC)!], [6, 1, 8, 255]);

  const efi = await client.exchange(buildRequest({ mac: '52:54:00:00:01:02', type: MESSAGE_TYPE.DISCOVER, options: PXE_EFI }), port);
  assert.equal(efi.options.has(OPTION.VENDOR_SPECIFIC), false);
  assert.deepEqual(efi.options.get(OPTION.CLIENT_UUID), Uint8Array.of(0, ...new Array(16).fill(0x42)));
  // The site DHCP server's REQUEST (option 54 names it) is not ours to answer.
  await client.send(buildRequest({ mac: '52:54:00:00:01:02', type: MESSAGE_TYPE.REQUEST, options: [...PXE_EFI, [OPTION.SERVER_ID, ip('127.0.0.9')]] }), port);
  const binl = await client.exchange(buildRequest({ mac: '52:54:00:00:01:02', type: MESSAGE_TYPE.REQUEST, ciaddr: SERVER, options: PXE_EFI }), pxePort);
  assert.equal(getU8(binl.options, OPTION.MESSAGE_TYPE), MESSAGE_TYPE.ACK);
  assert.equal(binl.file, 'ipxe.efi');
  assert.equal(binl.yiaddr, '0.0.0.0');
  assert.equal(server.stats.ignored, 2);
});

test('the sockets ask for a receive buffer that holds a boot storm of DISCOVERs', async (t) => {
  const sockets: Socket[] = [];
  const createUdp = () => {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    sockets.push(socket);
    return socket as Socket as DgramSocket;
  };
  await start(t, { mode: 'proxy', createSocket: createUdp });
  // Linux caps the request at rmem_max and doubles it; the default (rmem_default) is less.
  const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  assert.equal(sockets.length, 2);
  for (const socket of sockets) assert.equal(socket.getRecvBufferSize(), 2 * Math.min(DEFAULT_RECEIVE_BUFFER_BYTES, rmemMax));
});

test('a port held by another server is DHCP_BIND_IN_USE, not a crash', async (t) => {
  const holder = createSocket('udp4');
  holder.bind(0, SERVER);
  await once(holder, 'listening');
  t.after(() => holder.close());
  const server = new DhcpServer({ mode: 'proxy', serverAddress: SERVER, boot, bindAddress: SERVER, port: holder.address().port, pxePort: false });
  await assert.rejects(server.start(), { code: 'DHCP_BIND_IN_USE' });
});

test('binding port 67 without privilege says how to run it (DHCP_BIND_DENIED)', async (t) => {
  const denied = Object.assign(new Error('bind EACCES'), { code: 'EACCES' });
  let onError: ((err: Error) => void) | undefined;
  const socket: DgramSocket = {
    bind: () => queueMicrotask(() => onError?.(denied)),
    once: (_event: 'error', listener: (err: Error) => void) => {
      onError = listener;
    },
    off: () => undefined,
    on: () => undefined,
    send: () => undefined,
    setBroadcast: () => undefined,
    close: (cb?: () => void) => cb?.(),
  };
  const server = new DhcpServer({ mode: 'proxy', serverAddress: SERVER, boot, pxePort: false, createSocket: () => socket });
  await assert.rejects(server.start(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'DHCP_BIND_DENIED');
    assert.match(err.message, /:67: permission denied.*root.*setcap cap_net_bind_service/s);
    return true;
  });

  // The same for real, as an unprivileged user, when this test runs as root.
  const setpriv = which('setpriv');
  if (process.getuid?.() !== 0 || setpriv === undefined) return t.diagnostic('not root: real unprivileged bind not tried');
  const script = `import('${fileURLToPath(new URL('../../src/protocols/dhcp/index.ts', import.meta.url))}').then(async (m) => {
    const s = new m.DhcpServer({ mode: 'proxy', serverAddress: '127.0.0.1', bindAddress: '127.0.0.1', pxePort: false, boot: { files: m.DEFAULT_BOOT_FILES, scriptUrl: () => '' } });
    try { await s.start(); console.log('bound'); await s.stop(); } catch (e) { console.log(e.code); }
  })`;
  const { stdout } = await promisify(execFile)(setpriv, [
    '--reuid=65534',
    '--regid=65534',
    '--clear-groups',
    process.execPath,
    '--input-type=module',
    '-e',
    script,
  ]);
  assert.equal(stdout.trim(), 'DHCP_BIND_DENIED');
});

test('a relayed DISCOVER (giaddr set) is answered to the relay agent, giaddr kept (RFC 2131 §4.1)', async (t) => {
  const relay = await DhcpTestClient.open();
  t.after(() => relay.close());
  // The test client stands for the relay's far side; the reply must reach the relay itself.
  const { client, port } = await start(t, { mode: 'server', relayPort: relay.port });
  const discover = buildRequest({ mac: '52:54:00:00:02:01', type: MESSAGE_TYPE.DISCOVER, giaddr: SERVER });
  await client.send(discover, port);
  const offer = await relay.receive();
  assert.equal(offer.xid, discover.xid);
  assert.equal(offer.giaddr, SERVER);
  assert.equal(getU8(offer.options, OPTION.MESSAGE_TYPE), MESSAGE_TYPE.OFFER);
});
