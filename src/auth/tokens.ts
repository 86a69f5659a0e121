// API tokens: random secrets shown once, stored only as SHA-256 hashes. Roles are ordered:
// a viewer reads, an operator also changes machines, an admin also manages tokens.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, Token } from '../store/schema.ts';
import { AnvilError, invalid, listWords } from '../common/errors.ts';
import { stamp, type Clock } from '../store/store.ts';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];
/** Tokens start with this, so a leaked one is recognisable in logs and by secret scanners. */
export const TOKEN_PREFIX = 'anvil_';

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function roleAllows(held: Role, needed: Role): boolean {
  return ROLES.indexOf(held) >= ROLES.indexOf(needed);
}

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

export class Tokens {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;

  constructor(db: Kysely<Database>, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  /** Makes a token; the secret is returned once and never stored. */
  async create(role: string, name = ''): Promise<{ token: string; record: Token }> {
    if (!isRole(role)) throw invalid('INVALID_ROLE', `'${role}' is not a role; roles: ${listWords([...ROLES])}`);
    const token = TOKEN_PREFIX + randomBytes(24).toString('base64url');
    const record = await this.#db
      .insertInto('tokens')
      .values({ name: name || role, role, hash: hashOf(token), created_at: stamp(this.#clock), last_used_at: null })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { token, record };
  }

  /** The token's record, or undefined when the secret matches none. */
  async verify(token: string): Promise<Token | undefined> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return undefined;
    const hash = hashOf(token);
    const record = await this.#db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    if (!record || !timingSafeEqual(Buffer.from(record.hash), Buffer.from(hash))) return undefined;
    return record;
  }

  async touch(id: number): Promise<void> {
    await this.#db
      .updateTable('tokens')
      .set({ last_used_at: stamp(this.#clock) })
      .where('id', '=', id)
      .execute();
  }

  async list(): Promise<Token[]> {
    return this.#db.selectFrom('tokens').selectAll().orderBy('id').execute();
  }

  /** Deletes the token and ends its pages' sessions (sessions.ts), so no browser signed in with it stays in; how many it ended. */
  async revoke(id: number): Promise<number> {
    const [sessions, deleted] = await this.#db
      .transaction()
      .execute(async (trx) => [
        await trx.deleteFrom('web_sessions').where('token_id', '=', id).executeTakeFirst(),
        await trx.deleteFrom('tokens').where('id', '=', id).executeTakeFirst(),
      ]);
    if (deleted.numDeletedRows === 0n) throw new AnvilError('UNKNOWN_TOKEN', 'not-found', `no token with id ${id}; see anvil token list`);
    return Number(sessions.numDeletedRows);
  }
}
