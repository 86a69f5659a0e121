// The clients' side of DHCP in the boot storm: one UDP socket on port 68 shared by every
// simulated machine. Requests are broadcast to port 67; replies (anvil broadcasts them to
// 255.255.255.255:68, the clients having no address yet) reach this one socket and are
// handed to the machine waiting on that xid and chaddr. Retransmission follows the
// firmware's own schedule, so a dropped request costs what it costs a real machine.
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { decode, encode, BOOTP_OP, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, MESSAGE_TYPE_NAME, OPTION, type DhcpPacket } from '../../src/protocols/dhcp/index.ts';

/** PXE spec 2.1: a NIC ROM sends DISCOVER four times, waiting 4, 8, 16 and 32 s (iPXE's config/dhcp.h cites it). */
export const PXE_ROM_TIMEOUTS_MS: readonly number[] = [4000, 8000, 16000, 32000];
/** iPXE's own DHCP (config/dhcp.h: "iPXE by default uses 1, 2, 4, 8"). */
export const IPXE_TIMEOUTS_MS: readonly number[] = [1000, 2000, 4000, 8000];
/** Asked of the kernel for the shared socket: a thousand replies may queue while the event loop is busy. */
export const CLIENT_SOCKET_BUFFER_BYTES = 4 << 20;
const LIMITED_BROADCAST = '255.255.255.255';

export class DhcpTimeoutError extends Error {
  override readonly name = 'DhcpTimeoutError';
}

interface Waiter {
  readonly chaddr: Uint8Array;
  readonly accept: readonly number[];
  readonly resolve: (reply: DhcpPacket) => void;
}

export class DhcpPort {
  readonly #socket: Socket;
  readonly #serverPort: number;
  readonly #waiters = new Map<number, Waiter>();
  /** Replies nobody waits for (late answers to a retransmitted request) or that do not decode. */
  stray = 0;

  private constructor(socket: Socket, serverPort: number) {
    this.#socket = socket;
    this.#serverPort = serverPort;
    socket.on('message', (message) => this.#receive(message));
  }

  static async open(opts: { clientPort?: number; serverPort?: number } = {}): Promise<DhcpPort> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true, recvBufferSize: CLIENT_SOCKET_BUFFER_BYTES });
    socket.bind(opts.clientPort ?? DHCP_CLIENT_PORT, '0.0.0.0');
    await once(socket, 'listening');
    socket.setBroadcast(true);
    return new DhcpPort(socket, opts.serverPort ?? DHCP_SERVER_PORT);
  }

  /**
   * Broadcasts a request until a reply of an accepted message type comes back for its xid,
   * resending it (same xid, as firmware does) after each timeout. Resolves with the reply
   * and how many times the request was resent; rejects with DhcpTimeoutError.
   */
  async exchange(request: DhcpPacket, accept: readonly number[], timeoutsMs: readonly number[]): Promise<{ reply: DhcpPacket; resent: number }> {
    if (this.#waiters.has(request.xid)) throw new Error(`xid ${request.xid} is already waiting for a reply`);
    const bytes = encode(request);
    let resolveReply!: (reply: DhcpPacket) => void;
    const replied = new Promise<DhcpPacket>((resolve) => (resolveReply = resolve));
    this.#waiters.set(request.xid, { chaddr: request.chaddr.subarray(0, request.hlen), accept, resolve: resolveReply });
    try {
      for (let attempt = 0; attempt < timeoutsMs.length; attempt++) {
        await this.#send(bytes);
        let timer: NodeJS.Timeout | undefined;
        const reply = await Promise.race([replied, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutsMs[attempt])))]);
        clearTimeout(timer);
        if (reply !== undefined) return { reply, resent: attempt };
      }
      const type = MESSAGE_TYPE_NAME[request.options.get(OPTION.MESSAGE_TYPE)?.[0] ?? 0] ?? 'request';
      throw new DhcpTimeoutError(`no answer to ${type} xid ${request.xid.toString(16)} after ${timeoutsMs.length} tries (${timeoutsMs.join(', ')} ms)`);
    } finally {
      this.#waiters.delete(request.xid);
    }
  }

  #send(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => this.#socket.send(bytes, this.#serverPort, LIMITED_BROADCAST, (err) => (err ? reject(err) : resolve())));
  }

  #receive(message: Buffer): void {
    let reply: DhcpPacket;
    try {
      reply = decode(message);
    } catch {
      this.stray++;
      return;
    }
    const waiter = this.#waiters.get(reply.xid);
    const type = reply.options.get(OPTION.MESSAGE_TYPE)?.[0];
    if (
      reply.op !== BOOTP_OP.REPLY ||
      waiter === undefined ||
      type === undefined ||
      !waiter.accept.includes(type) ||
      !sameBytes(reply.chaddr.subarray(0, waiter.chaddr.length), waiter.chaddr)
    ) {
      this.stray++;
      return;
    }
    this.#waiters.delete(reply.xid);
    waiter.resolve(reply);
  }

  close(): void {
    this.#socket.close();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
