// Floods for a TFTP server under test: fuzzed datagrams (random bytes, requests with random
// names, modes and options, stray DATA/ACK/ERROR/OACK, write requests) and pxelinux's
// per-machine names for random MACs, sent from a few source ports at a paced rate. Seeded, so a
// round that shows a problem can be replayed.
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeAck, encodeError, encodeOack, encodeRequest } from '../../src/protocols/tftp/codec.ts';

/** A small, seeded PRNG (mulberry32): the same seed gives the same flood. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./';
const MODES = ['octet', 'netascii', 'mail', 'OCTET', 'binary', ''];
const OPTION_NAMES = ['blksize', 'tsize', 'timeout', 'windowsize', 'BLKSIZE', 'multicast', 'x'];

function randomMac(random: () => number): string {
  return Array.from({ length: 6 }, () =>
    Math.floor(random() * 256)
      .toString(16)
      .padStart(2, '0'),
  ).join('-');
}

function randomName(random: () => number): string {
  const shape = random();
  if (shape < 0.1) return `pxelinux.cfg/${'A'.repeat(200 + Math.floor(random() * 4000))}`;
  if (shape < 0.2) return `${'../'.repeat(1 + Math.floor(random() * 8))}etc/passwd`;
  if (shape < 0.3)
    return `pxelinux.cfg/${Math.floor(random() * 2 ** 32)
      .toString(16)
      .toUpperCase()}`;
  if (shape < 0.4) return `grub/grub.cfg-01-${randomMac(random)}`;
  const length = 1 + Math.floor(random() * 80);
  let name = '';
  for (let i = 0; i < length; i++) name += NAME_CHARS[Math.floor(random() * NAME_CHARS.length)];
  return name;
}

/** One fuzzed datagram for the request port. */
export function fuzzedDatagram(random: () => number): Buffer {
  const kind = random();
  if (kind < 0.2) {
    const bytes = Buffer.allocUnsafe(Math.floor(random() * 600));
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
    if (bytes.length >= 2 && random() < 0.5) bytes.writeUInt16BE(1 + Math.floor(random() * 6), 0);
    return bytes;
  }
  if (kind < 0.7) {
    const options: [string, string][] = [];
    const count = Math.floor(random() * 4);
    for (let i = 0; i < count; i++) {
      const name = OPTION_NAMES[Math.floor(random() * OPTION_NAMES.length)]!;
      options.push([name, String(Math.floor(random() * 70_000) - 100)]);
    }
    const mode = MODES[Math.floor(random() * MODES.length)]!;
    const request = encodeRequest({ kind: random() < 0.9 ? 'rrq' : 'wrq', filename: randomName(random), mode: mode as 'octet', options });
    // Now and then cut short, so the decoder sees a request without its last NUL.
    return random() < 0.1 ? request.subarray(0, Math.max(2, Math.floor(random() * request.length))) : request;
  }
  if (kind < 0.8) return encodeAck(Math.floor(random() * 65_536));
  if (kind < 0.9) return encodeError(Math.floor(random() * 9), 'x'.repeat(Math.floor(random() * 300)));
  return encodeOack([['blksize', String(Math.floor(random() * 65_536))]]);
}

/** pxelinux's first question for a random machine: pxelinux.cfg/01-<mac>. */
export function pxelinuxMacRequest(random: () => number): Buffer {
  return encodeRequest({ kind: 'rrq', filename: `pxelinux.cfg/01-${randomMac(random)}`, mode: 'octet' });
}

export interface FloodOptions {
  readonly port: number;
  readonly host?: string;
  readonly count: number;
  readonly make: () => Buffer;
  /** Source sockets (client TIDs) the datagrams are spread over. */
  readonly sources?: number;
  /** Datagrams sent before yielding for `pauseMs`, so the flood is paced rather than dropped by the kernel. */
  readonly burst?: number;
  readonly pauseMs?: number;
}

/** Sends `count` datagrams; answers are read and dropped (a flooder does not ACK). Resolves with how many answers came. */
export async function flood(options: FloodOptions): Promise<number> {
  const host = options.host ?? '127.0.0.1';
  const sockets: Socket[] = [];
  let answers = 0;
  try {
    for (let i = 0; i < (options.sources ?? 8); i++) {
      const socket = createSocket('udp4');
      socket.on('message', () => answers++);
      socket.on('error', () => {}); // ICMP port unreachable from a transfer's TID, and the like
      socket.bind(0, host);
      await once(socket, 'listening');
      sockets.push(socket);
    }
    const burst = options.burst ?? 20;
    for (let sent = 0; sent < options.count; ) {
      const n = Math.min(burst, options.count - sent);
      await Promise.all(
        Array.from(
          { length: n },
          (_, i) => new Promise<void>((resolve) => sockets[(sent + i) % sockets.length]!.send(options.make(), options.port, host, () => resolve())),
        ),
      );
      sent += n;
      await sleep(options.pauseMs ?? 3);
    }
    await sleep(200); // the last answers
  } finally {
    for (const socket of sockets) socket.close();
  }
  return answers;
}
