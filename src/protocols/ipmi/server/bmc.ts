// One emulated BMC: its sessions (IPMI 1.5 and RMCP+; their slots are session-table.ts's),
// its command table and its state (its options and counters are bmc-options.ts's). It turns
// one datagram into zero or more datagrams; server.ts owns the sockets. Every decode failure
// is counted in `stats` and dropped: nothing a packet contains can throw out of receive().
import type { CipherSuite } from '../cipher-suites.ts';
import { CIPHER_SUITES } from '../cipher-suites.ts';
import { AppCmd, AuthType, CompletionCode, NetFn, PayloadType } from '../constants.ts';
import { IpmiAuthenticationError, IpmiDecodeError, IpmiEncodeError } from '../errors.ts';
import { decodeRequest, encodeResponse, responseTo } from '../message.ts';
import type { IpmiRequest } from '../message.ts';
import { decodeOpenSessionRequest, decodeRakp1, decodeRakp3 } from '../rakp.ts';
import { decodeAsf, decodeRmcp, encodeAsf, ASF_PONG_ENTITIES_IPMI, isRmcpPlus } from '../rmcp.ts';
import { ASF_IANA } from '../constants.ts';
import type { Session15AuthType } from '../session15.ts';
import { decodeSession15, encodeSession15, session15AuthTypeFromByte, verifySession15 } from '../session15.ts';
import type { Session20Header } from '../session20.ts';
import { decodeSession20, encodeSession20, peekSession20 } from '../session20.ts';
import { ACCESS_DISABLED, ACCESS_MODE_BITS, appCommands, defaultChannelAccess } from './commands-app.ts';
import { chassisCommands } from './commands-chassis.ts';
import { sensorCommands } from './commands-sensor.ts';
import { storageCommands } from './commands-storage.ts';
import { transportCommands } from './commands-transport.ts';
import type { BmcContext, BmcRuntimeState, CommandDef, CommandReply, DeviceIdentity } from './context.ts';
import { andThen, commandKey, isPending } from './context.ts';
import type { Awaitable, BmcHandler } from './handler.ts';
import type { LoginHost } from './login20.ts';
import { openSession, rakp1, rakp3 } from './login20.ts';
import type { Login15Host } from './login15.ts';
import { activateSession, sessionChallenge } from './login15.ts';
import { MemoryBmcHandler } from './memory-handler.ts';
import type { PendingChallenge, RemoteAddress, ServerSession, Session15, Session20 } from './session.ts';
import { SessionTable } from './session-table.ts';
import { DEFAULT_AUTH_TYPES_15, DEFAULT_CIPHER_SUITES, DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_TIMEOUT_MS, DEFAULT_SETUP_TIMEOUT_MS } from './bmc-options.ts';
import type { BmcIo, BmcOptions, BmcStats } from './bmc-options.ts';
import { SolManager } from './sol-server.ts';

const COMMANDS: ReadonlyMap<number, CommandDef> = new Map([...appCommands, ...chassisCommands, ...sensorCommands, ...storageCommands, ...transportCommands]);
/** The commands a console may send before it has a session (§22.13, §22.15, §22.16). */
const PRE_SESSION = new Set([commandKey(NetFn.APP, AppCmd.GET_CHANNEL_AUTH_CAPABILITIES), commandKey(NetFn.APP, AppCmd.GET_CHANNEL_CIPHER_SUITES)]);

/**
 * A random (version 4) GUID in the IPMI byte order: the RFC 4122 bytes reversed, every field
 * least significant byte first (IPMI v2.0 §20.8; ipmitool warns about any other encoding).
 */
export function ipmiGuid(random16: Buffer): Buffer {
  const u = Buffer.from(random16.subarray(0, 16));
  u[6] = ((u[6] as number) & 0x0f) | 0x40;
  u[8] = ((u[8] as number) & 0x3f) | 0x80;
  return u.reverse();
}

const DEFAULT_IDENTITY: DeviceIdentity = {
  deviceId: 0x20,
  deviceRevision: 1,
  firmwareMajor: 1,
  firmwareMinor: 0x00,
  manufacturerId: 0,
  productId: 0x0001,
  auxFirmware: Buffer.alloc(4),
};

