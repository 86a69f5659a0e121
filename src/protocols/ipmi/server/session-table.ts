// The emulated BMC's session slots: sessions by BMC session ID (logging in or active, IPMI
// 1.5 and RMCP+), the IPMI 1.5 challenges not yet activated, their idle limits, and the ID
// allocation that lets half-open logins give way when every slot is taken (§22.24 reports the
// slot count). What a session does lives in bmc.ts and the login modules.
import type { PendingChallenge, RemoteAddress, ServerSession, Session20 } from './session.ts';

export interface SessionTableOptions {
  readonly maxSessions: number;
  /** An active session idle this long is closed. */
  readonly sessionTimeoutMs: number;
  /** A login (or a challenge) must finish within this. */
  readonly setupTimeoutMs: number;
  /** Runs for every session taken out of the table, whatever the reason. */
  readonly onRemoved: (session: ServerSession) => void;
}

export class SessionTable {
  readonly maxSessions: number;
  /** IPMI 1.5 Get Session Challenge answers awaiting Activate Session, by temporary session ID. */
  readonly challenges = new Map<number, PendingChallenge>();
  readonly #sessions = new Map<number, ServerSession>();
  readonly #sessionTimeoutMs: number;
  readonly #setupTimeoutMs: number;
  readonly #onRemoved: (session: ServerSession) => void;

  constructor(options: SessionTableOptions) {
    this.maxSessions = options.maxSessions;
    this.#sessionTimeoutMs = options.sessionTimeoutMs;
    this.#setupTimeoutMs = options.setupTimeoutMs;
    this.#onRemoved = options.onRemoved;
  }

  /** Sessions in any state (logging in or active). */
  get size(): number {
    return this.#sessions.size;
  }

  get full(): boolean {
    return this.#sessions.size >= this.maxSessions;
  }

  get activeCount(): number {
    let n = 0;
    for (const s of this.#sessions.values()) if (s.state === 'active') n++;
    return n;
  }

  values(): Iterable<ServerSession> {
    return this.#sessions.values();
  }

  get(bmcSessionId: number): ServerSession | undefined {
    return this.#sessions.get(bmcSessionId);
  }

  add(session: ServerSession): void {
    this.#sessions.set(session.bmcSessionId, session);
  }

  remove(session: ServerSession): void {
    this.#sessions.delete(session.bmcSessionId);
    this.#onRemoved(session);
  }

  /** An RMCP+ session still logging in from this console, found by the console's session ID. */
  findOpening(remote: RemoteAddress, consoleSessionId: number): Session20 | undefined {
    for (const s of this.#sessions.values()) {
      if (s.kind === 'rmcp+' && s.consoleSessionId === consoleSessionId && s.remote.address === remote.address && s.remote.port === remote.port) return s;
    }
    return undefined;
  }

  idInUse(id: number): boolean {
    return this.#sessions.has(id) || this.challenges.has(id);
  }

  /** Removes idle sessions and abandoned logins and challenges; returns how many sessions expired. */
  sweep(now: number): number {
    let expired = 0;
    for (const s of [...this.#sessions.values()]) {
      const limit = s.state === 'active' ? this.#sessionTimeoutMs : this.#setupTimeoutMs;
      if (now - s.lastActivity >= limit) {
        expired++;
        this.remove(s);
      }
    }
    for (const [id, c] of this.challenges) if (now - c.created >= this.#setupTimeoutMs) this.challenges.delete(id);
    return expired;
  }

  /**
   * A free session ID from `randomId`, or undefined when every slot holds an active session.
   * When the table is full (sweep it first), the oldest half-open login gives way, so a flood
   * of Open Session Requests cannot lock out consoles.
   */
  allocate(randomId: () => number): number | undefined {
    if (this.full) {
      let oldest: ServerSession | undefined;
      for (const s of this.#sessions.values()) if (s.state !== 'active' && (oldest === undefined || s.lastActivity < oldest.lastActivity)) oldest = s;
      if (oldest === undefined) return undefined;
      this.remove(oldest);
    }
    for (;;) {
      const id = randomId();
      if (id !== 0 && !this.idInUse(id)) return id;
    }
  }

  clear(): void {
    this.#sessions.clear();
    this.challenges.clear();
  }
}
