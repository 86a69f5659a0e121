// Fuzzes the emulator over UDP with 100,000+ datagrams: captured and freshly built valid
// packets (pre-session, login, in-session, SOL, IPMI 1.5, ASF), mutated, plus random bytes.
// Afterwards nothing has crashed, nothing unexpected was thrown, no session leaked, an
// existing session still works and ipmitool still gets `power status`.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import { CIPHER_SUITES } from '../../src/protocols/ipmi/cipher-suites.ts';
import type { CipherSuite } from '../../src/protocols/ipmi/cipher-suites.ts';
import { AppCmd, ChassisCmd, NetFn, PayloadType } from '../../src/protocols/ipmi/constants.ts';
import { encodeRequest } from '../../src/protocols/ipmi/message.ts';
import { encodeAsf } from '../../src/protocols/ipmi/rmcp.ts';
import { encodeSession15 } from '../../src/protocols/ipmi/session15.ts';
import { encodeSession20 } from '../../src/protocols/ipmi/session20.ts';
import { encodeSol } from '../../src/protocols/ipmi/sol.ts';
import { DEFAULT_SETUP_TIMEOUT_MS } from '../../src/protocols/ipmi/server/bmc-options.ts';
import { MemoryBmcHandler } from '../../src/protocols/ipmi/server/memory-handler.ts';
import { BmcServer } from '../../src/protocols/ipmi/server/server.ts';
import { loadCapture } from '../../src/protocols/ipmi/testdata/load.ts';
import { xorshift32 } from '../../src/protocols/testing/prng.ts';
import { havePeers } from '../helpers/peers.ts';
import { PASSWORD, USER, ipmitool } from './emulator-helpers.ts';
import { MiniConsole } from './mini-console.ts';

/** How many datagrams to send; the brief asks for at least 100,000. */
const PACKETS = 100_000;
/** Datagrams in flight before waiting for the emulator to catch up (keeps loopback from dropping). */
const BATCH = 250;
const CATCH_UP_TIMEOUT_MS = 5_000;

function mutate(seed: Buffer, rand: () => number, other: Buffer): Buffer {
  const b = Buffer.from(seed);
  switch (rand() % 7) {
    case 0: // flip a few bits
      for (let k = 1 + (rand() % 4); k > 0 && b.length > 0; k--) {
        const i = rand() % b.length;
        b[i] = (b[i] as number) ^ (1 << (rand() % 8));
      }
      return b;
    case 1: // overwrite bytes after the RMCP header (session header, lengths, IDs)
      for (let k = 1 + (rand() % 3); k > 0 && b.length > 4; k--) b[4 + (rand() % (b.length - 4))] = rand() & 0xff;
      return b;
    case 2: // truncate
      return b.subarray(0, rand() % (b.length + 1));
    case 3: {
      // extend with junk
      const junk = Buffer.alloc(1 + (rand() % 64));
      for (let i = 0; i < junk.length; i++) junk[i] = rand() & 0xff;
      return Buffer.concat([b, junk]);
    }
    case 4: // splice two packets
      return Buffer.concat([b.subarray(0, rand() % (b.length + 1)), other.subarray(rand() % (other.length + 1))]);
    case 5: {
      // a valid RMCP header with a random body
      const body = Buffer.alloc(rand() % 120);
      for (let i = 0; i < body.length; i++) body[i] = rand() & 0xff;
      return Buffer.concat([Buffer.from([0x06, 0x00, 0xff, rand() % 2 === 0 ? 0x07 : 0x06]), body]);
    }
    default:
      return b; // unmodified: replays of valid packets
  }
}

