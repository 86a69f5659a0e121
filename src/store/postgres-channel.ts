// A PostgreSQL notification channel (LISTEN/NOTIFY): what one anvil process sends, every other
// process on the same database hears at once. Sending goes through the pool; hearing needs a
// connection of its own that stays in LISTEN, and that connection is re-made after the server
// went away (with a pause between tries), since notifications sent meanwhile are lost: callers
// keep a slower fallback that reads the rows themselves (machines/change-poll.ts).
import { sql, type Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from './schema.ts';
import type { StoreLog } from './store.ts';
import { describePostgresUrl } from './postgres.ts';

/** Pause before the listening connection is tried again after it failed. */
export const LISTEN_RETRY_MS = 1_000;
/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. */
export const NOTIFY_PAYLOAD_LIMIT = 7_900;

export interface NotifyChannel {
  /** Sends to every listener of the channel, this process's included, once the statement commits. */
  notify(payload: string): Promise<void>;
  /** Hears the channel until close(); `onListening` is told each time the connection listens (again). */
  listen(onPayload: (payload: string) => void, onListening?: () => void): void;
  close(): Promise<void>;
}

/** A channel name PostgreSQL takes unquoted: lower-case letters, digits and underscores. */
function checkName(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new RangeError(`'${name}' is not a plain PostgreSQL channel name`);
  return name;
}

export class PostgresChannel implements NotifyChannel {
  readonly #db: Kysely<Database>;
  readonly #url: string;
  readonly #name: string;
  readonly #log: StoreLog;
  readonly #retryMs: number;
  #client: pg.Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #lost = false;

  constructor(db: Kysely<Database>, url: string, name: string, log: StoreLog, retryMs = LISTEN_RETRY_MS) {
    this.#db = db;
    this.#url = url;
    this.#name = checkName(name);
    this.#log = log;
    this.#retryMs = retryMs;
  }

  async notify(payload: string): Promise<void> {
    if (Buffer.byteLength(payload) > NOTIFY_PAYLOAD_LIMIT) throw new RangeError(`a notification of ${Buffer.byteLength(payload)} bytes is too long`);
    await sql`select pg_notify(${this.#name}, ${payload})`.execute(this.#db);
  }

  listen(onPayload: (payload: string) => void, onListening: () => void = () => undefined): void {
    const connect = async () => {
      this.#timer = undefined;
      if (this.#closed) return;
      const { default: pgModule } = await import('pg');
      const client = new pgModule.Client({ connectionString: this.#url, connectionTimeoutMillis: 10_000 });
      this.#client = client;
      let failed = false;
      const fail = (error: Error) => {
        if (failed) return;
        failed = true;
        if (this.#client === client) this.#client = undefined;
        client.end().catch(() => undefined);
        if (this.#closed) return;
        if (!this.#lost) {
          this.#lost = true;
          this.#log.warn(
            `stopped hearing other anvil processes' changes from PostgreSQL at ${describePostgresUrl(this.#url)} (${error.message}); ` +
              'their changes reach the live pages by polling until it is back',
          );
        }
        this.#timer = setTimeout(() => void connect(), this.#retryMs);
        this.#timer.unref();
      };
      client.on('error', fail);
      client.on('end', () => fail(new Error('the connection ended')));
      client.on('notification', (message) => {
        if (message.channel === this.#name && message.payload !== undefined) onPayload(message.payload);
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${this.#name}`);
      } catch (error) {
        fail(error as Error);
        return;
      }
      if (this.#closed) {
        await client.end().catch(() => undefined);
        return;
      }
      if (this.#lost) {
        this.#lost = false;
        this.#log.info(`hearing other anvil processes' changes from PostgreSQL at ${describePostgresUrl(this.#url)} again`);
      }
      onListening();
    };
    void connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }
}