export class EmulatedBmc implements BmcContext, LoginHost, Login15Host {
  readonly handler: BmcHandler;
  readonly identity: DeviceIdentity;
  readonly guid: Buffer;
  readonly kg: Buffer | undefined;
  readonly cipherSuites: readonly CipherSuite[];
  readonly authTypes15: readonly Session15AuthType[];
  readonly state: BmcRuntimeState = {
    bootParams: new Map(),
    sdrReservation: 0,
    selReservation: 0,
    selTimeOffset: 0,
    solConfig: new Map(),
    channelAccess: { 'non-volatile': defaultChannelAccess(), volatile: defaultChannelAccess() },
  };
  readonly sol: SolManager;
  readonly stats: BmcStats = {
    received: 0,
    badPackets: 0,
    authFailures: 0,
    replays: 0,
    dropped: 0,
    commandErrors: 0,
    sessionsOpened: 0,
    sessionsClosed: 0,
    sessionsExpired: 0,
  };
  readonly #io: BmcIo;
  readonly #sessions: SessionTable;
  #reservation = 0;

  constructor(io: BmcIo, options: BmcOptions = {}) {
    this.#io = io;
    this.handler = options.handler ?? new MemoryBmcHandler();
    this.identity = { ...DEFAULT_IDENTITY, ...options.identity };
    this.guid = options.guid ?? ipmiGuid(io.random(16));
    this.kg = options.kg;
    this.cipherSuites = (options.cipherSuites ?? DEFAULT_CIPHER_SUITES).map((id) => {
      const suite = CIPHER_SUITES.get(id);
      if (suite === undefined) throw new IpmiEncodeError(`cipher suite ${id} is not supported`);
      return suite;
    });
    this.authTypes15 = options.authTypes15 ?? DEFAULT_AUTH_TYPES_15;
    this.sol = new SolManager(
      this.handler,
      (s, payload) => this.#sendInSession(s, PayloadType.SOL, payload),
      () => this.port,
    );
    this.#sessions = new SessionTable({
      maxSessions: options.maxSessions ?? DEFAULT_MAX_SESSIONS,
      sessionTimeoutMs: options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
      setupTimeoutMs: options.setupTimeoutMs ?? DEFAULT_SETUP_TIMEOUT_MS,
      onRemoved: (s) => this.sol.sessionClosed(s),
    });
  }

  get maxSessions(): number {
    return this.#sessions.maxSessions;
  }

  get port(): number {
    return this.#io.port;
  }

  now(): number {
    return this.#io.now();
  }

  random(n: number): Buffer {
    return this.#io.random(n);
  }

  users() {
    return this.handler.users();
  }

  /** Sessions in any state (logging in or active). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  get activeSessionCount(): number {
    return this.#sessions.activeCount;
  }

  sessions(): Iterable<ServerSession> {
    return this.#sessions.values();
  }

  newReservation(): number {
    this.#reservation = (this.#reservation % 0xffff) + 1;
    return this.#reservation;
  }

  /**
   * Handles one datagram. Never throws for anything the datagram contains; anything else (a
   * bug) is thrown, or rejects the promise. The reply goes out before this returns unless a
   * handler answers asynchronously: then a promise is returned.
   */
  receive(packet: Buffer, remote: RemoteAddress): Promise<void> | undefined {
    this.stats.received++;
    try {
      const rmcp = decodeRmcp(packet);
      if (rmcp.ack) return undefined;
      if (rmcp.cls === 'asf') return void this.#asf(rmcp.body, rmcp.sequence, remote);
      // A LAN channel whose active access mode is "disabled" takes no IPMI messages (§22.22,
      // Table 22-23): only presence pings are answered until the machine restarts the BMC.
      if (((this.state.channelAccess.volatile[0] ?? 0) & ACCESS_MODE_BITS) === ACCESS_DISABLED) return void this.stats.dropped++;
      const later = isRmcpPlus(rmcp.body) ? this.#rmcpPlus(packet, remote) : this.#ipmi15(packet, remote);
      return later === undefined ? undefined : later.catch((error: unknown) => this.#countBadPacket(error));
    } catch (error) {
      this.#countBadPacket(error);
      return undefined;
    }
  }

  /** Counts a packet that failed to decode or authenticate; rethrows anything else. */
  #countBadPacket(error: unknown): void {
    if (error instanceof IpmiAuthenticationError) {
      this.stats.authFailures++;
      this.stats.badPackets++;
    } else if (error instanceof IpmiDecodeError) {
      this.stats.badPackets++;
    } else {
      throw error;
    }
  }

  /** Closes idle sessions and abandoned logins. The server calls it periodically. */
  sweep(): void {
    this.stats.sessionsExpired += this.#sessions.sweep(this.now());
  }

  closeSession(bmcSessionId: number): boolean {
    const s = this.#sessions.get(bmcSessionId);
    if (s === undefined || s.state !== 'active') return false;
    this.stats.sessionsClosed++;
    this.#sessions.remove(s);
    return true;
  }

  /** Ends everything (server shutdown). */
  close(): void {
    this.sol.close();
    this.#sessions.clear();
  }

  // LoginHost
  allocateSession(): number | undefined {
    if (this.#sessions.full) this.sweep();
    return this.#sessions.allocate(() => this.random(4).readUInt32LE(0));
  }

  register(session: Session20): void {
    this.#sessions.add(session);
  }

  destroy(session: Session20, _reason: 'failed' | 'closed'): void {
    this.#sessions.remove(session);
  }

  find(bmcSessionId: number): Session20 | undefined {
    const s = this.#sessions.get(bmcSessionId);
    return s?.kind === 'rmcp+' ? s : undefined;
  }

  findOpening(remote: RemoteAddress, consoleSessionId: number): Session20 | undefined {
    return this.#sessions.findOpening(remote, consoleSessionId);
  }

  countAuthFailure(): void {
    this.stats.authFailures++;
  }

  countActivated(): void {
    this.stats.sessionsOpened++;
  }

  // Login15Host
  get challenges(): Map<number, PendingChallenge> {
    return this.#sessions.challenges;
  }

  idInUse(id: number): boolean {
    return this.#sessions.idInUse(id);
  }

  registerSession15(session: Session15): void {
    this.#sessions.add(session);
  }

  countDropped(): void {
    this.stats.dropped++;
  }

  send(packet: Buffer, to: RemoteAddress): void {
    this.#io.send(packet, to);
  }

  #asf(body: Buffer, sequence: number, remote: RemoteAddress): void {
    const m = decodeAsf(body);
    if (m.type !== 'ping') return;
    // The pong echoes the ping's RMCP sequence and message tag (ASF 2.0 §3.2.4.3).
    this.#io.send(
      encodeAsf({ type: 'pong', tag: m.tag, iana: ASF_IANA, oem: 0, supportedEntities: ASF_PONG_ENTITIES_IPMI, supportedInteractions: 0 }, sequence),
      remote,
    );
  }

  #rmcpPlus(packet: Buffer, remote: RemoteAddress): Promise<void> | undefined {
    const h = peekSession20(packet);
    let reply: Buffer | undefined;
    switch (h.payloadType) {
      case PayloadType.OPEN_SESSION_REQUEST:
        reply = openSession(this, decodeOpenSessionRequest(decodeSession20(packet).payload), remote);
        break;
      case PayloadType.RAKP1:
        reply = rakp1(this, decodeRakp1(decodeSession20(packet).payload), remote);
        break;
      case PayloadType.RAKP3:
        reply = rakp3(this, decodeRakp3(decodeSession20(packet).payload), remote);
        break;
      case PayloadType.IPMI:
      case PayloadType.SOL:
        if (h.sessionId === 0) return this.#preSession20(packet, h, remote);
        return this.#inSession20(packet, h, remote);
      default:
        this.stats.dropped++;
        return undefined;
    }
    if (reply === undefined) this.stats.dropped++;
    else this.#io.send(reply, remote);
    return undefined;
  }

  #preSession20(packet: Buffer, h: Session20Header, remote: RemoteAddress): Promise<void> | undefined {
    if (h.payloadType !== PayloadType.IPMI) return void this.stats.dropped++;
    const req = decodeRequest(decodeSession20(packet).payload);
    if (!PRE_SESSION.has(commandKey(req.netFn, req.command))) return void this.stats.dropped++;
    return settled(
      andThen(this.#dispatch(req, undefined), (res) =>
        this.#io.send(encodeSession20({ payloadType: PayloadType.IPMI, sessionId: 0, sequence: 0, payload: res }), remote),
      ),
    );
  }

  #inSession20(packet: Buffer, h: Session20Header, remote: RemoteAddress): Promise<void> | undefined {
    const s = this.#sessions.get(h.sessionId);
    if (s === undefined || s.kind !== 'rmcp+' || s.state !== 'active' || s.keys === undefined || s.remote.address !== remote.address)
      return void this.stats.dropped++;
    // The suite decides whether packets must be authenticated and encrypted (§13.28).
    if ((s.suite.integrity !== 0 && !h.authenticated) || (s.suite.confidentiality !== 0 && !h.encrypted)) return void this.stats.dropped++;
    const p = decodeSession20(packet, s.keys);
    if (!s.window.accept(h.sequence)) {
      this.stats.replays++;
      const again = s.recent.replyTo(h.sequence, packet);
      if (again !== undefined) this.#io.send(again, s.remote);
      // SOL dedups by its own sequence number: the same datagram again is only acked again.
      else if (h.payloadType === PayloadType.SOL && s.lastSol !== undefined && s.lastSol.equals(packet)) this.sol.onPacket(s, p.payload);
      return undefined;
    }
    s.lastActivity = this.now();
    if (h.payloadType === PayloadType.SOL) {
      s.lastSol = Buffer.from(packet);
      this.sol.onPacket(s, p.payload);
      return undefined;
    }
    const req = decodeRequest(p.payload);
    return settled(andThen(this.#dispatch(req, s), (res) => s.recent.remember(h.sequence, packet, this.#sendInSession(s, PayloadType.IPMI, res))));
  }

  /** Frames, sends and returns one payload of an active RMCP+ session. */
  #sendInSession(s: Session20, payloadType: number, payload: Buffer): Buffer {
    const sequence = s.outboundSequence;
    s.outboundSequence = (s.outboundSequence + 1) >>> 0 || 1;
    const datagram = encodeSession20({ payloadType, sessionId: s.consoleSessionId, sequence, payload }, s.keys, this.random(16));
    this.#io.send(datagram, s.remote);
    return datagram;
  }

  #ipmi15(packet: Buffer, remote: RemoteAddress): Promise<void> | undefined {
    const p = decodeSession15(packet);
    if (p.sessionId === 0) {
      if (p.authType !== AuthType.NONE) return void this.stats.dropped++;
      const req = decodeRequest(p.message);
      const key = commandKey(req.netFn, req.command);
      let res: Awaitable<Buffer>;
      if (key === commandKey(NetFn.APP, AppCmd.GET_SESSION_CHALLENGE)) res = sessionChallenge(this, req, remote);
      else if (PRE_SESSION.has(key)) res = this.#dispatch(req, undefined);
      else return void this.stats.dropped++;
      return settled(andThen(res, (message) => this.#io.send(encodeSession15({ authType: 'none', sequence: 0, sessionId: 0, message }), remote)));
    }
    const pending = this.#sessions.challenges.get(p.sessionId);
    if (pending !== undefined) return void activateSession(this, p, pending, remote, packet);
    const s = this.#sessions.get(p.sessionId);
    if (s === undefined || s.kind !== 'ipmi15' || s.remote.address !== remote.address) return void this.stats.dropped++;
    if (session15AuthTypeFromByte(p.authType) !== s.authType) return void this.stats.dropped++;
    verifySession15(p, s.user.password);
    if (!s.window.accept(p.sequence)) {
      this.stats.replays++;
      const again = s.recent.replyTo(p.sequence, packet);
      if (again !== undefined) this.#io.send(again, s.remote);
      return;
    }
    s.lastActivity = this.now();
    return settled(
      andThen(this.#dispatch(decodeRequest(p.message), s), (res) => {
        const sequence = s.outboundSequence;
        s.outboundSequence = (s.outboundSequence + 1) >>> 0;
        const datagram = encodeSession15({ authType: s.authType, sequence, sessionId: s.bmcSessionId, message: res, password: s.user.password });
        s.recent.remember(p.sequence, packet, datagram);
        this.#io.send(datagram, s.remote);
      }),
    );
  }

  /** The encoded response to a request; synchronous unless the command's handler is not. */
  #dispatch(req: Required<IpmiRequest>, session: ServerSession | undefined): Awaitable<Buffer> {
    const def = COMMANDS.get(commandKey(req.netFn, req.command));
    let reply: Awaitable<CommandReply>;
    if (def === undefined) reply = { cc: CompletionCode.INVALID_COMMAND };
    else if (session !== undefined && session.privilege < def.privilege) reply = { cc: CompletionCode.INSUFFICIENT_PRIVILEGE };
    else {
      const failed = (): CommandReply => {
        this.stats.commandErrors++;
        return { cc: CompletionCode.UNSPECIFIED };
      };
      try {
        reply = def.run({ bmc: this, session, netFn: req.netFn, command: req.command, data: Buffer.from(req.data) });
        if (isPending(reply)) reply = Promise.resolve(reply).catch(failed);
      } catch {
        reply = failed();
      }
    }
    return andThen(reply, (r) => encodeResponse(responseTo(req, r.cc, r.data ?? Buffer.alloc(0))));
  }
}

/** A reply already sent needs no promise; one still to come is handed up as Promise<void>. */
function settled(value: Awaitable<unknown>): Promise<void> | undefined {
  return isPending(value) ? value.then(() => undefined) : undefined;
}
