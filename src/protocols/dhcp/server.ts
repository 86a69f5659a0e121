// The DHCP server: takes each datagram its sockets receive, runs one request at a time
// through the pure parts (codec, classify, responder) and the lease pool, and counts what it
// drops.
//
// Two modes. 'proxy' (PXE spec 2.1 §2.2.5): beside the site's DHCP server, answer only
// netboot clients, with boot information and no address, on port 67 and on the PXE
// boot-server port 4011. 'server': the only DHCP server of an isolated provisioning
// network, leasing from a range (RFC 2131), and booting netboot clients as well.
//
// Its sockets, and why it listens where it does, are sockets.ts's.
import type { RemoteInfo } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { decode, encode, packetMac, type DhcpPacket } from './codec.ts';
import { BOOTP_OP, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, MESSAGE_TYPE, MESSAGE_TYPE_NAME, OPTION, PXE_PORT } from './constants.ts';
import { bootFileFor, classify, type BootDecision, type BootPolicy, type ClientInfo } from './classify.ts';
import { DhcpDecodeError, DhcpError } from './errors.ts';
import { LeasePool, type PoolConfig } from './lease-pool.ts';
import { MemoryLeaseStore, type Lease, type LeaseStore } from './lease-store.ts';
import { getIp, getString } from './options.ts';
import { informReply, leaseReply, nakReply, proxyReply, type LeaseReplyConfig } from './responder.ts';
import { DhcpSockets, type DgramSocket } from './sockets.ts';

// The sockets' slice of node:dgram and their buffer size are part of the server's API: re-exported for one import.
export { DEFAULT_RECEIVE_BUFFER_BYTES, type DgramSocket } from './sockets.ts';

export type DhcpMode = 'proxy' | 'server';

export interface ServerPoolOptions extends PoolConfig {
  readonly subnetMask: string;
  readonly routers?: readonly string[];
  readonly dnsServers?: readonly string[];
  readonly domainName?: string;
}

export interface DhcpServerOptions {
  readonly mode: DhcpMode;
  /** This host's address on the provisioning network: option 54, and siaddr by default. */
  readonly serverAddress: string;
  readonly boot: BootPolicy;
  /** siaddr, the TFTP server loaders come from; default serverAddress. */
  readonly nextServer?: string;
  /** Required in server mode. */
  readonly pool?: ServerPoolOptions;
  /** Server mode's leases; default a MemoryLeaseStore. */
  readonly store?: LeaseStore;
  readonly bindAddress?: string;
  readonly port?: number;
  /** The PXE boot-server port; false to not listen on it. Default 4011 in proxy mode, off in server mode. */
  readonly pxePort?: number | false;
  readonly clientPort?: number;
  /** Where replies to a relay agent (giaddr) go; 67 (RFC 2131 §4.1). */
  readonly relayPort?: number;
  /** Where replies to clients without an address go; default 255.255.255.255. */
  readonly broadcastAddress?: string;
  readonly anvilUserClasses?: readonly string[];
  /** Default DEFAULT_MAX_PENDING. */
  readonly maxPending?: number;
  /** SO_RCVBUF asked for each socket; default DEFAULT_RECEIVE_BUFFER_BYTES. */
  readonly receiveBufferBytes?: number;
  readonly clock?: () => number;
  readonly createSocket?: () => DgramSocket;
}

export interface DhcpStats {
  received: number;
  /** Not DHCP at all, or a malformed option: dropped, never thrown out of the serve loop. */
  malformed: number;
  /** Well-formed but not for us: replies, non-netboot clients in proxy mode, other servers' REQUESTs. */
  ignored: number;
  replied: number;
  /** Store or send failures. */
  errors: number;
  /** Dropped unread because maxPending requests were already waiting (a flood). */
  dropped: number;
}

/** Requests waiting their turn before new ones are dropped: a flood cannot grow memory. */
export const DEFAULT_MAX_PENDING = 1024;

