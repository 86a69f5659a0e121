// 001: machines, their MAC addresses, boot profiles, the boot log, settings and API tokens.
import { notNull, withId, type AnyDb, type MigrationContext } from './helpers.ts';

export async function up(db: AnyDb, { dialect }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', notNull)
    .execute();

  await withId(db.schema.createTable('machines'), dialect)
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('driver', 'text', (c) => c.notNull().defaultTo('manual'))
    .addColumn('driver_info', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('power_state', 'text', (c) => c.notNull().defaultTo('unknown'))
    .addColumn('provision_state', 'text', (c) => c.notNull().defaultTo('available'))
    .addColumn('maintenance', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('maintenance_reason', 'text')
    .addColumn('reservation', 'text')
    .addColumn('next_profile', 'text', (c) => c.notNull().defaultTo('local'))
    .addColumn('next_once', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('version', 'text')
    .addColumn('created_at', 'text', notNull)
    .addColumn('updated_at', 'text', notNull)
    .execute();

  await db.schema
    .createTable('macs')
    .addColumn('mac', 'text', (c) => c.primaryKey())
    .addColumn('machine_id', 'integer', (c) => c.notNull().references('machines.id').onDelete('cascade'))
    .execute();
  await db.schema.createIndex('macs_machine').on('macs').column('machine_id').execute();

  await db.schema
    .createTable('profiles')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('available', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('synced_at', 'text', notNull)
    .execute();

  await withId(db.schema.createTable('boot_log'), dialect)
    .addColumn('machine_id', 'integer', (c) => c.notNull().references('machines.id').onDelete('cascade'))
    .addColumn('at', 'text', notNull)
    .addColumn('kind', 'text', notNull)
    .addColumn('profile', 'text', notNull)
    .addColumn('reason', 'text', notNull)
    .addColumn('loader', 'text')
    .addColumn('arch', 'text')
    .addColumn('address', 'text')
    .execute();
  await db.schema.createIndex('boot_log_machine').on('boot_log').columns(['machine_id', 'id']).execute();

  await withId(db.schema.createTable('tokens'), dialect)
    .addColumn('name', 'text', notNull)
    .addColumn('role', 'text', notNull)
    .addColumn('hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', notNull)
    .addColumn('last_used_at', 'text')
    .execute();

  // The profile machines with no profile of their own boot: pxemngr's `nextboot default`.
  await db.insertInto('settings').values({ key: 'default_profile', value: 'local' }).execute();
}
