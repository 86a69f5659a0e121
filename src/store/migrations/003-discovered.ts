// 003: machines seen booting that anvil does not know yet, so an operator can enroll them.
import { notNull, type AnyDb } from './helpers.ts';

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('discovered')
    .addColumn('mac', 'text', (c) => c.primaryKey())
    .addColumn('arch', 'text')
    .addColumn('loader', 'text')
    .addColumn('address', 'text')
    .addColumn('first_seen', 'text', notNull)
    .addColumn('last_seen', 'text', notNull)
    .addColumn('boots', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
}
