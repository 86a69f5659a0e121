import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../store/store.ts';
import { testStore } from '../../test/helpers/database.ts';
import { Machines } from '../machines/machines.ts';
import { BootService } from './boot-service.ts';
import { Discovered } from './discovered.ts';
import { NextBoot } from './next-boot.ts';
import { Profiles } from './profiles.ts';

const S = 'http://10.9.0.1:8080';
const KNOWN = '52:54:00:b0:00:01';
const STRANGER = '52:54:00:b0:00:99';

async function setUp(t: { after(fn: () => unknown): void }, profiles: Record<string, string>) {
  const store = await testStore(t);
  const dir = mkdtempSync(join(tmpdir(), 'anvil-boot-'));
  for (const [name, text] of Object.entries(profiles)) writeFileSync(join(dir, name), text);
  const machines = new Machines(store.db, systemClock);
  const profileSet = new Profiles(store.db, dir);
  await profileSet.sync(new Date().toISOString());
  const nextBoot = new NextBoot(store.db, machines, profileSet, systemClock);
  const discovered = new Discovered(store.db, systemClock);
  const boot = new BootService({ machines, nextBoot, discovered, profiles: profileSet, files: { root: dir, open: async () => undefined } });
  await machines.add('n1', [KNOWN]);
  return { boot, nextBoot, discovered };
}

const PROFILES = {
  'local.prof': 'DEFAULT local\nLABEL local\n  LOCALBOOT 0\n',
  'install.prof': 'KERNEL d/vmlinuz\nAPPEND host={{ system }} mac={{ mac }} s={{ server }}\n',
};

test('an unknown machine gets the same rule from every loader: listed as discovered, then the default profile or nothing', async (t) => {
  const { boot, nextBoot, discovered } = await setUp(t, PROFILES);
  assert.match((await boot.ipxeScript({ mac: STRANGER, server: S })).script, /no machine has MAC 52:54:00:b0:00:99; it is listed as discovered/);
  assert.equal(await boot.loaderConfig({ mac: STRANGER, loader: 'pxelinux', server: S }), undefined, 'pxelinux goes on to its next file name');
  assert.equal((await discovered.list())[0]?.boots, 2);
  // An address that resolved to the MAC does not count as another boot.
  await boot.loaderConfig({ mac: STRANGER, loader: 'pxelinux', server: S, discover: false });
  assert.equal((await discovered.list())[0]?.boots, 2);

  await nextBoot.set('default', 'install');
  assert.equal(await boot.loaderConfig({ mac: STRANGER, loader: 'pxelinux', server: S }), `KERNEL d/vmlinuz\nAPPEND host=unknown mac=${STRANGER} s=${S}\n`);
  assert.match((await boot.ipxeScript({ mac: STRANGER, server: S })).script, new RegExp(`kernel ${S}/tftp/d/vmlinuz host=unknown mac=${STRANGER}`));
  assert.equal(await boot.defaultConfig(S), 'KERNEL d/vmlinuz\nAPPEND host=unknown mac= s=http://10.9.0.1:8080\n');
});

test('a known machine gets its next profile once, then local, and every boot is logged', async (t) => {
  const { boot, nextBoot } = await setUp(t, PROFILES);
  await nextBoot.set('n1', 'install', { once: true });
  const first = await boot.answer({ mac: KNOWN, loader: 'pxelinux', address: '10.9.0.5', server: S });
  assert.equal(first.kind, 'profile');
  assert.equal(first.kind === 'profile' && first.text, `KERNEL d/vmlinuz\nAPPEND host=n1 mac=${KNOWN} s=${S}\n`);
  const second = await boot.ipxeScript({ mac: KNOWN, server: S, arch: 'pcbios i386' });
  assert.match(second.script, /n1 boots from its local disk/);
  const log = await nextBoot.log((await nextBoot.fleet())[0]!.id);
  assert.deepEqual(
    log.map((e) => [e.kind, e.profile, e.reason, e.loader, e.arch]),
    [
      ['boot', 'local', 'boot served', 'iPXE', 'pcbios i386'],
      ['nextboot', 'local', 'once-rule', null, null],
      ['boot', 'install', 'boot served', 'pxelinux', null],
      ['nextboot', 'install', 'operator (once)', null, null],
    ],
  );
});
