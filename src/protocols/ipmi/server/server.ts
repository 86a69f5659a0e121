// A UDP server hosting many emulated BMCs in one process, on one event loop: each BMC has
// its own address:port socket, users, GUID and handler. Sockets, clock, randomness and
// timers live here; bmc.ts only maps datagrams to datagrams.
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { BmcOptions, BmcStats } from './bmc-options.ts';
import { EmulatedBmc } from './bmc.ts';
import { literalLookup, pooledRandomBytes } from '../io.ts';

/** How often idle sessions and abandoned logins are swept. */
export const DEFAULT_SWEEP_INTERVAL_MS = 1_000;
/** The emulator's default address: loopback, so nothing is exposed by accident. */
export const DEFAULT_BMC_ADDRESS = '127.0.0.1';

export interface BmcServerOptions {
  /** Random bytes (session IDs, RAKP Rc, challenges, AES IVs). Default the system CSPRNG, pooled. */
  readonly random?: (n: number) => Buffer;
  /** Milliseconds since the epoch. Default Date.now. */
  readonly now?: () => number;
  readonly sweepIntervalMs?: number;
  /** Called for an unexpected error (a bug, never a bad packet); default writes to stderr. */
  readonly onError?: (error: unknown, bmc: EmulatedBmc) => void;
}

export interface AddBmcOptions extends BmcOptions {
  /** Default 127.0.0.1. */
  readonly address?: string;
  /** Default 0: an ephemeral port (read it back from `port`). */
  readonly port?: number;
}

export interface HostedBmc {
  readonly bmc: EmulatedBmc;
  readonly address: string;
  readonly port: number;
}

export class BmcServer {
  readonly #random: (n: number) => Buffer;
  readonly #now: () => number;
  readonly #onError: (error: unknown, bmc: EmulatedBmc) => void;
  readonly #hosted: { hosted: HostedBmc; socket: Socket }[] = [];
  readonly #sweep: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(options: BmcServerOptions = {}) {
    this.#random = options.random ?? pooledRandomBytes();
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? ((error) => process.stderr.write(`anvil bmc: unexpected error: ${(error as Error).stack ?? String(error)}\n`));
    this.#sweep = setInterval(() => {
      for (const { hosted } of this.#hosted) hosted.bmc.sweep();
    }, options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
    this.#sweep.unref();
  }

  /** Binds a socket and starts a BMC on it. */
  async add(options: AddBmcOptions = {}): Promise<HostedBmc> {
    if (this.#closed) throw new Error('BmcServer is closed');
    const address = options.address ?? DEFAULT_BMC_ADDRESS;
    const socket = createSocket({
      type: isIPv6(address) ? 'udp6' : 'udp4',
      ipv6Only: isIPv6(address) && address !== '::' ? true : false,
      lookup: literalLookup,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port ?? 0, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const port = socket.address().port;
    const bmc = new EmulatedBmc(
      {
        port,
        // No completion callback: it costs a JS call per datagram, and a lost reply is what UDP
        // allows anyway (the console retries). Socket-level errors still reach the error event.
        // A handler that finishes after close() (a lab VM still powering on) has nobody to answer.
        send: (packet, to) => {
          if (!this.#closed) socket.send(packet, to.port, to.address);
        },
        random: this.#random,
        now: this.#now,
      },
      options,
    );
    socket.on('message', (msg, rinfo) => {
      try {
        bmc.receive(msg, { address: rinfo.address, port: rinfo.port })?.catch((error: unknown) => this.#onError(error, bmc));
      } catch (error) {
        this.#onError(error, bmc);
      }
    });
    // A send error to one peer (ICMP unreachable) must not take the BMC down.
    socket.on('error', (error) => this.#onError(error, bmc));
    const hosted = { bmc, address, port };
    this.#hosted.push({ hosted, socket });
    return hosted;
  }

  get bmcs(): readonly HostedBmc[] {
    return this.#hosted.map((h) => h.hosted);
  }

  /** Counters summed over every BMC. */
  stats(): BmcStats & { sessions: number; activeSessions: number } {
    const total = {
      received: 0,
      badPackets: 0,
      authFailures: 0,
      replays: 0,
      dropped: 0,
      commandErrors: 0,
      sessionsOpened: 0,
      sessionsClosed: 0,
      sessionsExpired: 0,
      sessions: 0,
      activeSessions: 0,
    };
    for (const { hosted } of this.#hosted) {
      const s = hosted.bmc.stats;
      for (const k of Object.keys(s) as (keyof BmcStats)[]) total[k] += s[k];
      total.sessions += hosted.bmc.sessionCount;
      total.activeSessions += hosted.bmc.activeSessionCount;
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    await Promise.all(
      this.#hosted.map(
        ({ hosted, socket }) =>
          new Promise<void>((resolve) => {
            hosted.bmc.close();
            socket.close(() => resolve());
          }),
      ),
    );
  }
}
