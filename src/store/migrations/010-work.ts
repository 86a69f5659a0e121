// 010: work items. On PostgreSQL with several `anvil serve` processes, an operation on a
// machine (power, boot device, deploy, capture and the steps after an agent's result) runs on
// the machine's owner conductor: a process that does not own the machine queues a row here,
// the owner claims it with a row lock (FOR UPDATE SKIP LOCKED) and records the outcome, which
// the requester reads back. A running row of a conductor that died becomes interrupted.
import { notNull, withId, type AnyDb, type MigrationContext } from './helpers.ts';

export async function up(db: AnyDb, { dialect }: MigrationContext): Promise<void> {
  await withId(db.schema.createTable('work_items'), dialect)
    .addColumn('machine_name', 'text', notNull)
    .addColumn('kind', 'text', notNull)
    .addColumn('args', 'text', (c) => c.notNull().defaultTo('{}'))
    // queued → running → done | failed | interrupted
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('queued'))
    .addColumn('requested_by', 'text', notNull)
    .addColumn('requested_conductor', 'text')
    .addColumn('conductor', 'text')
    .addColumn('created_at', 'text', notNull)
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('result', 'text')
    .addColumn('error', 'text')
    .addColumn('error_code', 'text')
    .addColumn('error_category', 'text')
    .execute();
  await db.schema.createIndex('work_items_state').on('work_items').columns(['state', 'id']).execute();
  await db.schema.createIndex('work_items_finished').on('work_items').column('finished_at').execute();
}
