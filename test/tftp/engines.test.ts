// What both engines (the JS reference and the native pump) must do beyond the interop and
// robustness suites: RFC 7440 restarts and rollover within windows, empty files, read errors,
// a stranger on a transfer's TID; and that no pump thread outlives its transfer or close().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireCondition } from '../helpers/peers.ts';
import { RawClient, blockOf, engineTest, makeRoot, startServer, waitFor } from './fixture.ts';
import { tftpGet } from '../../src/protocols/tftp/client.ts';
import { encodeAck } from '../../src/protocols/tftp/codec.ts';
import { TftpRemoteError } from '../../src/protocols/tftp/errors.ts';
import { bufferFile, diskFile } from '../../src/protocols/tftp/handler.ts';
import { TFTP_ENGINE_ENV, loadNativePump, nativePumpProblem } from '../../src/protocols/tftp/native-pump.ts';
import { systemClock } from '../../src/protocols/tftp/io.ts';
import { TftpServer } from '../../src/protocols/tftp/server.ts';

const HOST = '127.0.0.1';

engineTest('windowsize 4: an ACK inside the window resends from there; a stale ACK is only counted (RFC 7440 §4)', async (t, engine) => {
  const { port, server } = await startServer(t, engine, { open: async () => bufferFile(randomBytes(512 * 9 + 1)) }, { retransmitTimeoutMs: 5000 });
  const client = new RawClient(t);
  await client.bind();
  client.request(port, 'f', [['windowsize', '4']]);
  const oack = await client.next();
  assert.deepEqual(oack.packet, { kind: 'oack', options: [['windowsize', '4']] });
  const tid = oack.port;
  const window = async () => [blockOf(await client.next()), blockOf(await client.next()), blockOf(await client.next()), blockOf(await client.next())];
  client.send(encodeAck(0), tid);
  assert.deepEqual(await window(), [1, 2, 3, 4]);
  client.send(encodeAck(4), tid);
  assert.deepEqual(await window(), [5, 6, 7, 8]);
  client.send(encodeAck(6), tid); // 7 was lost
  assert.deepEqual(await window(), [7, 8, 9, 10]);
  client.send(encodeAck(6), tid); // stale now
  await waitFor(() => server.counters.duplicateAcks === 1, 'the stale ACK to be counted');
  client.send(encodeAck(10), tid);
  await waitFor(() => server.counters.transfersCompleted === 1, 'the transfer to complete');
  assert.equal(server.counters.dataPacketsSent, 12, 'three windows, none in reply to the stale ACK');
});

engineTest('block numbers wrap past 65535 inside windows; an empty file is one empty block (the pump sleeping on every wait)', async (t, engine) => {
  const root = await makeRoot(t);
  const content = randomBytes(8 * 70_000 + 3);
  await writeFile(join(root.dir, 'wrap.bin'), content);
  await writeFile(join(root.dir, 'empty.bin'), '');
  // Without busy-polling the native pump waits only in its blocking recvfrom; every other test polls first.
  const { port, server } = await startServer(t, engine, root.dir, { busyPollMicroseconds: 0 });
  const parts: Buffer[] = [];
  const result = await tftpGet({ host: HOST, port, filename: 'wrap.bin', blockSize: 8, windowSize: 16, onData: (p) => parts.push(Buffer.from(p)) });
  assert.equal(result.windowSize, 16);
  assert.ok(Buffer.concat(parts).equals(content));
  const empty = await tftpGet({ host: HOST, port, filename: 'empty.bin' });
  assert.equal(empty.bytes, 0);
  await waitFor(() => server.counters.transfersCompleted === 2, 'both transfers to complete');
  assert.equal(server.counters.dataPacketsSent, 70_001 + 1);
});

engineTest('a read error ends the transfer with error 0 to the client', async (t, engine) => {
  const root = await makeRoot(t);
  // A directory opens and has a size, and every read of it fails (EISDIR), through read() and pread alike.
  const { port, events } = await startServer(t, engine, { open: async () => diskFile(await open(root.dir, 'r')) });
  await assert.rejects(
    tftpGet({ host: HOST, port, filename: 'f' }),
    (e: unknown) => e instanceof TftpRemoteError && e.errorCode === 0 && /read error/.test(e.message),
  );
  await waitFor(() => events.some((e) => e.type === 'transfer-end'), 'the transfer to end');
  const end = events.find((e) => e.type === 'transfer-end');
  assert.equal(end?.type === 'transfer-end' && end.outcome.status === 'failed' && end.outcome.reason, 'read-error');
});

