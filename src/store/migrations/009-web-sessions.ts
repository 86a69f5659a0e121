// 009: the pages' sign-in sessions. The browser's cookie holds a random session id and the
// row only its SHA-256 (like tokens), so a stolen cookie can be ended alone and the API token
// never sits in a browser. A session acts as its token; revoking the token deletes its sessions.
import { notNull, withId, type AnyDb, type MigrationContext } from './helpers.ts';

export async function up(db: AnyDb, { dialect }: MigrationContext): Promise<void> {
  await withId(db.schema.createTable('web_sessions'), dialect)
    .addColumn('hash', 'text', (c) => c.notNull().unique())
    .addColumn('token_id', 'integer', (c) => c.notNull().references('tokens.id').onDelete('cascade'))
    .addColumn('created_at', 'text', notNull)
    .addColumn('last_seen_at', 'text', notNull)
    .addColumn('expires_at', 'text', notNull)
    .execute();
  await db.schema.createIndex('web_sessions_token').on('web_sessions').column('token_id').execute();
  await db.schema.createIndex('web_sessions_expires').on('web_sessions').column('expires_at').execute();
}
