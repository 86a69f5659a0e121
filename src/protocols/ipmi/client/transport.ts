// One UDP socket shared by many BMC sessions (pyghmi's shared iosockets, FreeIPMI
// ipmipower's single poll loop). Incoming datagrams are routed to their session by
// console session ID when the packet carries one, else by the BMC's address and port.
// A datagram nobody claims is counted and dropped: bad packets never escape.
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { PayloadType, RmcpClass } from '../constants.ts';
import { RMCP_PLUS_AUTH_TYPE } from '../rmcp.ts';
import { literalLookup, pooledRandomness } from '../io.ts';
import { Deadlines } from './deadlines.ts';
import type { DeadlineClock } from './deadlines.ts';

/** Receive buffer asked of the kernel: a fleet answers in bursts (it is capped by net.core.rmem_max). */
export const DEFAULT_RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024;

/** What a session offers the transport to receive its datagrams. */
export interface Endpoint {
  /** "address:port" of the BMC, after name resolution. */
  readonly remoteKey: string;
  /** Takes a datagram from this BMC; false when it is not for this endpoint. Must not throw. */
  receive(packet: Buffer): boolean;
}

/** The parts of node:dgram's Socket the transport uses, so tests can inject their own. */
export type DatagramSocket = Pick<Socket, 'send' | 'on' | 'bind' | 'close' | 'address' | 'setRecvBufferSize' | 'setSendBufferSize' | 'unref' | 'ref'>;

export interface TransportOptions {
  /** Makes the socket; default a udp4 socket. */
  readonly createSocket?: () => DatagramSocket;
  /** Local address to bind; default all interfaces, port chosen by the kernel. */
  readonly localAddress?: string;
  readonly receiveBufferBytes?: number;
  /** Clock and timer of the request deadlines; default the system's. */
  readonly clock?: DeadlineClock;
}

export interface TransportStats {
  /** Datagrams that matched no session (late answers, strangers, garbage). */
  unclaimed: number;
  received: number;
  sent: number;
}

/** Offsets in an RMCP+ datagram (RMCP header 4 bytes, IPMI v2.0 §13.6 table 13-8). */
const AUTH_TYPE_OFFSET = 4;
const PAYLOAD_TYPE_OFFSET = 5;
const SESSION_ID_OFFSET = 6;
const OEM_SESSION_ID_OFFSET = 12;
const PAYLOAD_OFFSET = 16;
/** Open Session Response, RAKP2 and RAKP4 carry the console session ID at payload bytes 4..7 (§13.18, §13.21, §13.23). */
const CONSOLE_SID_IN_PAYLOAD = 4;
const CLASS_OFFSET = 3;

/** Slot width of the keepalive timer: a keepalive is sent up to this much after its session's idle limit. */
export const KEEPALIVE_RESOLUTION_MS = 1000;

export function remoteKey(address: string, port: number): string {
  return `${address}:${port}`;
}

export class Transport {
  readonly stats: TransportStats = { unclaimed: 0, received: 0, sent: 0 };
  /** The timeouts of every request waiting on this socket, on one timer. */
  readonly deadlines: Deadlines;
  /**
   * The keepalives of every session on this socket, on one timer with one-second slots: the
   * sessions due in the same second send together and their answers arrive together. Sent one
   * by one (a timer each), 10,000 idle sessions cost a wake-up of the event loop per keepalive
   * and its answer — about 125 µs of CPU each against 35 µs in a batch. On the system clock
   * (never the injected one: sessions measure idleness with monotonicMs), and apart from
   * `deadlines`, so these long, rarely due deadlines never slow a request's timeout.
   * Unreferenced: an idle session keeps no process alive.
   */
  readonly keepalives = new Deadlines({ resolutionMs: KEEPALIVE_RESOLUTION_MS });
  readonly #socket: DatagramSocket;
  readonly #ready: Promise<void>;
  #bound = false;
  readonly #byRemote = new Map<string, Set<Endpoint>>();
  readonly #bySessionId = new Map<number, Endpoint>();
  #closed = false;
  /** Where console session IDs come from when the caller gives no source: the system CSPRNG, pooled, drawn at first need. */
  #random: ReturnType<typeof pooledRandomness> | undefined;

