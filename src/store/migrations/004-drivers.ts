// 004: driver state and the machine event log. driver_internal_info holds what a driver
// remembers between operations (a boot device to re-apply before power-on); fault names the
// kind of maintenance anvil set itself, so it clears only its own; machine_events records
// power changes, maintenance and controller failures.
import { notNull, withId, type AnyDb, type MigrationContext } from './helpers.ts';

export async function up(db: AnyDb, { dialect }: MigrationContext): Promise<void> {
  await db.schema
    .alterTable('machines')
    .addColumn('driver_internal_info', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
  await db.schema.alterTable('machines').addColumn('fault', 'text').execute();

  await withId(db.schema.createTable('machine_events'), dialect)
    .addColumn('machine_id', 'integer', (c) => c.notNull().references('machines.id').onDelete('cascade'))
    .addColumn('at', 'text', notNull)
    .addColumn('kind', 'text', notNull)
    .addColumn('message', 'text', notNull)
    .execute();
  await db.schema.createIndex('machine_events_machine').on('machine_events').columns(['machine_id', 'id']).execute();
}
