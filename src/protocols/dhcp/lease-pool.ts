// Server-mode address management over a LeaseStore: choosing an address for a DISCOVER,
// and the REQUEST states of RFC 2131 §4.3.2 (SELECTING, INIT-REBOOT, RENEWING/REBINDING),
// RELEASE (§4.3.4) and DECLINE (§4.3.3). The clock is injected; no sockets here.
//
// The server is authoritative for its range (it runs on an isolated provisioning network):
// a client asking for a free address of the range gets it even without a record, as after a
// server restart with the in-memory store, and a client asking for another network's
// address gets a NAK instead of the silence RFC 2131 asks of non-authoritative servers.
import { ipToNumber, numberToIp } from './codec.ts';
import { DhcpError } from './errors.ts';
import type { Lease, LeaseStore } from './lease-store.ts';

/** RFC 2131 leaves these to the administrator; named so operators can tune them. */
export const DEFAULT_LEASE_TIME_S = 3600;
/** How long an offered address is held for the client's REQUEST (RFC 2131 §4.3.1). */
export const DEFAULT_OFFER_HOLD_MS = 60_000;
/** How long a declined address stays out of use (RFC 2131 §4.3.3: "mark as not available"). */
export const DEFAULT_DECLINE_HOLD_MS = 10 * 60_000;

export interface PoolConfig {
  /** First and last address handed out, inclusive. */
  readonly start: string;
  readonly end: string;
  /** Addresses inside the range that are never handed out (the server's own, say). */
  readonly exclude?: readonly string[];
  readonly leaseTime?: number;
  readonly offerHoldMs?: number;
  readonly declineHoldMs?: number;
}

export type RequestOutcome =
  | { readonly kind: 'ack'; readonly lease: Lease }
  | { readonly kind: 'nak'; readonly reason: string }
  | { readonly kind: 'silent'; readonly reason: string };

export interface RequestParams {
  readonly mac: string;
  /** Option 54 matched this server (true), named another (false), or was absent (undefined). */
  readonly serverIdIsOurs: boolean | undefined;
  readonly requested: string | undefined;
  readonly ciaddr: string;
  readonly hostname?: string;
  readonly clientId?: string;
}

export class LeasePool {
  readonly store: LeaseStore;
  readonly leaseTime: number;
  readonly #start: number;
  readonly #end: number;
  readonly #exclude: Set<string>;
  readonly #offerHoldMs: number;
  readonly #declineHoldMs: number;
  readonly #clock: () => number;
  /** Declined addresses and when they may be used again; in memory only (see README). */
  readonly #declined = new Map<string, number>();

  constructor(store: LeaseStore, config: PoolConfig, clock: () => number = Date.now) {
    this.store = store;
    this.#start = ipToNumber(config.start);
    this.#end = ipToNumber(config.end);
    if (this.#end < this.#start) {
      throw new DhcpError('DHCP_CONFIG', `DHCP range ${config.start}-${config.end} ends before it starts`);
    }
    this.#exclude = new Set(config.exclude ?? []);
    this.leaseTime = config.leaseTime ?? DEFAULT_LEASE_TIME_S;
    this.#offerHoldMs = config.offerHoldMs ?? DEFAULT_OFFER_HOLD_MS;
    this.#declineHoldMs = config.declineHoldMs ?? DEFAULT_DECLINE_HOLD_MS;
    this.#clock = clock;
  }

  inRange(address: string): boolean {
    let n: number;
    try {
      n = ipToNumber(address);
    } catch {
      return false;
    }
    return n >= this.#start && n <= this.#end && !this.#exclude.has(address);
  }

  #isDeclined(address: string): boolean {
    const until = this.#declined.get(address);
    if (until === undefined) return false;
    if (until > this.#clock()) return true;
    this.#declined.delete(address);
    return false;
  }

