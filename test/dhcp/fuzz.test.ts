// Fuzz: 100,000 malformed DHCP packets (mutations of captured ones, truncations, garbage)
// at the server in each mode, through handle() so every one is counted, then a burst over
// real UDP. The server never crashes, counts every packet, and still answers afterwards.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  DEFAULT_BOOT_FILES,
  DhcpServer,
  encode,
  getU8,
  MESSAGE_TYPE,
  OPTION,
  str,
  u16,
  type DgramSocket,
  type DhcpMode,
} from '../../src/protocols/dhcp/index.ts';
import { testdata } from '../../src/protocols/dhcp/testdata/packets.ts';
import { uniform, xorshift32 } from '../../src/protocols/testing/prng.ts';
import { buildRequest, DhcpTestClient } from './dhcp-client.ts';

const FUZZ_PACKETS = 100_000;
const UDP_BURST = 5_000;
const BATCH = 500;
const SERVER = '127.0.0.1';
const boot = { files: DEFAULT_BOOT_FILES, scriptUrl: (mac: string) => `http://${SERVER}:8080/boot/${mac}` };
// Large enough that the DISCOVERs among the mutations never exhaust it.
const pool = { start: '10.78.0.10', end: '10.78.255.250', subnetMask: '255.255.0.0' };

/** Floats in [0, 1) from a seed, so a failure can be replayed. */
const prng = (seed: number): (() => number) => uniform(xorshift32(seed));

const seeds = readdirSync(join(import.meta.dirname, '../../src/protocols/dhcp/testdata'))
  .filter((f) => f.endsWith('.hex'))
  .map((f) => testdata(f));

function mutate(rand: () => number): Uint8Array {
  const int = (n: number) => Math.floor(rand() * n);
  const seed = seeds[int(seeds.length)]!;
  switch (int(5)) {
    case 0: // garbage of any length
      return Uint8Array.from({ length: int(700) }, () => int(256));
    case 1: // truncated anywhere
      return seed.slice(0, int(seed.length));
    case 2: {
      // a few random bytes changed, anywhere
      const out = seed.slice();
      for (let n = 1 + int(8); n > 0; n--) out[int(out.length)] = int(256);
      return out;
    }
    case 3: {
      // option lengths and codes corrupted (the decoder's hardest part)
      const out = seed.slice();
      for (let n = 1 + int(4); n > 0; n--) out[240 + int(out.length - 240)] = [0, 1, 2, 52, 53, 93, 255][int(7)]!;
      return out;
    }
    default: {
      // overload turned on over random file/sname contents
      const out = seed.slice();
      out.set([52, 1, 1 + int(3)], 240);
      for (let i = 44; i < 236; i++) if (rand() < 0.2) out[i] = int(256);
      return out;
    }
  }
}

const nullSocket = (): DgramSocket => ({
  bind: (_p, _a, cb) => cb(),
  send: (_m, _p, _a, cb) => cb(null),
  setBroadcast: () => undefined,
  close: (cb) => cb?.(),
  on: () => undefined,
  once: () => undefined,
  off: () => undefined,
});

