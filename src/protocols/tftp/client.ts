// A small TFTP read client (RFC 1350, options RFC 2347/2348/2349, windowsize RFC 7440),
// for tests, benchmarks and lab tooling that fetch from anvil or any TFTP server.
import { isIPv6 } from 'node:net';
import { decodePacket, encodeAck, encodeError, encodeRequest } from './codec.ts';
import type { TftpOption } from './codec.ts';
import { DEFAULT_BLOCK_SIZE, DEFAULT_MAX_RETRIES, DEFAULT_RETRANSMIT_TIMEOUT_MS, ErrorCode, TFTP_PORT } from './constants.ts';
import { TftpRemoteError, TftpTimeoutError } from './errors.ts';
import { systemClock, udpSocketFactory } from './io.ts';
import type { Clock, Endpoint, SocketFactory } from './io.ts';

export type TftpGetOptions = {
  readonly host: string;
  readonly port?: number;
  readonly filename: string;
  /** Asks for blksize (RFC 2348); the server may answer smaller. */
  readonly blockSize?: number;
  /** Asks for windowsize (RFC 7440). */
  readonly windowSize?: number;
  /** Asks for tsize (RFC 2349). */
  readonly tsize?: boolean;
  readonly timeoutMs?: number;
  readonly maxRetries?: number;
  /** Each block's payload in order; the buffer is only valid during the call. Without it, nothing is kept. */
  readonly onData?: (payload: Buffer) => void;
  readonly socketFactory?: SocketFactory;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
};

export type TftpGetResult = {
  readonly bytes: number;
  /** The server's OACK, or empty when it sent DATA directly. */
  readonly oack: readonly TftpOption[];
  readonly blockSize: number;
  readonly windowSize: number;
  /** ACKs re-sent after a timeout or a gap. */
  readonly retransmissions: number;
};

/** Fetches one file; rejects with TftpRemoteError on an ERROR packet, TftpTimeoutError when the server goes quiet. */
export function tftpGet(options: TftpGetOptions): Promise<TftpGetResult> {
  const socket = (options.socketFactory ?? udpSocketFactory)(isIPv6(options.host) ? 'udp6' : 'udp4');
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? DEFAULT_RETRANSMIT_TIMEOUT_MS;
  const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
  const requested: TftpOption[] = [];
  if (options.blockSize !== undefined) requested.push(['blksize', String(options.blockSize)]);
  if (options.windowSize !== undefined) requested.push(['windowsize', String(options.windowSize)]);
  if (options.tsize === true) requested.push(['tsize', '0']);
  const request = encodeRequest({ kind: 'rrq', filename: options.filename, mode: 'octet', options: requested });
  const serverPort = options.port ?? TFTP_PORT;

  return new Promise<TftpGetResult>((resolve, reject) => {
    let server: Endpoint | undefined; // the server's TID, fixed by its first answer
    let blockSize = DEFAULT_BLOCK_SIZE;
    let windowSize = 1;
    let oack: readonly TftpOption[] = [];
    let received = 0; // absolute number of the last in-order block
    let inWindow = 0;
    let bytes = 0;
    let retries = 0;
    let retransmissions = 0;
    let gapAcked = false;
    let lastSent: Buffer = request;
    let timer: unknown;
    let done = false;

    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.close();
      if (error !== undefined) reject(error);
      else resolve({ bytes, oack, blockSize, windowSize, retransmissions });
    };
    const onAbort = () => {
      if (server !== undefined) socket.send(encodeError(ErrorCode.NOT_DEFINED, 'cancelled'), server);
      finish(new Error('TFTP transfer cancelled', { cause: options.signal?.reason }));
    };
    const send = (packet: Buffer) => {
      lastSent = packet;
      socket.send(packet, server ?? { address: options.host, port: serverPort });
    };
    let deadline = 0;
    // One lazily moved timer: a packet only pushes the deadline, so the per-block path sets no timer.
    const arm = () => {
      deadline = clock.now() + timeoutMs;
      timer ??= clock.setTimeout(onTimeout, timeoutMs);
    };
    const onTimeout = () => {
      timer = undefined;
      if (done) return;
      const remaining = deadline - clock.now();
      if (remaining > 0) {
        timer = clock.setTimeout(onTimeout, remaining);
        return;
      }
      if (retries >= maxRetries) {
        finish(new TftpTimeoutError(`no answer from ${options.host}:${serverPort} for ${options.filename} after ${maxRetries} retries`));
        return;
      }
      retries++;
      retransmissions++;
      inWindow = 0;
      send(lastSent);
      arm();
    };

    socket.onError((error) => finish(error));
    socket.onMessage((message, from) => {
      if (done) return;
      if (server === undefined) server = { address: from.address, port: from.port };
      else if (from.port !== server.port || from.address !== server.address) {
        // RFC 1350 §4: a packet from another TID gets error 5 and does not disturb the transfer.
        socket.send(encodeError(ErrorCode.UNKNOWN_TID, 'Unknown transfer ID'), from);
        return;
      }
      let packet;
      try {
        packet = decodePacket(message);
      } catch {
        return;
      }
      if (packet.kind === 'error') {
        finish(new TftpRemoteError(packet.code, packet.message));
        return;
      }
      if (packet.kind === 'oack' && received === 0) {
        oack = packet.options;
        for (const [name, value] of packet.options) {
          if (name.toLowerCase() === 'blksize') blockSize = Number(value);
          if (name.toLowerCase() === 'windowsize') windowSize = Number(value);
        }
        retries = 0;
        send(encodeAck(0));
        arm();
        return;
      }
      if (packet.kind !== 'data') return;
      if (packet.block === ((received + 1) & 0xffff)) {
        received++;
        retries = 0;
        gapAcked = false;
        bytes += packet.data.length;
        options.onData?.(packet.data);
        inWindow++;
        const last = packet.data.length < blockSize;
        if (last || inWindow >= windowSize) {
          inWindow = 0;
          send(encodeAck(received));
        }
        if (last) finish();
        else arm();
      } else if (!gapAcked) {
        // RFC 7440 §4: out of order (a block lost, or a window resent): ACK the last in-order block once.
        gapAcked = true;
        inWindow = 0;
        retransmissions++;
        send(encodeAck(received));
        arm();
      }
    });

    if (options.signal?.aborted) {
      finish(new Error('TFTP transfer cancelled', { cause: options.signal.reason }));
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket
      .bind(0, isIPv6(options.host) ? '::' : '0.0.0.0')
      .then(() => {
        send(request);
        arm();
      })
      .catch((error: unknown) => finish(error as Error));
  });
}
