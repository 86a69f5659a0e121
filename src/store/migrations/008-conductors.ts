// 007: conductors. Each `anvil serve` registers a row and heartbeats into it; machines are
// shared among the live ones by a hash ring (conductor/hash-ring.ts). A machine's lock now
// also says which conductor holds it, so the locks of a conductor that stopped heartbeating
// can be released by the others, whatever host it ran on.
import { notNull, type AnyDb } from './helpers.ts';

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('conductors')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('hostname', 'text', notNull)
    .addColumn('pid', 'integer', notNull)
    .addColumn('started_at', 'text', notNull)
    .addColumn('heartbeat_at', 'text', notNull)
    .execute();
  await db.schema.alterTable('machines').addColumn('reservation_conductor', 'text').execute();
}
