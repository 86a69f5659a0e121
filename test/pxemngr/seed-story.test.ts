// The PXE Manager seed's whole story, as its text tells it, with the real commands:
// sync profiles, add a system, nextboot, /profile/, /localboot/, sync tests, nexttest,
// /nexttest/, the upload with the seed's curl line, dpytest showing the parsed result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { havePeers } from '../helpers/peers.ts';
import { PXEMNGR, exec, startServer, tempDir } from '../helpers/anvil-process.ts';

test('the seed story: profiles, systems, nextboot, localboot, tests and uploads', async (t) => {
  if (!havePeers(t, 'curl')) return;
  const data = tempDir();
  const profiles = join(data, 'tftp/pxelinux.cfg/profiles');
  const tests = join(data, 'tests');
  mkdirSync(profiles, { recursive: true });
  mkdirSync(tests, { recursive: true });
  const env = { ANVIL_DATA: data };
  const pxemngr = (...args: string[]) => exec(PXEMNGR, args, env);
  const curl = (...args: string[]) => exec('curl', ['-s', ...args]);

  // syncbootnames refuses to run without local.prof, and says so.
  writeFileSync(join(profiles, 'install.prof'), 'KERNEL vmlinuz\nAPPEND url={{ server }}/preseed\n');
  let r = await pxemngr('syncbootnames');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /local\.prof is missing: it is mandatory/);
  writeFileSync(join(profiles, 'local.prof'), 'LOCALBOOT 0\n');
  r = await pxemngr('syncbootnames');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /install local/);

  // MACs in any notation, stored canonically.
  r = await pxemngr('addsystem', 'node1', 'AA-BB-CC-00-00-01', 'aabbcc000002');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /aa:bb:cc:00:00:01 aa:bb:cc:00:00:02/);
  r = await pxemngr('addsystem', 'node2', 'aa:bb:cc:00:00:01');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already belongs to machine 'node1'/);
  r = await pxemngr('nextboot', 'node1', 'nosuch');
  assert.match(r.stderr, /unknown profile 'nosuch'; known profiles: install and local/);
  r = await pxemngr('nextboot', 'node1', 'install');
  assert.equal(r.code, 0, r.stderr);

  // The server runs while the commands keep acting on the database.
  const server = await startServer(data);
  t.after(() => server.stop());

  r = await curl('-f', `${server.url}/profile/aa:bb:cc:00:00:02/`);
  assert.equal(r.stdout, 'install');
  r = await curl('-w', '%{http_code}', `${server.url}/profile/`);
  assert.match(r.stdout, /no machine found for address 127\.0\.0\.1.*404$/s);
  r = await curl('-w', '%{http_code}', `${server.url}/profile/aa:bb:cc:99:99:99/`);
  assert.match(r.stdout, /no machine has MAC aa:bb:cc:99:99:99.*404$/s);

  // The installer is done: /localboot/ switches the next boot to local.
  r = await curl('-f', `${server.url}/localboot/aa-bb-cc-00-00-01/`);
  assert.equal(r.code, 0);
  r = await curl('-f', `${server.url}/profile/aabbcc000001/`);
  assert.equal(r.stdout, 'local');
  r = await pxemngr('dpysystem', 'node1');
  assert.match(r.stdout, /next boot: local/);
  assert.match(r.stdout, /localboot callback/);
  assert.match(r.stdout, /install\s+operator/);

  // A change made by pxemngr is seen by the running server at once.
  await pxemngr('nextboot', 'node1', 'install', '--once');
  r = await curl('-f', `${server.url}/profile/aabbcc000001/`);
  assert.equal(r.stdout, 'install');

  // Tests: wait.test is mandatory.
  writeFileSync(join(tests, 'smoke.test'), '#!/bin/sh\necho "I: {{ testname }} on {{ system }} log {{ log }} mac {{ mac }}"\necho "I: server {{ server }}"\n');
  r = await pxemngr('synctestnames');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /wait\.test is missing: it is mandatory/);
  writeFileSync(join(tests, 'wait.test'), '#!/bin/sh\nsleep 10\n');
  r = await pxemngr('synctestnames');
  assert.equal(r.code, 0, r.stderr);
  r = await pxemngr('nexttest', 'node1', 'smoke');
  assert.match(r.stdout, /queued smoke for node1 as run (\d+)/);
  const runId = /run (\d+)/.exec(r.stdout)![1]!;

  // /nexttest/ renders the queued test, marks it sent; then wait.test.
  r = await curl('-f', `${server.url}/nexttest/aa:bb:cc:00:00:01/`);
  assert.equal(r.stdout, `#!/bin/sh\necho "I: smoke on node1 log ${runId} mac aa:bb:cc:00:00:01"\necho "I: server ${server.url}"\n`);
  r = await curl('-f', `${server.url}/nexttest/aa:bb:cc:00:00:01/`);
  assert.equal(r.stdout, '#!/bin/sh\nsleep 10\n');
  r = await pxemngr('dpytest', 'node1');
  assert.match(r.stdout, new RegExp(`${runId}\\s+smoke\\s+sent`));

  // The upload, exactly as the seed's curl line sends it (to the run's URL: the test is on loopback, not ARP).
  const output = join(data, 'output.txt');
  writeFileSync(output, 'booting\nI: disk ok\nW: fan slow\nE: memory error at 0x1000\nV: 2.6.32-test\n');
  r = await exec('sh', ['-c', `curl --retry 0 -s -f -F "file=@$output" ${server.url}/upload/${runId}/`], { output });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /1 info, 1 warning, 1 error/);
  assert.equal(readFileSync(join(data, 'uploads', `${runId}.log`), 'utf8'), readFileSync(output, 'utf8'));

  // dpytest shows the parsed result.
  r = await pxemngr('dpytest', 'node1');
  assert.match(r.stdout, new RegExp(`${runId}\\s+smoke\\s+done\\s+\\S+ \\S+\\s+\\S+ \\S+\\s+1\\s+1\\s+1\\s+2\\.6\\.32-test`));
  r = await pxemngr('--json', 'dpysystem', 'node1');
  assert.equal(JSON.parse(r.stdout).version, '2.6.32-test');

  // delsystem.
  r = await pxemngr('delsystem', 'node1');
  assert.equal(r.code, 0);
  r = await curl('-w', '%{http_code}', `${server.url}/profile/aabbcc000001/`);
  assert.match(r.stdout, /404$/);

  // SIGTERM stops the server cleanly.
  assert.equal(await server.stop(), 0);
});
