// anvil's TFTP inside the server: pxelinux configurations rendered per machine from its
// next-boot profile (with the once-rule), the hex-IP and default fallbacks, Debian's loaders,
// and export-pxelinux for sites with their own TFTP server. curl is the TFTP client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testAnvil } from '../helpers/anvil-inproc.ts';
import { ANVIL, exec } from '../helpers/anvil-process.ts';
import { havePeers } from '../helpers/peers.ts';

const profiles = {
  'local.prof': 'DEFAULT local\nLABEL local\n  LOCALBOOT 0\n',
  'install.prof':
    'DEFAULT install\nLABEL install\n  KERNEL debian/vmlinuz\n  APPEND url={{ server }}/preseed/{{ system }} BOOTIF=01-{{ mac | replace: ":", "-" }}\n',
};

test('pxelinux.cfg/01-<mac> is rendered from the next-boot profile, with the once-rule', async (t) => {
  if (!havePeers(t, 'curl')) return;
  const a = await testAnvil(t, { netboot: { tftp: { host: '127.0.0.1', port: 0 } }, publicUrl: 'http://10.9.0.1:8080' }, { profiles });
  const port = a.netboot!.tftp!.address!.port;
  const get = (path: string, ...args: string[]) => exec('curl', ['-s', ...args, `tftp://127.0.0.1:${port}/${path}`]);
  await a.services.machines.add('n1', ['52:54:00:00:00:01']);
  await a.services.nextBoot.set('n1', 'install', { once: true });
  let r = await get('pxelinux.cfg/01-52-54-00-00-00-01');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'DEFAULT install\nLABEL install\n  KERNEL debian/vmlinuz\n  APPEND url=http://10.9.0.1:8080/preseed/n1 BOOTIF=01-52-54-00-00-00-01\n');
  r = await get('pxelinux.cfg/01-52-54-00-00-00-01', '--tftp-blksize', '1024');
  assert.match(r.stdout, /LOCALBOOT 0/);
  const log = await a.services.nextBoot.log((await a.services.machines.find('n1')).id);
  assert.deepEqual(
    log
      .filter((e) => e.kind === 'boot')
      .map((e) => [e.profile, e.loader, e.address])
      .reverse(),
    [
      ['install', 'pxelinux', '127.0.0.1'],
      ['local', 'pxelinux', '127.0.0.1'],
    ],
  );
  // An unknown MAC: not found (pxelinux goes on to its fallbacks), and listed as discovered.
  r = await get('pxelinux.cfg/01-52-54-00-00-00-99');
  assert.notEqual(r.code, 0);
  assert.equal((await a.services.discovered.list())[0]!.mac, '52:54:00:00:00:99');
  r = await get('pxelinux.cfg/C0A80001');
  assert.notEqual(r.code, 0);
  r = await get('pxelinux.cfg/default');
  assert.equal(r.stdout, profiles['local.prof']);
  // The loaders from Debian's ipxe package.
  if (existsSync('/usr/lib/ipxe/undionly.kpxe')) {
    r = await exec('sh', ['-c', `curl -s tftp://127.0.0.1:${port}/undionly.kpxe | cmp - /usr/lib/ipxe/undionly.kpxe && echo same`]);
    assert.equal(r.stdout.trim(), 'same');
  }
  // Traversal is refused.
  r = await get('../../etc/passwd', '--path-as-is');
  assert.notEqual(r.code, 0);
});

test('export-pxelinux writes the files another TFTP server would serve', async (t) => {
  const a = await testAnvil(t, {}, { profiles });
  await a.services.machines.add('n1', ['52:54:00:00:00:01', '52:54:00:00:00:02']);
  await a.services.nextBoot.set('n1', 'install');
  const dir = join(a.data, 'export');
  const r = await exec(ANVIL, ['export-pxelinux', dir, '--data', a.data, '--public-url', 'http://10.9.0.1:8080']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /3 written, 0 unchanged, 0 removed/);
  assert.match(readFileSync(join(dir, 'pxelinux.cfg/01-52-54-00-00-00-02'), 'utf8'), /BOOTIF=01-52-54-00-00-00-02/);
  assert.equal(readFileSync(join(dir, 'pxelinux.cfg/default'), 'utf8'), profiles['local.prof']);
  await a.services.machines.remove('n1');
  const again = await exec(ANVIL, ['export-pxelinux', dir, '--data', a.data, '--public-url', 'http://10.9.0.1:8080']);
  assert.match(again.stdout, /0 written, 1 unchanged, 2 removed/);
});
