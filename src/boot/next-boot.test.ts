import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, systemClock } from '../store/store.ts';
import { Machines } from '../machines/machines.ts';
import { MachineChanges } from '../machines/changes.ts';
import { NextBoot } from './next-boot.ts';
import { Profiles } from './profiles.ts';

test('next-boot changes and boots served are published once stored, the once-rule included', async (t) => {
  const store = await openStore({ sqlitePath: ':memory:' });
  t.after(() => store.close());
  const dir = mkdtempSync(join(tmpdir(), 'anvil-changes-'));
  writeFileSync(join(dir, 'local.prof'), 'LOCALBOOT 0\n');
  writeFileSync(join(dir, 'install.prof'), 'KERNEL vmlinuz\n');
  const changes = new MachineChanges();
  const machines = new Machines(store.db, systemClock);
  const profiles = new Profiles(store.db, dir);
  await profiles.sync(new Date().toISOString());
  const nextBoot = new NextBoot(store.db, machines, profiles, systemClock, changes);
  const { machine } = await machines.add('n1', ['52:54:00:c0:00:01']);
  const heard: Array<Promise<string>> = [];
  changes.subscribe((c) => heard.push(nextBoot.log(c.machineId, 1).then(([e]) => `${c.topic}: ${e?.kind} ${e?.profile}`)));
  await nextBoot.set('n1', 'install', { once: true });
  await nextBoot.serve(await machines.find('n1'));
  await nextBoot.logBoot(machine, 'deploy agent');
  assert.deepEqual(await Promise.all(heard), ['next-boot: nextboot install', 'boot: nextboot local', 'boot: boot deploy agent']);
});

test('next-boot changes and a boot that consumes a once-rule commit durably; other boots do not', async (t) => {
  const store = await openStore({ sqlitePath: ':memory:' });
  t.after(() => store.close());
  const dir = mkdtempSync(join(tmpdir(), 'anvil-durable-boot-'));
  writeFileSync(join(dir, 'local.prof'), 'LOCALBOOT 0\n');
  writeFileSync(join(dir, 'install.prof'), 'KERNEL vmlinuz\n');
  // Every statement as run, so the pragmas around each transaction show.
  const statements: string[] = [];
  const db = store.db.withPlugin({
    transformQuery: (args) => {
      if (args.node.kind === 'RawNode') statements.push(args.node.sqlFragments.join('?'));
      return args.node;
    },
    transformResult: async (args) => args.result,
  });
  const machines = new Machines(db, systemClock);
  const profiles = new Profiles(db, dir);
  await profiles.sync(new Date().toISOString());
  const nextBoot = new NextBoot(db, machines, profiles, systemClock, new MachineChanges());
  await machines.add('n1', ['52:54:00:c0:00:01']);
  const durableCommits = async (step: () => Promise<unknown>) => {
    statements.length = 0;
    await step();
    return statements.filter((s) => s === 'pragma synchronous = FULL').length;
  };
  assert.equal(await durableCommits(() => nextBoot.set('n1', 'install', { once: true })), 1);
  assert.equal(await durableCommits(async () => nextBoot.serve(await machines.find('n1'))), 1, 'the once-rule consumed');
  assert.equal(await durableCommits(async () => nextBoot.serve(await machines.find('n1'))), 0, 'a plain boot');
  assert.equal((await machines.find('n1')).next_profile, 'local');
});
