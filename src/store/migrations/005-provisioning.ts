// 005: the image library and deployments. An image row appears only once its file is whole
// and verified. A deployment is one deploy (or capture) of one machine: its agent's token
// (hashed for lookup, sealed so the boot answer can hand it out again), its progress and how
// it ended. machines gains the image it runs, a deploy timeout of its own, its last
// provisioning error, and its properties (how to reach its OS: address, SSH port and user).
import { notNull, withId, type AnyDb, type MigrationContext } from './helpers.ts';

export async function up(db: AnyDb, { dialect }: MigrationContext): Promise<void> {
  await withId(db.schema.createTable('images'), dialect)
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('format', 'text', notNull)
    .addColumn('virtual_size', 'bigint', notNull)
    .addColumn('stored_size', 'bigint', notNull)
    .addColumn('sha256', 'text', notNull)
    .addColumn('file', 'text', notNull)
    .addColumn('origin', 'text', notNull)
    .addColumn('source_machine', 'text')
    .addColumn('notes', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'text', notNull)
    .execute();

  await withId(db.schema.createTable('deployments'), dialect)
    .addColumn('machine_id', 'integer', (c) => c.notNull().references('machines.id').onDelete('cascade'))
    .addColumn('kind', 'text', notNull)
    .addColumn('image_id', 'integer', (c) => c.references('images.id').onDelete('set null'))
    .addColumn('image_name', 'text', notNull)
    .addColumn('state', 'text', notNull)
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('token_sealed', 'text', notNull)
    .addColumn('requested_by', 'text', notNull)
    .addColumn('timeout_s', 'integer')
    .addColumn('stall_timeout_s', 'integer')
    .addColumn('created_at', 'text', notNull)
    .addColumn('updated_at', 'text', notNull)
    .addColumn('finished_at', 'text')
    .addColumn('phase', 'text')
    .addColumn('bytes_done', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('bytes_total', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('progress_at', 'text')
    .addColumn('device', 'text')
    .addColumn('agent_info', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('result', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('error', 'text')
    .addColumn('upload_file', 'text')
    .addColumn('notes', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
  await db.schema.createIndex('deployments_machine').on('deployments').columns(['machine_id', 'id']).execute();
  await db.schema.createIndex('deployments_state').on('deployments').column('state').execute();

  await db.schema.alterTable('machines').addColumn('image_id', 'integer').execute();
  await db.schema.alterTable('machines').addColumn('image_name', 'text').execute();
  await db.schema.alterTable('machines').addColumn('deploy_timeout_s', 'integer').execute();
  await db.schema.alterTable('machines').addColumn('provision_error', 'text').execute();
  await db.schema
    .alterTable('machines')
    .addColumn('properties', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
}
