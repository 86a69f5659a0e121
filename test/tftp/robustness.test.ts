// The server under a misbehaving network and hostile input, driven by a raw dgram client:
// lost ACKs, a vanished client, duplicate ACKs, a full server, a flood of malformed packets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { havePeers } from '../helpers/peers.ts';
import { RawClient, blockOf, engineTest, makeRoot, outDir, run, startServer, waitFor } from './fixture.ts';
import { decodePacket, encodeAck, encodeError, encodeRequest } from '../../src/protocols/tftp/codec.ts';
import { TftpBindError } from '../../src/protocols/tftp/errors.ts';
import type { TftpEngine } from '../../src/protocols/tftp/native-pump.ts';
import { bufferFile } from '../../src/protocols/tftp/handler.ts';
import type { TftpSocket } from '../../src/protocols/tftp/io.ts';
import { TftpServer } from '../../src/protocols/tftp/server.ts';

engineTest('a lost ACK makes the server retransmit; when the client stays silent it aborts cleanly', async (t, engine) => {
  const content = randomBytes(512 * 3 + 10);
  const { port, server, events } = await startServer(t, engine, { open: async () => bufferFile(content) }, { retransmitTimeoutMs: 40, maxRetries: 3 });
  const client = new RawClient(t);
  await client.bind();
  client.request(port, 'f');

  const first = await client.next();
  assert.equal(blockOf(first), 1);
  // Pretend our ACK 1 was lost: the same block comes again from the same TID.
  const again = await client.next();
  assert.equal(blockOf(again), 1);
  assert.equal(again.port, first.port);
  client.send(encodeAck(1), first.port);
  let next = await client.next();
  while (blockOf(next) === 1) next = await client.next(); // a retransmission may have crossed our ACK
  assert.equal(blockOf(next), 2);

  // Now vanish from the protocol: block 2 is sent 1 + maxRetries times, then an ERROR.
  let copies = 1;
  for (;;) {
    const r = await client.next();
    if (r.packet.kind === 'error') break;
    assert.equal(blockOf(r), 2);
    copies++;
  }
  assert.equal(copies, 4);
  await waitFor(() => events.some((e) => e.type === 'transfer-end'), 'the transfer to end');
  const end = events.find((e) => e.type === 'transfer-end');
  assert.equal(end?.type === 'transfer-end' && end.outcome.status === 'failed' && end.outcome.reason, 'timeout');
  assert.equal(server.counters.activeTransfers, 0);
  assert.equal(server.counters.transfersFailed, 1);
  assert.ok(server.counters.retransmissions >= 4);
});

engineTest("duplicate ACKs are not answered with duplicate data (Sorcerer's Apprentice)", async (t, engine) => {
  const content = randomBytes(512 * 5);
  const { port, server } = await startServer(t, engine, { open: async () => bufferFile(content) }, { retransmitTimeoutMs: 5000 });
  const client = new RawClient(t);
  await client.bind();
  client.request(port, 'f');
  const first = await client.next();
  const tid = first.port;
  client.send(encodeAck(1), tid);
  assert.equal(blockOf(await client.next()), 2);
  // ACK 1 again, twice: the server must count and ignore them, and send nothing.
  client.send(encodeAck(1), tid);
  client.send(encodeAck(1), tid);
  await waitFor(() => server.counters.duplicateAcks === 2, 'two duplicate ACKs to be counted');
  assert.equal(server.counters.dataPacketsSent, 2);
  // The transfer goes on from the real ACK.
  for (let block = 2; block <= 6; block++) {
    client.send(encodeAck(block), tid);
    if (block < 6) assert.equal(blockOf(await client.next()), block + 1);
  }
  await waitFor(() => server.counters.transfersCompleted === 1, 'the transfer to complete');
  assert.equal(client.queued, 0, 'no packet was sent in reply to the duplicates');
  assert.equal(server.counters.dataPacketsSent, 6, '5 full blocks and the empty final one, each sent once');
});

engineTest('a client that vanishes frees its slot; until then a full server drops new requests', async (t, engine) => {
  if (!havePeers(t, 'curl')) return;
  const root = await makeRoot(t);
  const out = await outDir(t);
  const { port, server, events } = await startServer(t, engine, root.dir, { maxTransfers: 1, retransmitTimeoutMs: 50, maxRetries: 2 });
  const ghost = new RawClient(t);
  await ghost.bind();
  ghost.request(port, 'big.bin');
  assert.equal(blockOf(await ghost.next()), 1);
  // A second client while the only slot is held: dropped (firmware retries its RRQ), counted.
  const waiting = new RawClient(t);
  await waiting.bind();
  waiting.request(port, 'small.txt');
  await waitFor(() => server.counters.busyDropped === 1, 'the request to be dropped as busy');
  assert.equal(waiting.queued, 0);
  ghost.close(); // vanish: no ACK, no ERROR, the port gone
  await waitFor(() => events.some((e) => e.type === 'transfer-end'), 'the ghost transfer to be abandoned');
  assert.equal(server.counters.activeTransfers, 0);
  const result = await run('curl', ['-sS', '-o', join(out, 'small.txt'), `tftp://127.0.0.1:${port}/small.txt`]);
  assert.equal(result.code, 0, result.stderr);
  assert.ok((await readFile(join(out, 'small.txt'))).equals(root.files.get('small.txt')!));
});

