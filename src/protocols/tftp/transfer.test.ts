// The transfer state machine with an injected socket and clock: windows, retransmission
// and abort are checked without the network and without waiting on real time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePacket, encodeAck, encodeError } from './codec.ts';
import { bufferFile } from './handler.ts';
import type { Clock, Endpoint, TftpSocket } from './io.ts';
import { Transfer, zeroCounters } from './transfer.ts';
import type { TransferOutcome } from './transfer.ts';

/** A clock whose time moves only when the test says; timers fire in order as it passes them. */
class ManualClock implements Clock {
  #now = 0;
  #timers: { at: number; callback: () => void; id: number }[] = [];
  #nextId = 0;
  now = () => this.#now;
  setTimeout = (callback: () => void, ms: number) => {
    const id = this.#nextId++;
    this.#timers.push({ at: this.#now + ms, callback, id });
    return id;
  };
  clearTimeout = (handle: unknown) => {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  };
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers[0];
      if (next === undefined || next.at > until) break;
      this.#timers.shift();
      this.#now = next.at;
      next.callback();
    }
    this.#now = until;
  }
}

class FakeSocket implements TftpSocket {
  readonly sent: Buffer[] = [];
  closed = false;
  #listener: ((message: Buffer, from: Endpoint) => void) | undefined;
  bind = async () => ({ address: '127.0.0.1', port: 1 });
  connect = async () => {};
  send(parts: Buffer | readonly Buffer[]): void {
    this.sent.push(Buffer.concat(Array.isArray(parts) ? parts : [parts as Buffer]));
  }
  onMessage(listener: (message: Buffer, from: Endpoint) => void): void {
    this.#listener = listener;
  }
  onError(): void {}
  close(): void {
    this.closed = true;
  }
  receive(message: Buffer): void {
    this.#listener?.(message, { address: '127.0.0.1', port: 2 });
  }
  /** Block numbers of DATA sent so far, and forgets them. */
  take(): (number | string)[] {
    const out = this.sent.map((b) => {
      const p = decodePacket(b);
      return p.kind === 'data' ? p.block : p.kind;
    });
    this.sent.length = 0;
    return out;
  }
}

/** Lets the block reader's file reads (promises) settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function setup(size: number, windowSize: number, oack: readonly (readonly [string, string])[] = []) {
  const socket = new FakeSocket();
  const clock = new ManualClock();
  const counters = zeroCounters();
  const ended: TransferOutcome[] = [];
  const transfer = new Transfer({
    socket,
    file: bufferFile(Buffer.alloc(size, 7)),
    client: { address: '127.0.0.1', port: 2 },
    oack,
    blockSize: 512,
    windowSize,
    timeoutMs: 1000,
    maxRetries: 2,
    clock,
    counters,
    onEnd: (outcome) => ended.push(outcome),
  });
  return { socket, clock, counters, ended, transfer };
}

test('windowsize 4: a window per ACK, a partial ACK restarts after it (RFC 7440 §4)', async () => {
  const { socket, counters, ended, transfer } = setup(512 * 9 + 1, 4);
  transfer.start();
  await settle();
  assert.deepEqual(socket.take(), [1, 2, 3, 4]);
  socket.receive(encodeAck(4));
  assert.deepEqual(socket.take(), [5, 6, 7, 8]);
  socket.receive(encodeAck(6)); // 7 was lost
  assert.deepEqual(socket.take(), [7, 8, 9, 10]);
  socket.receive(encodeAck(6)); // stale now: ignored
  assert.deepEqual(socket.take(), []);
  assert.equal(counters.duplicateAcks, 1);
  socket.receive(encodeAck(10));
  assert.deepEqual(ended, [{ status: 'completed' }]);
  assert.equal(socket.closed, true);
});

test('OACK is retransmitted until ACK 0; then silence past maxRetries aborts with an ERROR', async () => {
  const { socket, clock, counters, ended, transfer } = setup(100, 1, [['blksize', '512']]);
  transfer.start();
  assert.deepEqual(socket.take(), ['oack']);
  clock.advance(999);
  assert.deepEqual(socket.take(), []);
  clock.advance(1);
  assert.deepEqual(socket.take(), ['oack']);
  socket.receive(encodeAck(0));
  await settle();
  assert.deepEqual(socket.take(), [1]);
  clock.advance(1000);
  clock.advance(1000);
  assert.deepEqual(socket.take(), [1, 1]);
  clock.advance(1000);
  assert.deepEqual(socket.take(), ['error']);
  assert.equal(ended[0]?.status === 'failed' && ended[0].reason, 'timeout');
  assert.equal(counters.retransmissions, 3);
});

test('an ACK pushes the deadline back without re-arming a timer per packet', async () => {
  const { socket, clock, ended, transfer } = setup(512 * 3, 1);
  transfer.start();
  await settle();
  assert.deepEqual(socket.take(), [1]);
  clock.advance(900);
  socket.receive(encodeAck(1));
  assert.deepEqual(socket.take(), [2]);
  clock.advance(900); // 1800 ms since the start, 900 since block 2: no retransmission yet
  assert.deepEqual(socket.take(), []);
  clock.advance(100);
  assert.deepEqual(socket.take(), [2]);
  socket.receive(encodeError(0, 'bye'));
  assert.equal(ended[0]?.status === 'failed' && ended[0].reason, 'client-error');
});
