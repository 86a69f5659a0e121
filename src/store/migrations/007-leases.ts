// 006: DHCP leases in the database, so any anvil process sharing it answers for any lease
// (they were in the data directory's dhcp/leases.json). One record per MAC, an address held
// by at most one record; expires_at is milliseconds since the epoch, as the DHCP server keeps it.
import { notNull, type AnyDb } from './helpers.ts';

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('dhcp_leases')
    .addColumn('mac', 'text', (c) => c.primaryKey())
    .addColumn('address', 'text', (c) => c.notNull().unique())
    .addColumn('state', 'text', notNull)
    .addColumn('expires_at', 'bigint', notNull)
    .addColumn('hostname', 'text')
    .addColumn('client_id', 'text')
    .execute();
}