engineTest('a retransmitted RRQ does not start a second transfer; a client ERROR ends the transfer', async (t, engine) => {
  const { port, server } = await startServer(t, engine, { open: async () => bufferFile(randomBytes(2000)) }, { retransmitTimeoutMs: 5000 });
  const client = new RawClient(t);
  await client.bind();
  client.request(port, 'f', [['blksize', '1000']]);
  client.request(port, 'f', [['blksize', '1000']]);
  const oack = await client.next();
  assert.deepEqual(oack.packet, { kind: 'oack', options: [['blksize', '1000']] });
  assert.equal(server.counters.transfersStarted, 1);
  client.send(encodeError(0, 'user cancelled'), oack.port);
  await waitFor(() => server.counters.transfersFailed === 1, 'the cancelled transfer to end');
  assert.equal(server.counters.activeTransfers, 0);
});

/** Packets that are not requests: random bytes, mutated and truncated requests, bad opcodes, stray packets. */
function* malformedPackets(count: number, keep: (kind: string) => boolean): Generator<Buffer> {
  const valid = encodeRequest({
    kind: 'rrq',
    filename: 'small.txt',
    mode: 'octet',
    options: [
      ['blksize', '1468'],
      ['tsize', '0'],
    ],
  });
  let made = 0;
  let i = 0;
  while (made < count) {
    i++;
    let packet: Buffer;
    switch (i % 6) {
      case 0:
        packet = randomBytes(i % 600);
        break;
      case 1: // a request cut short
        packet = valid.subarray(0, i % valid.length);
        break;
      case 2: {
        // a request with a few bytes flipped
        packet = Buffer.from(valid);
        for (let k = 0; k < 3; k++) packet[(i * 7 + k * 13) % packet.length] = (i * 31 + k) & 0xff;
        break;
      }
      case 3: // an unknown opcode
        packet = Buffer.concat([Buffer.from([(i >> 8) & 0xff, 7 + (i % 200)]), randomBytes(i % 40)]);
        break;
      case 4: // a request without any NUL
        packet = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(i % 300, 0x41)]);
        break;
      default: // well-formed but stray on the request port: ACK, DATA, ERROR, OACK
        packet = Buffer.concat([Buffer.from([0, 3 + (i % 4)]), randomBytes(2 + (i % 20))]);
        break;
    }
    let kind: string;
    try {
      kind = decodePacket(packet).kind;
    } catch {
      kind = 'malformed';
    }
    if (!keep(kind)) continue;
    made++;
    yield packet;
  }
}

engineTest('a flood of 100,000 malformed packets is dropped and counted; curl is still served', async (t, engine) => {
  if (!havePeers(t, 'curl')) return;
  const root = await makeRoot(t);
  const out = await outDir(t);
  const { port, server } = await startServer(t, engine, root.dir);
  const sender = new RawClient(t);
  await sender.bind();
  const total = 100_000;
  const batch = 500;
  let sent = 0;
  const dropped = () => server.counters.malformedDropped + server.counters.strayDropped;
  // Keep only what must be dropped: a mutation that still decodes as a request would be answered.
  for (const packet of malformedPackets(total, (kind) => kind !== 'rrq' && kind !== 'wrq')) {
    sender.send(packet, port);
    sent++;
    // Pace by what the server has counted, so the kernel's socket buffer never overflows.
    if (sent % batch === 0) await waitFor(() => dropped() === sent, `${sent} packets to be counted`);
  }
  await waitFor(() => dropped() === total, 'every packet to be counted');
  assert.ok(server.counters.malformedDropped > total / 2);
  assert.equal(server.counters.errorsSent, 0, 'no packet was answered');
  assert.equal(sender.queued, 0);
  const result = await run('curl', ['-sS', '--tftp-blksize', '1468', '-o', join(out, 'big.bin'), `tftp://127.0.0.1:${port}/big.bin`]);
  assert.equal(result.code, 0, result.stderr);
  assert.ok((await readFile(join(out, 'big.bin'))).equals(root.files.get('big.bin')!));
});

engineTest("malformed packets on a transfer's own TID are dropped and the transfer goes on", async (t, engine) => {
  const content = randomBytes(1500);
  const { port, server } = await startServer(t, engine, { open: async () => bufferFile(content) }, { retransmitTimeoutMs: 5000 });
  const client = new RawClient(t);
  await client.bind();
  client.request(port, 'f');
  const first = await client.next();
  // An ACK or ERROR from the client's own TID is legitimate protocol, so only the rest is garbage here.
  const garbage = malformedPackets(2000, (kind) => kind !== 'ack' && kind !== 'error');
  for (const packet of garbage) client.send(packet, first.port);
  await waitFor(() => server.counters.malformedDropped + server.counters.strayDropped === 2000, 'the garbage to be dropped');
  for (let block = 1; block <= 3; block++) {
    client.send(encodeAck(block), first.port);
    if (block < 3) {
      let r = await client.next();
      while (blockOf(r) !== block + 1) r = await client.next();
    }
  }
  await waitFor(() => server.counters.transfersCompleted === 1, 'the transfer to complete');
});