engineTest('a packet from another TID leaves the transfer alone (the native pump answers it with error 5)', async (t, engine) => {
  const { port, server } = await startServer(t, engine, { open: async () => bufferFile(randomBytes(512 * 2 + 1)) }, { retransmitTimeoutMs: 200 });
  const client = new RawClient(t);
  await client.bind();
  client.request(port, 'f');
  const first = await client.next();
  assert.equal(blockOf(first), 1);
  const stranger = new RawClient(t);
  await stranger.bind();
  stranger.send(encodeAck(1), first.port);
  if (engine === 'native') {
    // RFC 1350 §4. The JS engine's socket is connected, so there the kernel drops the packet unanswered.
    const answer = await stranger.next();
    assert.deepEqual(answer.packet, { kind: 'error', code: 5, message: 'Unknown transfer ID' });
  }
  // The stranger's ACK 1 moved nothing: what comes next is block 1 again, retransmitted.
  assert.equal(blockOf(await client.next()), 1);
  for (let block = 1; block <= 3; block++) {
    client.send(encodeAck(block), first.port);
    if (block < 3) {
      let r = await client.next();
      while (blockOf(r) !== block + 1) r = await client.next();
    }
  }
  await waitFor(() => server.counters.transfersCompleted === 1, 'the transfer to complete');
  assert.equal(stranger.queued, 0);
});

/** Threads of this process named by the pump (native/binding.c, PUMP_THREAD_NAME). */
function pumpThreads(): number {
  let count = 0;
  for (const task of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${task}/comm`, 'utf8').trim() === 'anvil-tftp-pump') count++;
    } catch {
      // the thread ended while we looked
    }
  }
  return count;
}

test('no pump thread outlives its transfer, and close() returns only once every one is joined', async (t) => {
  if (!requireCondition(t, loadNativePump() !== undefined, `the native TFTP pump: ${nativePumpProblem()}`)) return;
  const { port, server } = await startServer(t, 'native', { open: async () => bufferFile(randomBytes(100_000)) }, { retransmitTimeoutMs: 5000 });
  assert.equal((await tftpGet({ host: HOST, port, filename: 'f' })).bytes, 100_000);
  await waitFor(() => server.counters.transfersCompleted === 1, 'the transfer to complete');
  assert.equal(pumpThreads(), 0, 'the finished transfer was joined before it was reported');
  const clients = await Promise.all(
    Array.from({ length: 5 }, async () => {
      const client = new RawClient(t);
      await client.bind();
      client.request(port, 'f');
      assert.equal(blockOf(await client.next()), 1);
      return client;
    }),
  );
  assert.equal(pumpThreads(), 5);
  await server.close();
  assert.equal(pumpThreads(), 0);
  for (const client of clients) assert.equal((await client.next()).packet.kind, 'error');
});

test('auto takes the pump when it is built, the JS engine when a clock or sockets are injected; ANVIL_TFTP_ENGINE overrides', (t) => {
  if (!requireCondition(t, loadNativePump() !== undefined, `the native TFTP pump: ${nativePumpProblem()}`)) return;
  const handler = { open: async () => undefined };
  const saved = process.env[TFTP_ENGINE_ENV];
  t.after(() => {
    if (saved === undefined) delete process.env[TFTP_ENGINE_ENV];
    else process.env[TFTP_ENGINE_ENV] = saved;
  });
  delete process.env[TFTP_ENGINE_ENV];
  assert.equal(new TftpServer({ handler }).engine, 'native');
  assert.equal(new TftpServer({ handler, engine: 'auto', clock: systemClock }).engine, 'js');
  assert.equal(new TftpServer({ handler, engine: 'native', clock: systemClock }).engine, 'native');
  process.env[TFTP_ENGINE_ENV] = 'js';
  assert.equal(new TftpServer({ handler }).engine, 'js');
  assert.equal(new TftpServer({ handler, engine: 'native' }).engine, 'native', 'the option wins over the environment');
  process.env[TFTP_ENGINE_ENV] = 'turbo';
  assert.throws(() => new TftpServer({ handler }), { code: 'TFTP_INVALID_OPTION' });
});
