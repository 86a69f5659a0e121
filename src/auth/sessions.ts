// The pages' sign-in sessions, kept on the server: signing in with a token makes a random
// session id, which the browser keeps as its cookie and the database only as a SHA-256 hash
// (like tokens). The session acts with its token's name and role, so revoking the token ends
// it; signing out deletes it, so a stolen cookie can be ended without the token, and the API
// token never sits in a browser. An expired or unknown id is no session at all.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, Token, WebSession } from '../store/schema.ts';
import type { Clock } from '../store/store.ts';
import { AnvilError } from '../common/errors.ts';

/** How long a session (and the browser's cookie) lasts after signing in. */
export const SESSION_MAX_AGE_S = 12 * 60 * 60;
/** A session's last_seen_at is written at most this often, not on every page. */
export const SESSION_TOUCH_INTERVAL_S = 60;
/** Bytes of randomness in a session id (base64url in the cookie). */
export const SESSION_ID_BYTES = 32;

const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const hashOf = (id: string) => createHash('sha256').update(id).digest('hex');

/** A live session and the token it acts as. */
export interface SignedIn {
  readonly session: WebSession;
  readonly token: Token;
}

export class WebSessions {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;

  constructor(db: Kysely<Database>, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  /** A new session for the token; its id is returned once, for the cookie, and never stored. Expired sessions go on the way. */
  async create(tokenId: number): Promise<{ id: string; record: WebSession }> {
    const now = this.#clock();
    await this.#db.deleteFrom('web_sessions').where('expires_at', '<=', now.toISOString()).execute();
    const id = randomBytes(SESSION_ID_BYTES).toString('base64url');
    const record = await this.#db
      .insertInto('web_sessions')
      .values({
        hash: hashOf(id),
        token_id: tokenId,
        created_at: now.toISOString(),
        last_seen_at: now.toISOString(),
        expires_at: new Date(now.getTime() + SESSION_MAX_AGE_S * 1000).toISOString(),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { id, record };
  }

  /** The session a cookie names and its token, or undefined when it is malformed, unknown, expired or its token revoked. */
  async lookup(id: string): Promise<SignedIn | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    const hash = hashOf(id);
    const now = this.#clock();
    const row = await this.#db
      .selectFrom('web_sessions as s')
      .innerJoin('tokens as t', 't.id', 's.token_id')
      .select([
        's.id as id',
        's.hash as hash',
        's.token_id as token_id',
        's.created_at as created_at',
        's.last_seen_at as last_seen_at',
        's.expires_at as expires_at',
        't.name as token_name',
        't.role as token_role',
        't.hash as token_hash',
        't.created_at as token_created_at',
        't.last_used_at as token_last_used_at',
      ])
      .where('s.hash', '=', hash)
      .where('s.expires_at', '>', now.toISOString())
      .executeTakeFirst();
    if (!row || !timingSafeEqual(Buffer.from(row.hash), Buffer.from(hash))) return undefined;
    const session: WebSession = {
      id: row.id,
      hash: row.hash,
      token_id: row.token_id,
      created_at: row.created_at,
      last_seen_at: row.last_seen_at,
      expires_at: row.expires_at,
    };
    if (now.getTime() - Date.parse(row.last_seen_at) >= SESSION_TOUCH_INTERVAL_S * 1000) {
      session.last_seen_at = now.toISOString();
      await this.#db.updateTable('web_sessions').set({ last_seen_at: session.last_seen_at }).where('id', '=', row.id).execute();
    }
    const token: Token = {
      id: row.token_id,
      name: row.token_name,
      role: row.token_role,
      hash: row.token_hash,
      created_at: row.token_created_at,
      last_used_at: row.token_last_used_at,
    };
    return { session, token };
  }

  /** Signs out: the session the cookie names is gone. False when there was none. */
  async end(id: string): Promise<boolean> {
    if (!ID_PATTERN.test(id)) return false;
    const result = await this.#db.deleteFrom('web_sessions').where('hash', '=', hashOf(id)).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Ends one session by its row id (as `anvil token sessions` lists it), from outside the browser that holds it. */
  async endById(id: number): Promise<void> {
    const result = await this.#db.deleteFrom('web_sessions').where('id', '=', id).executeTakeFirst();
    if (result.numDeletedRows === 0n) throw new AnvilError('UNKNOWN_SESSION', 'not-found', `no page session with id ${id}; see anvil token sessions`);
  }

  /** Ends every session of a token; how many there were. */
  async endAllOf(tokenId: number): Promise<number> {
    const result = await this.#db.deleteFrom('web_sessions').where('token_id', '=', tokenId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** The sessions not yet expired, oldest first (of one token, when given). */
  async list(tokenId?: number): Promise<WebSession[]> {
    let query = this.#db.selectFrom('web_sessions').selectAll().where('expires_at', '>', this.#clock().toISOString());
    if (tokenId !== undefined) query = query.where('token_id', '=', tokenId);
    return query.orderBy('id').execute();
  }
}