export interface DhcpServerEvents {
  /** A reply left: what was asked, by whom, and what they got. */
  reply: [{ mac: string; request: string; reply: string; address: string; boot: BootDecision; via: 'dhcp' | 'pxe'; to: string }];
  /** Server mode bound or renewed a lease. */
  lease: [Lease];
  released: [{ mac: string; address: string }];
  declined: [{ mac: string; address: string }];
  malformed: [{ error: DhcpDecodeError; from: string }];
  error: [Error];
  /** Every datagram, raw, before decoding; for captures and debugging. */
  packet: [{ data: Uint8Array; from: RemoteInfo; via: 'dhcp' | 'pxe' }];
}

const ZERO = '0.0.0.0';
const LIMITED_BROADCAST = '255.255.255.255';

export class DhcpServer extends EventEmitter<DhcpServerEvents> {
  readonly mode: DhcpMode;
  readonly stats: DhcpStats = { received: 0, malformed: 0, ignored: 0, replied: 0, errors: 0, dropped: 0 };
  /** The lease store (server mode), for lookups such as leases.byAddress(ip). */
  readonly leases: LeaseStore;
  readonly #opts: DhcpServerOptions;
  readonly #pool: LeasePool | undefined;
  readonly #leaseConfig: LeaseReplyConfig | undefined;
  readonly #nextServer: string;
  readonly #broadcast: string;
  readonly #sockets: DhcpSockets;
  /** Requests are handled one at a time so two DISCOVERs never pick the same address. */
  #queue: Promise<void> = Promise.resolve();
  #pending = 0;

