// Who may ask the emulated BMC: sessions made through SessionService (X-Auth-Token, expiring
// after SessionTimeout of disuse, a bounded number at once as real BMCs have) and HTTP Basic.
// Password and token comparisons take the same time whatever the input.
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';

export interface Session {
  readonly id: string;
  readonly token: string;
  readonly user: string;
  lastUsed: number;
}

const same = (a: string, b: string) => timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());

export class SessionTable {
  readonly #user: string;
  readonly #password: string;
  readonly #timeoutMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #byId = new Map<string, Session>();
  #next = 1;

  constructor(options: { user: string; password: string; timeoutMs: number; max: number; now?: () => number }) {
    this.#user = options.user;
    this.#password = options.password;
    this.#timeoutMs = options.timeoutMs;
    this.#max = options.max;
    this.#now = options.now ?? Date.now;
  }

  checkPassword(user: string, password: string): boolean {
    // Both compared, so a wrong user takes as long as a wrong password.
    const userOk = same(user, this.#user);
    return same(password, this.#password) && userOk;
  }

  #expire(): void {
    const now = this.#now();
    for (const [id, s] of this.#byId) if (now - s.lastUsed > this.#timeoutMs) this.#byId.delete(id);
  }

  /** A new session, or undefined when the table is full. */
  open(user: string): Session | undefined {
    this.#expire();
    if (this.#byId.size >= this.#max) return undefined;
    const session: Session = { id: String(this.#next++), token: randomBytes(24).toString('hex'), user, lastUsed: this.#now() };
    this.#byId.set(session.id, session);
    return session;
  }

  byToken(token: string): Session | undefined {
    this.#expire();
    for (const s of this.#byId.values()) {
      if (same(s.token, token)) {
        s.lastUsed = this.#now();
        return s;
      }
    }
    return undefined;
  }

  close(id: string): boolean {
    return this.#byId.delete(id);
  }

  get ids(): string[] {
    this.#expire();
    return [...this.#byId.keys()];
  }

  get(id: string): Session | undefined {
    this.#expire();
    return this.#byId.get(id);
  }

  /** Authorization: Basic, checked against the account. */
  basic(header: string): string | undefined {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (!m) return undefined;
    const text = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon < 0) return undefined;
    const user = text.slice(0, colon);
    return this.checkPassword(user, text.slice(colon + 1)) ? user : undefined;
  }
}
