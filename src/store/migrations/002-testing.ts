// 002: test scripts, test runs and their parsed result lines, system versions.
import { notNull, withId, type AnyDb, type MigrationContext } from './helpers.ts';

export async function up(db: AnyDb, { dialect }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('tests')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('available', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('synced_at', 'text', notNull)
    .execute();

  await withId(db.schema.createTable('runs'), dialect)
    .addColumn('machine_id', 'integer', (c) => c.notNull().references('machines.id').onDelete('cascade'))
    .addColumn('test', 'text', notNull)
    .addColumn('state', 'text', notNull)
    .addColumn('requested_at', 'text', notNull)
    .addColumn('sent_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('infos', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('warnings', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('errors', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('version', 'text')
    .addColumn('upload_path', 'text')
    .addColumn('upload_bytes', 'bigint')
    .addColumn('error_reason', 'text')
    .execute();
  await db.schema.createIndex('runs_machine_state').on('runs').columns(['machine_id', 'state', 'id']).execute();
  await db.schema.createIndex('runs_state_sent').on('runs').columns(['state', 'sent_at']).execute();

  await withId(db.schema.createTable('run_lines'), dialect)
    .addColumn('run_id', 'integer', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('line_no', 'integer', notNull)
    .addColumn('kind', 'text', notNull)
    .addColumn('text', 'text', notNull)
    .execute();
  await db.schema.createIndex('run_lines_run').on('run_lines').columns(['run_id', 'id']).execute();

  await db.schema
    .createTable('system_versions')
    .addColumn('machine_id', 'integer', (c) => c.notNull().references('machines.id').onDelete('cascade'))
    .addColumn('version', 'text', notNull)
    .addColumn('first_seen', 'text', notNull)
    .addColumn('last_seen', 'text', notNull)
    .addPrimaryKeyConstraint('system_versions_pk', ['machine_id', 'version'])
    .execute();
}