  constructor(options: TransportOptions = {}) {
    this.deadlines = new Deadlines(options.clock ? { clock: options.clock } : {});
    this.#socket = options.createSocket?.() ?? createSocket({ type: 'udp4', lookup: literalLookup });
    this.#socket.on('message', (packet: Buffer, rinfo: RemoteInfo) => this.#dispatch(packet, rinfo));
    // A send to an unreachable port can surface as an error event; the session's timeout reports it.
    this.#socket.on('error', () => {});
    this.#ready = new Promise<void>((resolve) => {
      this.#socket.bind({ port: 0, ...(options.localAddress ? { address: options.localAddress } : {}) }, () => {
        try {
          this.#socket.setRecvBufferSize(options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES);
          this.#socket.setSendBufferSize(options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES);
        } catch {
          // Some platforms refuse large buffers; the default still works, with more retries under load.
        }
        this.#bound = true;
        resolve();
      });
    });
    // Idle sessions must not keep a process alive; sessions ref() while a request waits.
    this.#socket.unref();
  }

  get sessions(): number {
    let n = 0;
    for (const set of this.#byRemote.values()) n += set.size;
    return n;
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  /** The local UDP port, once bound (for logs and tests). */
  async localPort(): Promise<number> {
    await this.#ready;
    return this.#socket.address().port;
  }

  register(endpoint: Endpoint): void {
    let set = this.#byRemote.get(endpoint.remoteKey);
    if (!set) this.#byRemote.set(endpoint.remoteKey, (set = new Set()));
    set.add(endpoint);
  }

  unregister(endpoint: Endpoint): void {
    const set = this.#byRemote.get(endpoint.remoteKey);
    set?.delete(endpoint);
    if (set?.size === 0) this.#byRemote.delete(endpoint.remoteKey);
    // Session IDs are released by their session (releaseSessionId): no scan of the whole map here.
  }

  /** A console session ID no other session on this socket uses (never 0, which means "no session"). */
  claimSessionId(endpoint: Endpoint, random: (max: number) => number = (max) => Math.floor((this.#random ??= pooledRandomness()).fraction() * max)): number {
    for (;;) {
      const sid = random(0xffffffff) >>> 0;
      if (sid !== 0 && !this.#bySessionId.has(sid)) {
        this.#bySessionId.set(sid, endpoint);
        return sid;
      }
    }
  }

  releaseSessionId(sid: number): void {
    this.#bySessionId.delete(sid);
  }

  /** Holds the event loop open while some session waits for an answer. */
  #waiting = 0;
  hold(): void {
    if (this.#waiting++ === 0) this.#socket.ref();
  }
  release(): void {
    if (--this.#waiting === 0 && !this.#closed) this.#socket.unref();
  }

  /** Sends a datagram now, or once the socket is bound. Synchronous: no promise per datagram. */
  send(packet: Uint8Array, address: string, port: number): void {
    if (this.#closed) return;
    if (!this.#bound) {
      void this.#ready.then(() => this.send(packet, address, port));
      return;
    }
    this.stats.sent++;
    this.#socket.send(packet, port, address);
  }

  #dispatch(packet: Buffer, rinfo: RemoteInfo): void {
    this.stats.received++;
    const key = remoteKey(rinfo.address, rinfo.port);
    const bySid = this.#consoleSessionId(packet);
    if (bySid !== undefined) {
      const endpoint = this.#bySessionId.get(bySid);
      if (endpoint && endpoint.remoteKey === key && endpoint.receive(packet)) return;
    }
    for (const endpoint of this.#byRemote.get(key) ?? []) {
      if (endpoint.receive(packet)) return;
    }
    this.stats.unclaimed++;
  }

  /** The console session ID an RMCP+ datagram is addressed to, when it names one. */
  #consoleSessionId(packet: Buffer): number | undefined {
    if (packet.length < PAYLOAD_OFFSET + CONSOLE_SID_IN_PAYLOAD + 4) return undefined;
    if ((packet[CLASS_OFFSET]! & 0x0f) !== RmcpClass.IPMI || packet[AUTH_TYPE_OFFSET] !== RMCP_PLUS_AUTH_TYPE) return undefined;
    const payloadType = packet[PAYLOAD_TYPE_OFFSET]! & 0x3f;
    if (payloadType === PayloadType.OEM_EXPLICIT) return packet.readUInt32LE(OEM_SESSION_ID_OFFSET) || undefined;
    const sid = packet.readUInt32LE(SESSION_ID_OFFSET);
    if (sid !== 0) return sid;
    if (payloadType === PayloadType.OPEN_SESSION_RESPONSE || payloadType === PayloadType.RAKP2 || payloadType === PayloadType.RAKP4) {
      return packet.readUInt32LE(PAYLOAD_OFFSET + CONSOLE_SID_IN_PAYLOAD);
    }
    return undefined;
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