  constructor(opts: DhcpServerOptions) {
    super();
    this.#opts = opts;
    this.mode = opts.mode;
    this.#nextServer = opts.nextServer ?? opts.serverAddress;
    this.#broadcast = opts.broadcastAddress ?? LIMITED_BROADCAST;
    this.leases = opts.store ?? new MemoryLeaseStore();
    if (opts.mode === 'server') {
      if (opts.pool === undefined) throw new DhcpError('DHCP_CONFIG', 'server mode needs a pool (--dhcp-range A-B)');
      this.#pool = new LeasePool(this.leases, { ...opts.pool, exclude: [...(opts.pool.exclude ?? []), opts.serverAddress] }, opts.clock);
      this.#leaseConfig = { ...opts.pool, serverAddress: opts.serverAddress, nextServer: this.#nextServer, leaseTime: this.#pool.leaseTime };
    }
    this.#sockets = new DhcpSockets({
      ...(opts.receiveBufferBytes !== undefined ? { receiveBufferBytes: opts.receiveBufferBytes } : {}),
      ...(opts.createSocket !== undefined ? { createSocket: opts.createSocket } : {}),
      onMessage: (msg, rinfo, via) => void this.handle(msg, rinfo, via),
      onError: (err) => {
        this.stats.errors++;
        this.#emitError(err);
      },
    });
  }

  /** The MAC holding a bound lease on an address (server mode), for identifying machines. */
  async macByAddress(address: string): Promise<string | undefined> {
    const lease = await this.leases.byAddress(address);
    return lease?.state === 'bound' ? lease.mac : undefined;
  }

  /** Binds the DHCP port (and 4011 in proxy mode). Throws DHCP_BIND_DENIED / DHCP_BIND_IN_USE. */
  async start(): Promise<void> {
    const port = this.#opts.port ?? DHCP_SERVER_PORT;
    const pxePort = this.#opts.pxePort ?? (this.mode === 'proxy' ? PXE_PORT : false);
    try {
      await this.#sockets.open({ port, pxePort, bindAddress: this.#opts.bindAddress ?? ZERO, serverAddress: this.#opts.serverAddress });
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** The ports actually bound (useful with port 0 in tests). */
  ports(): { dhcp?: number; pxe?: number } {
    return this.#sockets.ports();
  }

  async stop(): Promise<void> {
    await this.#sockets.close();
    await this.#queue;
  }

  /**
   * Handles one datagram; public so tests and fuzzers can drive the server without sockets.
   * Resolves when the reply (if any) was handed to the socket. Never rejects.
   */
  handle(data: Uint8Array, from: RemoteInfo, via: 'dhcp' | 'pxe'): Promise<void> {
    this.stats.received++;
    if (this.#pending >= (this.#opts.maxPending ?? DEFAULT_MAX_PENDING)) {
      this.stats.dropped++;
      return Promise.resolve();
    }
    if (this.listenerCount('packet') > 0) this.emit('packet', { data: Uint8Array.from(data), from, via });
    this.#pending++;
    const run = this.#queue
      .then(() => this.#handle(data, from, via))
      .catch((err: unknown) => {
        if (err instanceof DhcpDecodeError) {
          this.stats.malformed++;
          if (this.listenerCount('malformed') > 0) this.emit('malformed', { error: err, from: from.address });
        } else {
          this.stats.errors++;
          this.#emitError(err instanceof Error ? err : new Error(String(err)));
        }
      })
      .finally(() => {
        this.#pending--;
      });
    this.#queue = run;
    return run;
  }

  #emitError(err: Error): void {
    // An 'error' event without a listener would throw and take the process down.
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  async #handle(data: Uint8Array, from: RemoteInfo, via: 'dhcp' | 'pxe'): Promise<void> {
    const request = decode(data);
    const client = classify(request, this.#opts.anvilUserClasses === undefined ? {} : { anvilUserClasses: this.#opts.anvilUserClasses });
    if (request.op !== BOOTP_OP.REQUEST || client.messageType === undefined) {
      this.stats.ignored++;
      return;
    }
    const decision = bootFileFor(client, this.#opts.boot);
    if (this.mode === 'proxy' || via === 'pxe') return this.#proxy(request, client, decision, from, via);
    return this.#serve(request, client, decision, from);
  }

  async #proxy(request: DhcpPacket, client: ClientInfo, decision: BootDecision, from: RemoteInfo, via: 'dhcp' | 'pxe'): Promise<void> {
    const type = client.messageType;
    const serverId = getIp(request.options, OPTION.SERVER_ID);
    // Port 67: DISCOVER, or a REQUEST addressed to us. Port 4011: REQUEST or INFORM
    // (PXE spec 2.1 §2.2.6, the boot-server request). Everything else belongs to the
    // site's DHCP server.
    const wanted =
      via === 'dhcp'
        ? type === MESSAGE_TYPE.DISCOVER || (type === MESSAGE_TYPE.REQUEST && serverId === this.#opts.serverAddress)
        : type === MESSAGE_TYPE.REQUEST || type === MESSAGE_TYPE.INFORM;
    if (!wanted || decision.kind === 'none' || !(client.netboot || client.ipxe)) {
      this.stats.ignored++;
      return;
    }
    const reply = proxyReply(request, client, decision, via, {
      serverAddress: this.#opts.serverAddress,
      nextServer: this.#nextServer,
    });
    const to = via === 'pxe' ? { address: from.address, port: from.port } : this.#broadcastTarget(request);
    await this.#send(reply, to, request, client, decision, via);
  }

  async #serve(request: DhcpPacket, client: ClientInfo, decision: BootDecision, from: RemoteInfo): Promise<void> {
    const pool = this.#pool!;
    const config = this.#leaseConfig!;
    const mac = client.mac;
    const o = request.options;
    switch (client.messageType) {
      case MESSAGE_TYPE.DISCOVER: {
        const lease = await pool.offer(mac, getIp(o, OPTION.REQUESTED_ADDRESS));
        if (lease === undefined) {
          this.stats.ignored++;
          this.#emitError(new DhcpError('DHCP_POOL_EXHAUSTED', `DHCP range exhausted: no address for ${mac}; widen --dhcp-range`));
          return;
        }
        const reply = leaseReply(request, MESSAGE_TYPE.OFFER, lease.address, client, decision, config);
        return this.#send(reply, this.#broadcastTarget(request), request, client, decision, 'dhcp');
      }
      case MESSAGE_TYPE.REQUEST: {
        const serverId = getIp(o, OPTION.SERVER_ID);
        const hostname = getString(o, OPTION.HOST_NAME);
        const clientIdRaw = o.get(OPTION.CLIENT_ID);
        const outcome = await pool.request({
          mac,
          serverIdIsOurs: serverId === undefined ? undefined : serverId === this.#opts.serverAddress,
          requested: getIp(o, OPTION.REQUESTED_ADDRESS),
          ciaddr: request.ciaddr,
          ...(hostname === undefined ? {} : { hostname }),
          ...(clientIdRaw === undefined ? {} : { clientId: Buffer.from(clientIdRaw).toString('hex') }),
        });
        if (outcome.kind === 'silent') {
          this.stats.ignored++;
          return;
        }
        const reply =
          outcome.kind === 'ack'
            ? leaseReply(request, MESSAGE_TYPE.ACK, outcome.lease.address, client, decision, config)
            : nakReply(request, this.#opts.serverAddress, outcome.reason);
        // RFC 2131 §4.1: a renewing client (ciaddr set) is answered by unicast.
        const to =
          outcome.kind === 'ack' && request.ciaddr !== ZERO && request.giaddr === ZERO
            ? { address: request.ciaddr, port: this.#clientPort() }
            : this.#broadcastTarget(request);
        await this.#send(reply, to, request, client, decision, 'dhcp');
        if (outcome.kind === 'ack') this.emit('lease', outcome.lease);
        return;
      }
      case MESSAGE_TYPE.RELEASE: {
        if (await pool.release(mac, request.ciaddr)) this.emit('released', { mac, address: request.ciaddr });
        else this.stats.ignored++;
        return;
      }
      case MESSAGE_TYPE.DECLINE: {
        const address = getIp(o, OPTION.REQUESTED_ADDRESS);
        if (address !== undefined && (await pool.decline(mac, address))) this.emit('declined', { mac, address });
        else this.stats.ignored++;
        return;
      }
      case MESSAGE_TYPE.INFORM: {
        if (request.ciaddr === ZERO) {
          this.stats.ignored++;
          return;
        }
        const reply = informReply(request, client, decision, config);
        return this.#send(reply, { address: request.ciaddr, port: from.port }, request, client, decision, 'dhcp');
      }
      default:
        this.stats.ignored++;
    }
  }

  #clientPort(): number {
    return this.#opts.clientPort ?? DHCP_CLIENT_PORT;
  }

  /** RFC 2131 §4.1: through the relay if there is one, else broadcast (no ARP entry yet). */
  #broadcastTarget(request: DhcpPacket): { address: string; port: number } {
    if (request.giaddr !== ZERO) return { address: request.giaddr, port: this.#opts.relayPort ?? DHCP_SERVER_PORT };
    return { address: this.#broadcast, port: this.#clientPort() };
  }

  async #send(
    reply: DhcpPacket,
    to: { address: string; port: number },
    request: DhcpPacket,
    client: ClientInfo,
    boot: BootDecision,
    via: 'dhcp' | 'pxe',
  ): Promise<void> {
    const socket = this.#sockets.replySocket(via);
    if (socket === undefined) return; // stopped, or driven through handle() without sockets
    const bytes = encode(reply);
    await new Promise<void>((resolve) => {
      socket.send(bytes, to.port, to.address, (err) => {
        if (err) {
          this.stats.errors++;
          this.#emitError(new DhcpError('DHCP_SEND', `cannot send a DHCP reply to ${to.address}:${to.port}: ${err.message}`, { cause: err }));
        } else {
          this.stats.replied++;
          this.emit('reply', {
            mac: packetMac(request),
            request: messageName(client.messageType),
            reply: messageName(reply.options.get(OPTION.MESSAGE_TYPE)?.[0]),
            address: reply.yiaddr,
            boot,
            via,
            to: `${to.address}:${to.port}`,
          });
        }
        resolve();
      });
    });
  }
}

function messageName(type: number | undefined): string {
  return type === undefined ? 'NONE' : (MESSAGE_TYPE_NAME[type] ?? `TYPE${type}`);
}