for (const mode of ['server', 'proxy'] as DhcpMode[]) {
  test(`${FUZZ_PACKETS} malformed packets at ${mode} mode: none escapes, all counted, it still answers`, async (t) => {
    const server = new DhcpServer({ mode, serverAddress: SERVER, boot, pool, createSocket: nullSocket, ...(mode === 'proxy' ? { pxePort: 0 } : {}) });
    await server.start();
    t.after(() => server.stop());
    const rand = prng(mode === 'server' ? 0xa11ce : 0xb0b);
    const from = { address: '10.78.0.99', port: 68, family: 'IPv4' as const, size: 0 };
    for (let sent = 0; sent < FUZZ_PACKETS; sent += BATCH) {
      const batch: Promise<void>[] = [];
      for (let i = 0; i < BATCH; i++) batch.push(server.handle(mutate(rand), from, rand() < 0.8 ? 'dhcp' : 'pxe'));
      await Promise.all(batch);
    }
    const s = server.stats;
    assert.equal(s.received, FUZZ_PACKETS);
    assert.equal(s.malformed + s.ignored + s.replied + s.errors + s.dropped, FUZZ_PACKETS, JSON.stringify(s));
    assert.equal(s.dropped, 0, 'batches stay under maxPending');
    assert.equal(s.errors, 0, JSON.stringify(s));
    assert.ok(s.malformed > FUZZ_PACKETS / 2, `most mutations are malformed: ${JSON.stringify(s)}`);
    t.diagnostic(JSON.stringify(s));
    const replies: string[] = [];
    server.on('reply', (r) => replies.push(`${r.mac} ${r.reply}`));
    const discover = buildRequest({
      mac: '52:54:00:00:0e:0e',
      type: MESSAGE_TYPE.DISCOVER,
      options: [
        [OPTION.VENDOR_CLASS, str('PXEClient:Arch:00000:UNDI:002001')],
        [OPTION.CLIENT_ARCH, u16(0)],
      ],
    });
    await server.handle(encode(discover), from, 'dhcp');
    assert.deepEqual(replies, ['52:54:00:00:0e:0e OFFER']);
  });
}

test(`a burst of ${UDP_BURST} malformed datagrams over UDP, then a real DISCOVER is answered`, async (t) => {
  const client = await DhcpTestClient.open();
  t.after(() => client.close());
  const server = new DhcpServer({
    mode: 'proxy',
    serverAddress: SERVER,
    boot,
    bindAddress: SERVER,
    port: 0,
    pxePort: false,
    broadcastAddress: SERVER,
    clientPort: client.port,
  });
  await server.start();
  t.after(() => server.stop());
  const port = server.ports().dhcp!;
  const rand = prng(0xc0ffee);
  // Only packets that cannot decode, so no reply races the one we wait for. Sent in batches
  // the socket buffer holds, each awaited through the server's own 'malformed' events, so
  // loopback never drops one and every datagram must be counted.
  let seen = 0;
  let wake: (() => void) | undefined;
  server.on('malformed', () => {
    seen++;
    wake?.();
  });
  for (let sent = 0; sent < UDP_BURST; ) {
    for (let i = 0; i < 100; i++, sent++) {
      await client.send(
        Uint8Array.from({ length: Math.floor(rand() * 239) }, () => Math.floor(rand() * 256)),
        port,
      );
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server counted ${seen} of ${sent} malformed datagrams`)), 5000);
      wake = () => {
        if (seen < sent) return;
        clearTimeout(timer);
        resolve();
      };
      wake();
    });
  }
  const discover = buildRequest({
    mac: '52:54:00:00:0f:0f',
    type: MESSAGE_TYPE.DISCOVER,
    options: [
      [OPTION.VENDOR_CLASS, str('PXEClient:Arch:00000:UNDI:002001')],
      [OPTION.CLIENT_ARCH, u16(0)],
    ],
  });
  const offer = await client.exchange(discover, port);
  assert.equal(getU8(offer.options, OPTION.MESSAGE_TYPE), MESSAGE_TYPE.OFFER);
  assert.equal(server.stats.malformed, UDP_BURST);
  assert.equal(server.stats.received, UDP_BURST + 1);
});

test('a flood beyond maxPending is dropped and counted, not queued without bound', async (t) => {
  const server = new DhcpServer({ mode: 'proxy', serverAddress: SERVER, boot, createSocket: nullSocket, pxePort: false, maxPending: 100 });
  await server.start();
  t.after(() => server.stop());
  const from = { address: '10.78.0.99', port: 68, family: 'IPv4' as const, size: 0 };
  const garbage = new Uint8Array(10);
  await Promise.all(Array.from({ length: 2000 }, () => server.handle(garbage, from, 'dhcp')));
  assert.equal(server.stats.dropped, 1900);
  assert.equal(server.stats.malformed, 100);
  // The queue drained: the next packet is handled again.
  await server.handle(garbage, from, 'dhcp');
  assert.equal(server.stats.malformed, 101);
});
