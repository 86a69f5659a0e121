// The test disk image (src/lab/disk-image.ts) boots from its disk: SeaBIOS runs syslinux's
// MBR, syslinux loads the tiny Linux from the FAT partition, and the tiny Linux's
// anvil.run=nexttest-upload asks a fake server for its next test (wait.test first, then a run
// named by X-Anvil-Run), runs it and uploads its output. No network boot: -boot c, no NIC ROM.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { GUEST_SERVER, bootRelayVm } from '../helpers/agent-vm.ts';
import { buildDiskImage, DISK_IMAGE_PEERS } from '../../src/lab/disk-image.ts';
import { havePeers } from '../helpers/peers.ts';
import { QEMU } from '../helpers/qemu.ts';

const BOOT_TIMEOUT_MS = 120_000;
const MAC = '52:54:00:d1:5c:01';
const RUN = 7;

test('the disk image boots syslinux and the tiny Linux from its disk, which runs its next test and uploads the output', async (t) => {
  if (!havePeers(t, QEMU, ...DISK_IMAGE_PEERS)) return;
  const image = buildDiskImage({ server: GUEST_SERVER, append: 'anvil.test=disk-image' });
  assert.ok(image.size >= 32 * 1024 * 1024 && image.size <= 64 * 1024 * 1024, `image of ${image.size} bytes`);
  assert.match(image.sha256, /^[0-9a-f]{64}$/);
  assert.equal(buildDiskImage({ server: GUEST_SERVER, append: 'anvil.test=disk-image' }).path, image.path, 'the second build is the cached one');
  // A tree copied or moved elsewhere: image.json names the place it was built in, and the file beside it is used.
  const info = join(dirname(image.path), 'image.json');
  writeFileSync(info, JSON.stringify({ ...JSON.parse(readFileSync(info, 'utf8')), path: '/nowhere/.tools/disk-images/x/disk.img' }));
  assert.equal(buildDiskImage({ server: GUEST_SERVER, append: 'anvil.test=disk-image' }).path, image.path, 'the cached image is found where it is now');

  const asked: string[] = [];
  const uploads: { path: string; body: string }[] = [];
  let uploaded: (() => void) | undefined;
  const upload = new Promise<void>((resolve) => {
    uploaded = resolve;
  });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === `/nexttest/${MAC}/`) {
        asked.push(req.url);
        // First wait.test (no X-Anvil-Run), then the queued run.
        if (asked.length === 1) return void res.end('#!/bin/sh\necho "waiting"\n');
        res.setHeader('X-Anvil-Run', String(RUN));
        return void res.end('#!/bin/sh\necho "I: booted from disk on $(uname -r)"\ncat /proc/cmdline\nexit 2\n');
      }
      if (req.method === 'POST' && req.url === `/upload/${RUN}/`) {
        uploads.push({ path: req.url, body: Buffer.concat(chunks).toString('utf8') });
        res.end(`run ${RUN}: stored\n`);
        return uploaded?.();
      }
      res.writeHead(404).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');

  const vm = bootRelayVm(t, { port: address.port, disk: image.path, snapshot: true, mac: MAC, noReboot: true, memoryMb: 256 });
  await vm.waitFor(/SYSLINUX \d/, BOOT_TIMEOUT_MS);
  await vm.waitFor(new RegExp(`ANVIL-RUN-UPLOADED ${RUN}`), BOOT_TIMEOUT_MS);
  await upload;
  await once(vm.process, 'exit');

  assert.equal(asked.length, 2, 'asked once for wait.test and once more for the run');
  assert.equal(uploads.length, 1);
  const body = uploads[0]!.body;
  assert.match(body, /^I: booted from disk on \d+\.\d+/m);
  assert.match(body, /anvil\.server=10\.0\.2\.100 anvil\.run=nexttest-upload anvil\.test=disk-image/, 'the kernel got the APPEND line of syslinux.cfg');
  assert.match(body, /^E: test script exited with status 2$/m);
  assert.doesNotMatch(vm.console, /Linux version[^\n]*\n[^]*Linux version/, 'booted once');
});