test(`${PACKETS} mutated and random datagrams: no crash, no leak, still serving`, async (t) => {
  let clock = 1_700_000_000_000;
  const errors: unknown[] = [];
  const server = new BmcServer({ now: () => clock, sweepIntervalMs: 3_600_000, onError: (e) => errors.push(e) });
  t.after(() => server.close());
  const handler = new MemoryBmcHandler({ user: USER, password: PASSWORD });
  const { bmc, port } = await server.add({ handler, authTypes15: ['md5', 'password', 'none'] });

  // A console with a live session before the storm; it must survive it.
  const live = await MiniConsole.open(port);
  t.after(() => live.close());
  assert.equal(await live.login(USER, PASSWORD, CIPHER_SUITES.get(17) as CipherSuite), 0);

  const seeds: Buffer[] = [
    ...loadCapture('ipmitool-lanplus-c3-ipmi-sim').map((p) => p.bytes),
    ...loadCapture('ipmitool-lan-md5-ipmi-sim').map((p) => p.bytes),
    ...loadCapture('ipmitool-lan-password-ipmi-sim').map((p) => p.bytes),
    encodeAsf({ type: 'ping', tag: 1 }),
    encodeSession20({
      payloadType: PayloadType.IPMI,
      sessionId: 0,
      sequence: 0,
      payload: encodeRequest({ netFn: NetFn.APP, command: AppCmd.GET_CHANNEL_CIPHER_SUITES, data: Buffer.from([0x0e, 0, 0x80]) }),
    }),
    encodeSession15({
      authType: 'none',
      sequence: 0,
      sessionId: 0,
      message: encodeRequest({
        netFn: NetFn.APP,
        command: AppCmd.GET_SESSION_CHALLENGE,
        data: Buffer.concat([Buffer.from([2]), Buffer.from('admin'), Buffer.alloc(11)]),
      }),
    }),
    live.requestPacket(NetFn.CHASSIS, ChassisCmd.GET_CHASSIS_STATUS),
    live.requestPacket(NetFn.APP, AppCmd.GET_DEVICE_ID),
    encodeSession20(
      {
        payloadType: PayloadType.SOL,
        sessionId: live.bmcSessionId,
        sequence: 999,
        payload: encodeSol({ sequence: 1, ackSequence: 0, acceptedCount: 0, flags: 0, data: Buffer.from('x') }),
      },
      live.keys,
      Buffer.alloc(16, 7),
    ),
  ];
  // The live session's later sequence numbers stay ahead of anything replayed above.
  live.sequence += 10;

  // Seeded, so a failing run can be replayed.
  const rand = xorshift32(0xa11ce);
  const fuzzer = createSocket('udp4');
  await new Promise<void>((resolve) => fuzzer.bind(0, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => fuzzer.close(() => resolve())));
  let replies = 0;
  fuzzer.on('message', () => replies++);

  const before = bmc.stats.received;
  let sent = 0;
  const started = Date.now();
  while (sent < PACKETS) {
    for (let i = 0; i < BATCH; i++) {
      let packet: Buffer;
      if (rand() % 5 === 0) {
        packet = Buffer.alloc(rand() % 200);
        for (let j = 0; j < packet.length; j++) packet[j] = rand() & 0xff;
      } else {
        const seed = seeds[rand() % seeds.length] as Buffer;
        packet = mutate(seed, rand, seeds[rand() % seeds.length] as Buffer);
      }
      fuzzer.send(packet, port, '127.0.0.1');
      sent++;
    }
    // Wait for the emulator to have read this batch (an event, polled per turn of the loop).
    const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
    while (bmc.stats.received - before < sent - 16 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  }
  const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
  while (bmc.stats.received - before < sent && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  const received = bmc.stats.received - before;
  t.diagnostic(`sent ${sent}, received ${received}, replies ${replies}, in ${Date.now() - started} ms; stats ${JSON.stringify(bmc.stats)}`);

  assert.ok(received >= PACKETS * 0.99, `the emulator read ${received} of ${sent} datagrams`);
  assert.deepEqual(errors, [], 'nothing escaped the serve loop');
  assert.equal(bmc.stats.commandErrors, 0);
  assert.ok(bmc.stats.badPackets > PACKETS / 4, 'most mutations were counted as bad packets');

  // The live session still works: the storm neither closed nor confused it.
  live.drain();
  assert.equal((await live.command(NetFn.APP, AppCmd.GET_DEVICE_ID))?.cc, 0);
  assert.equal(bmc.activeSessionCount, 1, 'no session was activated by the fuzzer');

  // Half-open logins left by mutated Open Session Requests expire; nothing else remains.
  clock += DEFAULT_SETUP_TIMEOUT_MS;
  bmc.sweep();
  assert.equal(bmc.sessionCount, 1);
  assert.equal((await live.command(NetFn.APP, AppCmd.CLOSE_SESSION, [...Buffer.from(new Uint32Array([live.bmcSessionId]).buffer)]))?.cc, 0);
  assert.equal(bmc.sessionCount, 0);

  if (!havePeers(t, 'ipmitool')) return;
  const status = await ipmitool(port, 'lanplus', ['power', 'status']);
  assert.match(status.stdout, /Chassis Power is off/);
  assert.equal(bmc.sessionCount, 0);
});
