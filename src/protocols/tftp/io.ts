// The I/O the TFTP server and client need, behind small interfaces so tests can pass
// their own sockets and clock. The defaults wrap node:dgram and performance.now().
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';

export type Endpoint = { readonly address: string; readonly port: number };

export interface TftpSocket {
  bind(port: number, address: string): Promise<Endpoint>;
  /** Fixes the peer, so sends skip address resolution and the kernel drops other senders (RFC 1350 TID). */
  connect(port: number, address: string): Promise<void>;
  /** Sends the parts as one datagram (sendmsg with an iovec: the payload is not copied). */
  send(parts: Buffer | readonly Buffer[], to?: Endpoint): void;
  onMessage(listener: (message: Buffer, from: Endpoint) => void): void;
  /** Socket errors, e.g. ECONNREFUSED on a connected socket whose peer has gone. */
  onError(listener: (error: Error) => void): void;
  close(): void;
}

export type SocketFamily = 'udp4' | 'udp6';
export type SocketFactory = (family: SocketFamily) => TftpSocket;

export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Socket buffer size asked of the kernel: a window of large blocks must not overflow the default. */
export const DEFAULT_SOCKET_BUFFER_BYTES = 1 << 20;

class UdpSocket implements TftpSocket {
  readonly #socket: Socket;
  #closed = false;
  #closing = false;
  #unsent = 0;

  constructor(family: SocketFamily) {
    this.#socket = createSocket({ type: family, sendBufferSize: DEFAULT_SOCKET_BUFFER_BYTES, recvBufferSize: DEFAULT_SOCKET_BUFFER_BYTES });
  }

  bind(port: number, address: string): Promise<Endpoint> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.#socket.once('error', onError);
      this.#socket.bind(port, address, () => {
        this.#socket.off('error', onError);
        const bound = this.#socket.address();
        resolve({ address: bound.address, port: bound.port });
      });
    });
  }

  connect(port: number, address: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.#socket.once('error', onError);
      this.#socket.connect(port, address, () => {
        this.#socket.off('error', onError);
        resolve();
      });
    });
  }

  send(parts: Buffer | readonly Buffer[], to?: Endpoint): void {
    if (this.#closed) return;
    const message = parts as Buffer | Buffer[];
    if (to === undefined) {
      // Connected: node sends at once, so a close() right after cannot lose it.
      this.#socket.send(message);
      return;
    }
    // Unconnected sends wait on an address lookup; count them so close() does not drop them.
    this.#unsent++;
    this.#socket.send(message, to.port, to.address, () => {
      this.#unsent--;
      if (this.#closing && this.#unsent === 0) this.#socket.close();
    });
  }

  onMessage(listener: (message: Buffer, from: Endpoint) => void): void {
    this.#socket.on('message', (message, rinfo) => listener(message, rinfo));
  }

  onError(listener: (error: Error) => void): void {
    this.#socket.on('error', listener);
  }

  /** Closes once sends already made have left (a final ACK or ERROR must not be dropped). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#unsent === 0) this.#socket.close();
    else this.#closing = true;
  }
}

export const udpSocketFactory: SocketFactory = (family) => new UdpSocket(family);
