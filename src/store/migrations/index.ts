// anvil's migrations, in order. A migration is never edited once released: add a new one.
import type { Migration } from 'kysely/migration';
import type { AnyDb, Dialect } from './helpers.ts';
import * as m001 from './001-core.ts';
import * as m002 from './002-testing.ts';
import * as m003 from './003-discovered.ts';
import * as m004 from './004-drivers.ts';
import * as m005 from './005-provisioning.ts';
import * as m006 from './006-run-finished.ts';
import * as m007 from './007-leases.ts';
import * as m008 from './008-conductors.ts';
import * as m009 from './009-web-sessions.ts';
import * as m010 from './010-work.ts';
import * as m011 from './011-boot-index.ts';
import * as m012 from './012-image-copies.ts';

type Up = (db: AnyDb, ctx: { dialect: Dialect }) => Promise<void>;

const all: ReadonlyArray<readonly [string, Up]> = [
  ['001-core', m001.up],
  ['002-testing', m002.up],
  ['003-discovered', m003.up],
  ['004-drivers', m004.up],
  ['005-provisioning', m005.up],
  ['006-run-finished', m006.up],
  ['007-leases', m007.up],
  ['008-conductors', m008.up],
  ['009-web-sessions', m009.up],
  ['010-work', m010.up],
  ['011-boot-index', m011.up],
  ['012-image-copies', m012.up],
];

export const migrationNames: readonly string[] = all.map(([name]) => name);

export function migrationsFor(dialect: Dialect): Record<string, Migration> {
  return Object.fromEntries(all.map(([name, up]) => [name, { up: (db: AnyDb) => up(db, { dialect }) }]));
}
