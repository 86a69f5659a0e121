// The seed's bare URLs (/profile/, /nexttest/, /upload/, /localboot/) with no MAC in them:
// anvil finds the machine from the request's source address through the kernel's ARP
// table. The machine is a second host on a private LAN (a network namespace with a veth on
// anvil's bridge), and it uploads with the seed's own curl line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { createNetns, isRoot } from '../helpers/netns.ts';
import { ANVIL, PXEMNGR, exec, tempDir } from '../helpers/anvil-process.ts';

test('bare pxemngr URLs find the machine through the ARP table', async (t) => {
  if (!havePeers(t, 'ip', 'curl')) return;
  if (!requireCondition(t, isRoot(), 'network namespaces need root')) return;
  const ns = await createNetns(t, { prefix: 'anvil-arp', taps: [] });
  const machineHost = await ns.addPeer(5);
  const strangerHost = await ns.addPeer(6);
  const mac = (await ns.exec('cat', ['/sys/class/net/eth0/address'], machineHost)).trim();
  const strangerMac = (await ns.exec('cat', ['/sys/class/net/eth0/address'], strangerHost)).trim();

  const data = tempDir();
  mkdirSync(join(data, 'tftp/pxelinux.cfg/profiles'), { recursive: true });
  mkdirSync(join(data, 'tests'), { recursive: true });
  writeFileSync(join(data, 'tftp/pxelinux.cfg/profiles/local.prof'), 'LOCALBOOT 0\n');
  writeFileSync(join(data, 'tftp/pxelinux.cfg/profiles/install.prof'), 'KERNEL vmlinuz\n');
  writeFileSync(join(data, 'tests/wait.test'), 'sleep 5\n');
  writeFileSync(join(data, 'tests/smoke.test'), 'echo "I: smoke on {{ system }} ({{ mac }})"\necho "V: lab-os 3"\n');
  const pxemngr = (...args: string[]) => exec(PXEMNGR, ['--data', data, ...args]);
  for (const args of [
    ['syncbootnames'],
    ['synctestnames'],
    ['addsystem', 'box', mac.toUpperCase()],
    ['nextboot', 'box', 'install'],
    ['nexttest', 'box', 'smoke'],
    ['nextboot', 'default', 'install'],
  ]) {
    const r = await pxemngr(...args);
    assert.equal(r.code, 0, `pxemngr ${args.join(' ')}: ${r.stderr}`);
  }
  const list = await pxemngr('dpysystem', '-l');
  assert.match(list.stdout, new RegExp(`box\\s+${mac}\\s+install`));

  const server = ns.spawn(ANVIL, ['serve', '--data', data, '--http', '0.0.0.0:8080', '--tftp', 'off']);
  let log = '';
  server.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  server.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const deadline = Date.now() + 30_000;
  while (!/anvil is serving/.test(log)) {
    assert.ok(server.exitCode === null && Date.now() < deadline, `anvil serve did not start:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const base = `http://${ns.address}:8080`;
  const curlFrom = (host: string, ...args: string[]) => exec('ip', ['netns', 'exec', host, 'curl', '-s', ...args]);

  let r = await curlFrom(machineHost, '-f', `${base}/profile/`);
  assert.equal(r.stdout, 'install');
  r = await curlFrom(machineHost, '-f', `${base}/nexttest/`);
  assert.equal(r.stdout, `echo "I: smoke on box (${mac})"\necho "V: lab-os 3"\n`);
  // The seed's upload line, word for word, run on the machine.
  const output = join(data, 'result.txt');
  writeFileSync(output, 'I: smoke on box\nV: lab-os 3\n');
  r = await exec('ip', ['netns', 'exec', machineHost, 'sh', '-c', `curl --retry 0 -s -f -F "file=@$output" ${base}/upload/`], { output });
  assert.equal(r.code, 0, r.stdout + r.stderr + log);
  r = await curlFrom(machineHost, '-f', `${base}/localboot/`);
  assert.equal(r.code, 0);
  r = await curlFrom(machineHost, '-f', `${base}/profile/`);
  assert.equal(r.stdout, 'local');
  const dpy = await pxemngr('dpytest', 'box');
  assert.match(dpy.stdout, /smoke\s+done.*\s1\s+0\s+0\s+lab-os 3/);

  // A host anvil does not know: 404 naming its address and MAC.
  r = await curlFrom(strangerHost, '-w', '\n%{http_code}', `${base}/profile/`);
  assert.match(r.stdout, new RegExp(`address ${ns.subnet.replaceAll('.', '\\.')}\\.6 has MAC ${strangerMac}, which belongs to no machine[\\s\\S]*404$`));
  server.kill('SIGTERM');
});
