// Rough edges a new user hit (issue 14), each as it was seen: where the data directory is, a
// broadcast MAC enrolled, `nextboot default local` ignored by iPXE, upload hints that
// contradicted each other, --version, `anvil bmc --help` failing, options that do not apply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ANVIL, PXEMNGR, exec, tempDir } from '../helpers/anvil-process.ts';
import { testAnvil } from '../helpers/anvil-inproc.ts';

test('the data directory is found as git finds a repository, and a new empty one is announced', async () => {
  const top = tempDir();
  const sub = join(top, 'deep', 'er');
  mkdirSync(sub, { recursive: true });
  const env = { ANVIL_DATA: '', XDG_CONFIG_HOME: join(top, 'no-config') };
  const made = await exec(PXEMNGR, ['addsystem', 'n1', '52:54:00:ed:00:01'], env, top);
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stderr, /no database was in .*anvil-data: made a new, empty one/);
  // From a folder below, pxemngr finds that anvil-data and says nothing.
  const listed = await exec(PXEMNGR, ['dpysystem', '-l'], env, sub);
  assert.equal(listed.stderr, '');
  assert.match(listed.stdout, /n1\s+52:54:00:ed:00:01/);
  assert.ok(!existsSync(join(sub, 'anvil-data')), 'no second, empty data directory');
  // A config file names one.
  mkdirSync(join(top, 'config', 'anvil'), { recursive: true });
  writeFileSync(join(top, 'config', 'anvil', 'config'), `# anvil\ndata = ${join(top, 'anvil-data')}\n`);
  const other = tempDir();
  const viaConfig = await exec(PXEMNGR, ['dpysystem', '-l'], { ANVIL_DATA: '', XDG_CONFIG_HOME: join(top, 'config') }, other);
  assert.match(viaConfig.stdout, /n1/);
});

test('small things: --version, group help, options that apply, broadcast MACs', async () => {
  const version = await exec(ANVIL, ['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^anvil \d+\.\d+\.\d+/);
  const bmc = await exec(ANVIL, ['bmc', '--help']);
  assert.equal(bmc.code, 0);
  assert.match(bmc.stdout, /anvil bmc fake/);
  assert.equal((await exec(ANVIL, ['bmc'])).code, 2, 'a group without a command is still a usage error');
  const help = await exec(ANVIL, ['token', 'create', '--help']);
  assert.ok(!help.stdout.includes('--profiles') && !help.stdout.includes('--tests'), help.stdout);
  const data = tempDir();
  const broadcast = await exec(PXEMNGR, ['--data', data, 'addsystem', 'b1', 'ff:ff:ff:ff:ff:ff']);
  assert.equal(broadcast.code, 1);
  assert.match(broadcast.stderr, /ff:ff:ff:ff:ff:ff is the broadcast address, which no network card has as its own/);
  assert.match((await exec(PXEMNGR, ['--data', data, 'addsystem', 'b2', '01:00:5e:00:00:01'])).stderr, /is a multicast address/);
});

test("nextboot default local sends unknown iPXE machines to their disks; upload takes the machine's MAC", async (t) => {
  const a = await testAnvil(t);
  const stranger = '52:54:00:ed:00:99';
  assert.match(await (await fetch(`${a.url}/boot/${stranger}`)).text(), /no machine has MAC/, 'until an operator says');
  await a.services.nextBoot.set('default', 'local');
  assert.match(await (await fetch(`${a.url}/boot/${stranger}`)).text(), /sanboot --no-describe --drive 0x80/);

  await a.services.machines.add('u1', ['52:54:00:ed:00:02']);
  const [run] = await a.services.testing.queue((await a.services.machines.byName('u1'))!, ['hello']);
  await fetch(`${a.url}/nexttest/52:54:00:ed:00:02/`);
  const up = await fetch(`${a.url}/upload/52:54:00:ed:00:02/`, { method: 'POST', body: 'I: one\nE: bad\n', headers: { 'content-type': 'text/plain' } });
  assert.equal(up.status, 200);
  assert.equal(await up.text(), `run ${run!.id} (hello on u1): 1 info, 0 warnings, 1 error\n`);
  const bad = await fetch(`${a.url}/upload/not-a-run/`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /neither a run id nor a MAC; upload to \/upload\/<run-id>\/ .*, \/upload\/<mac>\/ or \/upload\//);
});
