// One IPMI session with one BMC: the login state machine (IPMI v2.0 §13.14–§13.23 for
// RMCP+, §22.16–§22.17 for IPMI 1.5), requests framed for the session with one in flight,
// keepalive, and Close Session. The waiting and resending is exchange.ts's; the datagrams
// travel through a shared Transport; the bytes are made and read by the pure codec one folder up.
import { isIP } from 'node:net';
import { AppCmd, AuthType, CompletionCode, NetFn, PayloadType, RMCP_PORT } from '../constants.ts';
import type { PrivilegeLevel } from '../constants.ts';
import type { CipherSuite } from '../cipher-suites.ts';
import { IpmiDecodeError } from '../errors.ts';
import { decodeAsf, decodeRmcp, encodeAsf, RMCP_PLUS_AUTH_TYPE } from '../rmcp.ts';
import { decodeResponse, encodeRequest, MAX_REQUEST_SEQUENCE } from '../message.ts';
import { decodeSession20, encodeSession20 } from '../session20.ts';
import { decodeSession15, encodeSession15, verifySession15 } from '../session15.ts';
import type { Session15AuthType } from '../session15.ts';
import type { SessionKeys } from '../crypto.ts';
import type { CommandRequest } from '../commands/request.ts';
import { IpmiAddressError, IpmiClosedError, IpmiCommandError, IpmiTimeoutError, IpmiUncertainError } from './errors.ts';
import { monotonicMs } from './deadlines.ts';
import type { Deadline } from './deadlines.ts';
import { ExchangeEngine } from './exchange.ts';
import type { ExchangeOptions } from './exchange.ts';
import { DEFAULT_PRIVILEGE, DEFAULT_RETRY_POLICY } from './options.ts';
import type { BmcTarget, Randomness, RetryPolicy } from './options.ts';
import { remoteKey } from './transport.ts';
import type { Endpoint, Transport } from './transport.ts';
import { login15, login20 } from './login.ts';
import { ReplayWindow } from './replay-window.ts';

/** Where a session is in its life. Login steps are named after the message awaited. */
export type SessionState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'presence' }
  | { readonly kind: 'auth-caps' }
  | { readonly kind: 'cipher-suites' }
  | { readonly kind: 'open-session'; readonly suite: CipherSuite }
  | { readonly kind: 'rakp1'; readonly suite: CipherSuite }
  | { readonly kind: 'rakp3'; readonly suite: CipherSuite }
  | { readonly kind: 'challenge'; readonly authType: Session15AuthType }
  | { readonly kind: 'activate'; readonly authType: Session15AuthType }
  | { readonly kind: 'set-privilege'; readonly privilege: PrivilegeLevel }
  | { readonly kind: 'active' }
  | { readonly kind: 'closing' }
  | { readonly kind: 'closed'; readonly reason?: Error };

/** How request messages are framed: before a session (1.5 or RMCP+ framing, session 0) or inside it. */
export type Framing = 'pre-1.5' | 'pre-2.0' | 'session';

/** The established session's wire parameters. */
export type Wire =
  | { readonly version: '2.0'; readonly bmcSessionId: number; readonly consoleSessionId: number; readonly keys: SessionKeys; readonly suite: CipherSuite }
  | { readonly version: '1.5'; readonly sessionId: number; readonly authType: Session15AuthType };

export interface RawResponse {
  readonly completionCode: number;
  readonly data: Uint8Array;
}

export type { ExchangeOptions } from './exchange.ts';

export class Session implements Endpoint {
  readonly target: Required<Pick<BmcTarget, 'host' | 'port' | 'user' | 'protocol'>> & BmcTarget;
  readonly privilege: PrivilegeLevel;
  readonly policy: RetryPolicy;
  readonly random: Randomness;
  remoteKey = '';
  /** Garbage answers seen from this BMC (they never end a session by themselves). */
  decodeErrors = 0;
  /** Inbound sequence numbers of the current session, for replay protection. */
  #replay = new ReplayWindow();
  /** The OEM/manufacturer info, when a caller cached it here (see oem/lookup.ts). */
  readonly cache = new Map<string, unknown>();

  #state: SessionState = { kind: 'idle' };
  #wire: Wire | undefined;
  #address = '';
  #transport: Transport;
  readonly #exchanges: ExchangeEngine;
  #queue: Promise<unknown> = Promise.resolve();
  #rqSeq = 0;
  #outSeq = 0;
  #keepalive: Deadline | undefined;
  /** monotonicMs() of the last answer in the active session, for the keepalive. */
  #lastAnswered = 0;
  #registered = false;
  #closedByUser = false;
  #payloadHandlers = new Map<number, (payload: Buffer) => void>();
  #onClosed: (() => void) | undefined;