  /** A record that no longer holds its address for its MAC: released or past its time. */
  #lapsed(lease: Lease): boolean {
    return lease.state === 'released' || lease.expiresAt <= this.#clock();
  }

  #usable(address: string, holder: Lease | undefined, mac: string): boolean {
    return this.inRange(address) && !this.#isDeclined(address) && (holder === undefined || holder.mac === mac || this.#lapsed(holder));
  }

  /**
   * Picks and holds an address for a DISCOVER: the MAC's own address first (stickiness),
   * then the one it asks for (option 50), then a never-used one, then the longest-lapsed.
   * Returns undefined when the range is exhausted.
   */
  async offer(mac: string, requested?: string): Promise<Lease | undefined> {
    const now = this.#clock();
    const own = await this.store.get(mac);
    let address: string | undefined;
    if (own !== undefined && this.inRange(own.address) && !this.#isDeclined(own.address)) {
      if (own.state === 'bound' && own.expiresAt > now) return own;
      address = own.address;
    }
    if (address === undefined && requested !== undefined && this.inRange(requested)) {
      if (this.#usable(requested, await this.store.byAddress(requested), mac)) address = requested;
    }
    if (address === undefined) address = await this.#pick(mac);
    if (address === undefined) return undefined;
    const lease: Lease = { mac, address, state: 'offered', expiresAt: now + this.#offerHoldMs };
    await this.store.put(lease);
    return lease;
  }

  async #pick(mac: string): Promise<string | undefined> {
    const leases = await this.store.list();
    const held = new Set(leases.map((l) => l.address));
    for (let n = this.#start; n <= this.#end; n++) {
      const address = numberToIp(n);
      if (!held.has(address) && !this.#exclude.has(address) && !this.#isDeclined(address)) return address;
    }
    const lapsed = leases
      .filter((l) => l.mac !== mac && this.#lapsed(l) && this.inRange(l.address) && !this.#isDeclined(l.address))
      .sort((a, b) => a.expiresAt - b.expiresAt);
    return lapsed[0]?.address;
  }

  /** RFC 2131 §4.3.2: which state the client is in decides what it may have. */
  async request(p: RequestParams): Promise<RequestOutcome> {
    if (p.serverIdIsOurs === false) {
      // SELECTING another server's offer: give ours back at once.
      const own = await this.store.get(p.mac);
      if (own?.state === 'offered') await this.store.delete(p.mac);
      return { kind: 'silent', reason: 'client selected another server' };
    }
    const wanted = p.ciaddr !== '0.0.0.0' ? p.ciaddr : p.requested;
    if (wanted === undefined) return { kind: 'nak', reason: 'REQUEST names no address (no option 50, no ciaddr)' };
    if (p.serverIdIsOurs === true) {
      const own = await this.store.get(p.mac);
      if (own === undefined || own.address !== wanted || (own.state === 'offered' && own.expiresAt <= this.#clock())) {
        return { kind: 'nak', reason: `${wanted} was not offered to ${p.mac}` };
      }
    } else if (!this.inRange(wanted)) {
      return { kind: 'nak', reason: `${wanted} is not on this network` };
    } else if (!this.#usable(wanted, await this.store.byAddress(wanted), p.mac)) {
      return { kind: 'nak', reason: `${wanted} is not available to ${p.mac}` };
    }
    if (this.#isDeclined(wanted)) return { kind: 'nak', reason: `${wanted} was declined` };
    const lease: Lease = {
      mac: p.mac,
      address: wanted,
      state: 'bound',
      expiresAt: this.#clock() + this.leaseTime * 1000,
      ...(p.hostname === undefined ? {} : { hostname: p.hostname }),
      ...(p.clientId === undefined ? {} : { clientId: p.clientId }),
    };
    await this.store.put(lease);
    return { kind: 'ack', lease };
  }

  /** RELEASE: only the holder can release; the record stays so the MAC gets it back. */
  async release(mac: string, address: string): Promise<boolean> {
    const holder = await this.store.byAddress(address);
    if (holder === undefined || holder.mac !== mac) return false;
    await this.store.put({ ...holder, state: 'released', expiresAt: this.#clock() });
    return true;
  }

  /** DECLINE: the address is in use by someone unknown; keep it out of the pool for a while. */
  async decline(mac: string, address: string): Promise<boolean> {
    if (!this.inRange(address)) return false;
    this.#declined.set(address, this.#clock() + this.#declineHoldMs);
    const holder = await this.store.byAddress(address);
    if (holder !== undefined && holder.mac === mac) await this.store.delete(mac);
    return true;
  }
}