test('binding without privilege says how to fix it; a taken port says so; bad options fail early', async (t) => {
  const denied = Object.assign(new Error('bind EACCES 0.0.0.0:69'), { code: 'EACCES' });
  const unprivileged: TftpSocket = {
    bind: () => Promise.reject(denied),
    connect: () => Promise.resolve(),
    send: () => {},
    onMessage: () => {},
    onError: () => {},
    close: () => {},
  };
  const server = new TftpServer({ handler: { open: async () => undefined }, socketFactory: () => unprivileged });
  await assert.rejects(server.listen(), (error: unknown) => {
    assert.ok(error instanceof TftpBindError);
    assert.equal(error.code, 'TFTP_BIND_DENIED');
    assert.match(error.message, /0\.0\.0\.0:69/);
    assert.match(error.message, /root/);
    assert.match(error.message, /setcap cap_net_bind_service=\+ep/);
    assert.match(error.message, /--tftp 0\.0\.0\.0:6969/);
    return true;
  });
  for (const bad of [
    { maxBlockSize: 4 },
    { maxWindowSize: 0 },
    { port: 70000 },
    { maxRetries: 1.5 },
    { engine: 'fast' as TftpEngine },
    { busyPollMicroseconds: -1 },
  ]) {
    assert.throws(() => new TftpServer({ handler: { open: async () => undefined }, ...bad }), { code: 'TFTP_INVALID_OPTION' }, JSON.stringify(bad));
  }
  const { port } = await startServer(t, 'js', { open: async () => undefined });
  const second = new TftpServer({ handler: { open: async () => undefined }, host: '127.0.0.1', port });
  await assert.rejects(second.listen(), { code: 'TFTP_ADDRESS_IN_USE' });
});

engineTest('closing the server aborts running transfers with an ERROR to their clients', async (t, engine) => {
  const { port, server, events } = await startServer(t, engine, { open: async () => bufferFile(randomBytes(100_000)) }, { retransmitTimeoutMs: 5000 });
  const client = new RawClient(t);
  await client.bind();
  client.request(port, 'f');
  assert.equal(blockOf(await client.next()), 1);
  await server.close();
  const last = await client.next();
  assert.equal(last.packet.kind, 'error');
  await waitFor(() => events.some((e) => e.type === 'transfer-end'), 'the transfer to end');
  assert.equal(server.counters.activeTransfers, 0);
});

engineTest('a PXE-style tsize probe: a new RRQ from the same port replaces the old transfer, even before its ERROR is read', async (t, engine) => {
  const content = randomBytes(3000);
  const { port, server, events } = await startServer(t, engine, { open: async () => bufferFile(content) }, { retransmitTimeoutMs: 5000 });
  const client = new RawClient(t);
  await client.bind();
  client.request(port, 'f', [['tsize', '0']]);
  const probe = await client.next();
  assert.deepEqual(probe.packet, { kind: 'oack', options: [['tsize', '3000']] });
  // The ROM now asks for the file for real, from the same port, and only then (late) sends its ERROR.
  client.request(port, 'f', [
    ['blksize', '1468'],
    ['tsize', '0'],
  ]);
  const real = await client.next();
  assert.deepEqual(real.packet, {
    kind: 'oack',
    options: [
      ['blksize', '1468'],
      ['tsize', '3000'],
    ],
  });
  assert.notEqual(real.port, probe.port, 'a new transfer on a new TID');
  client.send(encodeError(8, 'tsize probe done'), probe.port);
  client.send(encodeAck(0), real.port);
  for (let block = 1; block <= 3; block++) {
    const r = await client.next();
    assert.equal(blockOf(r), block);
    client.send(encodeAck(block), real.port);
  }
  await waitFor(() => server.counters.transfersCompleted === 1, 'the real transfer to complete');
  const ends = events.flatMap((e) => (e.type === 'transfer-end' ? [e.outcome.status === 'failed' ? e.outcome.reason : e.outcome.status] : []));
  assert.deepEqual(ends, ['superseded', 'completed']);
  assert.equal(server.counters.activeTransfers, 0);
});

engineTest('a handler that never answers is timed out: the client gets error 0 and the slot is freed', async (t, engine) => {
  const { port, server, events } = await startServer(t, engine, { open: () => new Promise(() => {}) }, { openTimeoutMs: 50, maxTransfers: 1 });
  const client = new RawClient(t);
  await client.bind();
  client.request(port, 'f');
  const answer = await client.next();
  assert.deepEqual(answer.packet.kind === 'error' && answer.packet.code, 0);
  assert.equal(server.counters.activeTransfers, 0);
  assert.ok(events.some((e) => e.type === 'handler-error'));
});
