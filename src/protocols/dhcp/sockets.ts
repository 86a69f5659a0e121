// The DHCP server's sockets: the listener on port 67, the sender bound to serverAddress:67
// that broadcasts leave from, and the PXE boot-server listener on 4011; their receive
// buffers, their bind errors in words, and which of them a reply goes out of.
//
// Interface binding: Node has no SO_BINDTODEVICE, so the server listens on 0.0.0.0:67 (a
// socket bound to the interface's own address would not see the clients' broadcasts) and
// answers every interface of its network namespace: run it where the provisioning interface
// is the only one facing clients, or use proxy mode, which answers PXE clients only.
// Replies to clients without an address go to 255.255.255.255. To make those leave by the
// provisioning interface rather than by the default route, they are sent from a second
// socket bound to serverAddress:67 (SO_REUSEADDR on both): Linux routes a limited broadcast
// out of the interface that owns the socket's source address (net/ipv4/route.c, "direct
// multicasts and limited broadcast via necessary interface"). The subnet's own broadcast
// address would be routed right too, but with it OVMF's PXE boot failed (PXE-E18).
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { bindError, DhcpError } from './errors.ts';

/** The slice of node:dgram's Socket the server uses, so tests can inject their own. */
export interface DgramSocket {
  bind(port: number, address: string, callback: () => void): unknown;
  send(msg: Uint8Array, port: number, address: string, callback: (err: Error | null) => void): void;
  setBroadcast(flag: boolean): void;
  /** SO_RCVBUF; optional, so injected sockets need not have it. */
  setRecvBufferSize?(size: number): void;
  close(callback?: () => void): unknown;
  on(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * The kernel's receive buffer asked for each socket. A thousand machines powered on together
 * send their DISCOVERs within milliseconds; Linux's default (rmem_default, 208 KiB) holds
 * about 160 of them (each datagram is charged ~1.3 KiB, not its ~350 bytes), and a PXE ROM
 * whose DISCOVER is dropped waits 4 s before it asks again (bench/boot-storm.ts measured 940
 * drops and a p50 OFFER of 6 s). 2 MiB (doubled by Linux for its bookkeeping) holds more
 * than maxPending requests. Linux caps the request at net.core.rmem_max: raise that sysctl
 * where it is lower.
 */
export const DEFAULT_RECEIVE_BUFFER_BYTES = 2 << 20;

/** Which listener a datagram came in on: DHCP (67) or the PXE boot server (4011). */
export type DhcpVia = 'dhcp' | 'pxe';

export interface DhcpSocketsOptions {
  /** SO_RCVBUF asked for each socket; default DEFAULT_RECEIVE_BUFFER_BYTES. */
  readonly receiveBufferBytes?: number;
  readonly createSocket?: () => DgramSocket;
  /** Every datagram of every socket, the sender's included. */
  readonly onMessage: (msg: Buffer, rinfo: RemoteInfo, via: DhcpVia) => void;
  /** A socket's error after it was bound. */
  readonly onError: (err: Error) => void;
}

/** Where the server listens. */
export interface DhcpListen {
  readonly port: number;
  /** The PXE boot-server port, or false for none. */
  readonly pxePort: number | false;
  readonly bindAddress: string;
  /** This host's address on the provisioning network: the sender's, when bindAddress is the wildcard. */
  readonly serverAddress: string;
}

const ZERO = '0.0.0.0';

export class DhcpSockets {
  readonly #options: DhcpSocketsOptions;
  /** Listening sockets, and the sender bound to serverAddress that broadcasts go out of. */
  readonly #sockets: { socket: DgramSocket; via: DhcpVia; port: number; sender: boolean }[] = [];

  constructor(options: DhcpSocketsOptions) {
    this.#options = options;
  }

  /** Binds the DHCP listener, its sender when it listens on the wildcard, and the PXE listener. Throws DHCP_BIND_DENIED / DHCP_BIND_IN_USE. */
  async open(where: DhcpListen): Promise<void> {
    const wildcard = where.bindAddress === ZERO;
    const bound = await this.#bind(where.port, 'dhcp', where.bindAddress, wildcard);
    if (wildcard) await this.#bind(bound, 'dhcp', where.serverAddress, true, true);
    if (where.pxePort !== false) await this.#bind(where.pxePort, 'pxe', where.bindAddress, false);
  }

  /** The ports actually bound (useful with port 0 in tests). */
  ports(): { dhcp?: number; pxe?: number } {
    const out: { dhcp?: number; pxe?: number } = {};
    for (const s of this.#sockets) if (!s.sender) out[s.via] = s.port;
    return out;
  }

  /** The socket a reply for `via` leaves from: its sender if it has one, else its listener; undefined when none is open. */
  replySocket(via: DhcpVia): DgramSocket | undefined {
    return (this.#sockets.find((s) => s.via === via && s.sender) ?? this.#sockets.find((s) => s.via === via) ?? this.#sockets[0])?.socket;
  }

  async close(): Promise<void> {
    const sockets = this.#sockets.splice(0);
    await Promise.all(
      sockets.map(
        ({ socket }) =>
          new Promise<void>((resolve) => {
            try {
              socket.close(() => resolve());
            } catch {
              resolve(); // already closed
            }
          }),
      ),
    );
  }

  /** Binds one socket; returns its port. `reuse` sets SO_REUSEADDR (listener + sender pair). */
  async #bind(port: number, via: DhcpVia, address: string, reuse: boolean, sender = false): Promise<number> {
    const socket = this.#options.createSocket?.() ?? (createSocket({ type: 'udp4', reuseAddr: reuse }) as Socket as DgramSocket);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        // The sender's address must be this host's: say so rather than "cannot bind".
        const code = (err as NodeJS.ErrnoException).code;
        reject(
          sender && code === 'EADDRNOTAVAIL'
            ? new DhcpError('DHCP_CONFIG', `serverAddress ${address} is not an address of this host; give the provisioning interface's own address`, {
                cause: err,
              })
            : bindError(err, address, port),
        );
      };
      socket.once('error', onError);
      socket.bind(port, address, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    socket.setBroadcast(true);
    socket.setRecvBufferSize?.(this.#options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES);
    socket.on('error', (err) => this.#options.onError(err));
    // The sender also receives what is unicast to serverAddress:67 (renewals, relays).
    socket.on('message', (msg, rinfo) => this.#options.onMessage(msg, rinfo, via));
    const bound = (socket as Partial<Socket>).address?.call(socket)?.port ?? port;
    this.#sockets.push({ socket, via, port: bound, sender });
    return bound;
  }
}