  /** `onClosed` runs once close() has finished, so a registry can forget the session. */
  constructor(transport: Transport, target: BmcTarget, policy: RetryPolicy = DEFAULT_RETRY_POLICY, random: Randomness, onClosed?: () => void) {
    this.#transport = transport;
    this.#onClosed = onClosed;
    this.target = { ...target, port: target.port ?? RMCP_PORT, protocol: target.protocol ?? 'lanplus' };
    this.privilege = target.privilege ?? DEFAULT_PRIVILEGE;
    this.policy = policy;
    this.random = random;
    this.#exchanges = new ExchangeEngine({
      host: this.host,
      policy,
      random,
      deadlines: transport.deadlines,
      send: (packet) => this.#transport.send(packet, this.#address, this.target.port),
      hold: () => this.#transport.hold(),
      release: () => this.#transport.release(),
      countGarbage: () => void this.decodeErrors++,
    });
  }

  /** "host:port" for messages (never the password). */
  get host(): string {
    return this.target.port === RMCP_PORT ? this.target.host : `${this.target.host}:${this.target.port}`;
  }

  /** Session packets dropped because their sequence number was already seen or too old. */
  get replays(): number {
    return this.#replay.refused;
  }

  get state(): SessionState {
    return this.#state;
  }

  get wire(): Wire | undefined {
    return this.#wire;
  }

  /** Login steps report where they are. */
  setState(state: SessionState): void {
    this.#state = state;
  }

  get transport(): Transport {
    return this.#transport;
  }

  /** Sends a command and returns its data; a completion code other than 0 throws IpmiCommandError. */
  async request(req: CommandRequest): Promise<Uint8Array> {
    const res = await this.requestRaw(req);
    if (res.completionCode !== CompletionCode.OK) throw new IpmiCommandError(this.host, req.name, req.netFn, req.cmd, res.completionCode);
    return res.data;
  }

  /** Sends a command and returns completion code and data, logging in first when needed. */
  requestRaw(req: CommandRequest): Promise<RawResponse> {
    return this.#serialize(async () => {
      await this.#ensureActive();
      try {
        return await this.ipmi(req, 'session');
      } catch (error) {
        // A BMC that stopped answering mid-session has probably dropped it: log in afresh next time.
        if (error instanceof IpmiTimeoutError && !(error instanceof IpmiUncertainError)) this.#drop(error);
        throw error;
      }
    });
  }

  /** Logs in now (normally done by the first request). */
  open(): Promise<void> {
    return this.#serialize(() => this.#ensureActive());
  }

  /** ASF presence ping (ASF 2.0 §3.2.4.2): answers whether the BMC is there and speaks IPMI, without a session. */
  ping(): Promise<{ ipmi: boolean; iana: number }> {
    return this.#serialize(async () => {
      await this.#resolve();
      const before = this.#state;
      if (before.kind !== 'active') this.#state = { kind: 'presence' };
      const tag = this.random.bytes(1)[0]! & 0xfe;
      return this.exchange(
        'ASF presence ping',
        () => encodeAsf({ type: 'ping', tag }),
        (packet) => {
          const rmcp = decodeRmcp(packet);
          if (rmcp.cls !== 'asf') return undefined;
          const m = decodeAsf(rmcp.body);
          if (m.type !== 'pong' || m.tag !== tag) return undefined;
          return { ipmi: (m.supportedEntities & 0x80) !== 0, iana: m.iana };
        },
        { attempts: this.policy.retries + 1, idempotent: true },
      ).finally(() => {
        if (this.#state.kind === 'presence') this.#state = before;
      });
    });
  }

  /** Sends Close Session (§22.19) if a session is open, and stops the keepalive. Always resolves. */
  close(): Promise<void> {
    this.#closedByUser = true;
    return this.#serialize(async () => {
      const wire = this.#wire;
      if (wire && this.#state.kind === 'active') {
        this.#state = { kind: 'closing' };
        const sid = wire.version === '2.0' ? wire.bmcSessionId : wire.sessionId;
        const data = Buffer.alloc(4);
        data.writeUInt32LE(sid);
        await this.ipmi({ name: 'Close Session', netFn: NetFn.APP, cmd: AppCmd.CLOSE_SESSION, data, idempotent: true }, 'session', 1).catch(() => undefined);
      }
      this.#drop(undefined);
      if (this.#registered) this.#transport.unregister(this);
      this.#registered = false;
      const onClosed = this.#onClosed;
      this.#onClosed = undefined;
      onClosed?.();
    }).catch(() => undefined);
  }

  /** SOL and other payloads of an active RMCP+ session are handed here by type (IPMI v2.0 §13.27.3). */
  onPayload(payloadType: number, handler: ((payload: Buffer) => void) | undefined): void {
    if (handler) this.#payloadHandlers.set(payloadType, handler);
    else this.#payloadHandlers.delete(payloadType);
  }

  /** Sends a non-IPMI payload (SOL) in the active RMCP+ session, without waiting for anything. */
  async sendPayload(payloadType: number, payload: Uint8Array): Promise<void> {
    const wire = this.#wire;
    if (!wire || wire.version !== '2.0') throw new IpmiClosedError(`${this.host}: no active RMCP+ session`);
    this.#transport.send(
      encodeSession20({ payloadType, sessionId: wire.bmcSessionId, sequence: this.#nextOutSeq(), payload }, wire.keys, this.random.bytes(16)),
      this.#address,
      this.target.port,
    );
  }

  receive(packet: Buffer): boolean {
    const wire = this.#wire;
    // Unsolicited payloads (SOL) of an active session do not wait for a request.
    if (wire?.version === '2.0' && packet[4] === RMCP_PLUS_AUTH_TYPE && this.#payloadHandlers.size > 0) {
      const type = packet[5]! & 0x3f;
      const handler = this.#payloadHandlers.get(type);
      if (handler && type !== PayloadType.IPMI) {
        try {
          handler(decodeSession20(packet, wire.keys).payload);
        } catch {
          this.decodeErrors++;
        }
        return true;
      }
    }
    return this.#exchanges.offer(packet);
  }

  /** Runs operations one at a time: one request in flight per session. */
  #serialize<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(op, op);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #resolve(): Promise<void> {
    if (this.#registered) return;
    try {
      // node:dns is loaded for names only: a command given an address starts ~1 ms sooner.
      this.#address = isIP(this.target.host) ? this.target.host : (await (await import('node:dns/promises')).lookup(this.target.host, { family: 4 })).address;
    } catch (error) {
      throw new IpmiAddressError(this.host, (error as NodeJS.ErrnoException).code ?? 'lookup failed', { cause: error });
    }
    this.remoteKey = remoteKey(this.#address, this.target.port);
    this.#transport.register(this);
    this.#registered = true;
  }

  async #ensureActive(): Promise<void> {
    if (this.#state.kind === 'active') return;
    if (this.#closedByUser) throw new IpmiClosedError(`${this.host}: session was closed`);
    await this.#resolve();
    try {
      this.#wire = this.target.protocol === 'lan' ? await login15(this) : await login20(this);
      this.#state = { kind: 'active' };
      this.#armKeepalive();
    } catch (error) {
      this.#drop(error as Error);
      throw error;
    }
  }

  /** Forgets the session (the BMC has dropped it, or we closed it); the next request logs in again. */
  #drop(reason: Error | undefined): void {
    const wire = this.#wire;
    if (wire?.version === '2.0') this.#transport.releaseSessionId(wire.consoleSessionId);
    this.#wire = undefined;
    this.#state = reason ? { kind: 'closed', reason } : { kind: 'closed' };
    this.#keepalive?.cancel();
    this.#keepalive = undefined;
  }

  /**
   * One keepalive deadline per session, on the transport's keepalive timer (Transport.keepalives):
   * it wakes at the idle limit and, when requests were answered meanwhile, sleeps again for what
   * is left, so a request only notes the time. Not a setTimeout per session: with the limit
   * jittered, each was a timer list of its own, and each fired alone — an event-loop wake-up per
   * keepalive and per answer. The shared timer's one-second slots add at most a second to the
   * limit, well inside a BMC's 30–60 s.
   */
  #armKeepalive(): void {
    this.#keepalive?.cancel();
    this.#lastAnswered = monotonicMs();
    const limit = this.policy.keepaliveMs - this.policy.keepaliveMs * 0.15 * this.random.fraction();
    const check = (): void => {
      if (this.#state.kind !== 'active') return;
      const idle = monotonicMs() - this.#lastAnswered;
      if (idle >= limit) {
        void this.requestRaw({
          name: 'Get Device ID (keepalive)',
          netFn: NetFn.APP,
          cmd: AppCmd.GET_DEVICE_ID,
          data: new Uint8Array(),
          idempotent: true,
        }).catch(() => undefined);
      }
      this.#keepalive = this.#transport.keepalives.add(idle >= limit ? limit : limit - idle, check);
    };
    this.#keepalive = this.#transport.keepalives.add(limit, check);
  }

  #nextOutSeq(): number {
    // Session sequence numbers skip 0, which means "unsequenced" (IPMI v2.0 §6.12.8).
    this.#outSeq = (this.#outSeq + 1) >>> 0 || 1;
    return this.#outSeq;
  }

  /** Sets the first outbound session sequence number (IPMI 1.5 takes it from Activate Session). */
  startSequence(next: number): void {
    this.#outSeq = (next - 1) >>> 0;
  }

  /** Installs the session keys/IDs once RAKP4 or Activate Session succeeded. */
  setWire(wire: Wire): void {
    this.#wire = wire;
    this.#replay = new ReplayWindow();
    if (wire.version === '2.0') this.#outSeq = 0;
  }

  /**
   * One IPMI request/response in the given framing, with retries per policy. Used by the
   * login steps (pre-session framing) and by requests (session framing).
   */
  async ipmi(req: CommandRequest, framing: Framing, attempts = this.policy.retries + 1, fixedSequence?: number): Promise<RawResponse> {
    this.#rqSeq = (this.#rqSeq + 1) & MAX_REQUEST_SEQUENCE;
    const rqSeq = this.#rqSeq;
    const message = encodeRequest({ netFn: req.netFn, command: req.cmd, data: req.data, sequence: rqSeq });
    const wire = framing === 'session' ? this.#wire : undefined;
    if (framing === 'session' && !wire) throw new IpmiClosedError(`${this.host}: no active session`);
    const build = (): Buffer => {
      if (framing === 'pre-1.5') return encodeSession15({ authType: 'none', sequence: 0, sessionId: 0, message });
      if (framing === 'pre-2.0') return encodeSession20({ payloadType: PayloadType.IPMI, sessionId: 0, sequence: 0, payload: message });
      if (wire!.version === '2.0') {
        return encodeSession20(
          { payloadType: PayloadType.IPMI, sessionId: wire!.bmcSessionId, sequence: this.#nextOutSeq(), payload: message },
          wire!.keys,
          this.random.bytes(16),
        );
      }
      return encodeSession15({
        authType: wire!.authType,
        sequence: fixedSequence ?? this.#nextOutSeq(),
        sessionId: wire!.sessionId,
        message,
        password: this.target.password,
      });
    };
    const match = (packet: Buffer): RawResponse | undefined => {
      const body = this.#unframe(packet, wire);
      if (body === undefined) return undefined;
      const res = decodeResponse(body);
      if (res.netFn !== (req.netFn | 1) || res.command !== req.cmd || res.sequence !== rqSeq) return undefined;
      // 0xCF: a duplicate of a request the BMC is still working on; keep waiting for the real answer (ipmitool does the same).
      if (res.completionCode === CompletionCode.DUPLICATE_REQUEST) return undefined;
      return { completionCode: res.completionCode, data: res.data };
    };
    const result = await this.exchange(req.name, build, match, { attempts: req.idempotent ? attempts : 1, idempotent: req.idempotent });
    if (framing === 'session' && this.#state.kind === 'active') this.#lastAnswered = monotonicMs();
    return result;
  }

  /** The IPMI message inside a datagram, or undefined when the datagram is not an IPMI answer in this framing. */
  #unframe(packet: Buffer, wire: Wire | undefined): Buffer | undefined {
    const rmcp = decodeRmcp(packet);
    if (rmcp.cls !== 'ipmi') return undefined;
    if (packet[4] === RMCP_PLUS_AUTH_TYPE) {
      if (wire?.version === '1.5') return undefined;
      const p = decodeSession20(packet, wire?.keys);
      if (p.payloadType !== PayloadType.IPMI) return undefined;
      if (wire && p.sessionId !== wire.consoleSessionId) return undefined;
      if (wire && wire.suite.integrity !== 0 && !p.authenticated) throw new IpmiDecodeError(`${this.host}: unauthenticated packet in an authenticated session`);
      if (wire && !this.#replay.accept(p.sequence)) return undefined;
      return p.payload;
    }
    const p = decodeSession15(packet);
    if (wire?.version === '2.0') return undefined;
    if (wire && p.sessionId !== wire.sessionId) return undefined;
    if (wire && p.authType !== AuthType.NONE) verifySession15(p, this.target.password);
    // Activate Session's answer carries the BMC's sequence 0; sequencing starts after it.
    if (wire && p.sequence !== 0 && !this.#replay.accept(p.sequence)) return undefined;
    return p.message;
  }

  /** Sends what `build` makes and waits for a datagram `match` accepts (see ExchangeEngine.exchange). */
  exchange<T>(what: string, build: () => Buffer, match: (packet: Buffer) => T | undefined, options: ExchangeOptions): Promise<T> {
    return this.#exchanges.exchange(what, build, match, options);
  }
}
