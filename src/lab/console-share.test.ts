// A console share between a fake QEMU serial socket and two clients: output reaches every
// client, input reaches the VM, close ends the clients and removes the socket.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectSerial, SerialConsole } from './console.ts';
import { connectConsoleShare, shareConsole } from './console-share.ts';

function received(socket: Socket, text: string): Promise<void> {
  let seen = '';
  return new Promise((resolve) => socket.on('data', (chunk: Buffer) => (seen += chunk.toString()).includes(text) && resolve()));
}

test('every client of the share sees the console; what a client types reaches the VM; close ends them', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'anvil-share-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // The fake QEMU: one serial connection, as QEMU serves it.
  let vmSide: Socket | undefined;
  const qemu = createServer((s) => (vmSide = s));
  await new Promise<void>((resolve) => qemu.listen(join(dir, 'serial.sock'), resolve));
  t.after(() => qemu.close());
  const serial = new SerialConsole();
  serial.attach(await connectSerial(join(dir, 'serial.sock')));
  t.after(() => serial.close());

  const path = join(dir, 'console.sock');
  assert.equal(await connectConsoleShare(path), undefined, 'nothing shared yet');
  const share = await shareConsole(path, () => serial.open());
  const a = (await connectConsoleShare(path))!;
  const b = (await connectConsoleShare(path))!;
  t.after(() => void [a.destroy(), b.destroy()]);
  while (!vmSide) await new Promise((resolve) => setImmediate(resolve));

  let done = false;
  const both = Promise.all([received(a, 'iPXE 1.21'), received(b, 'iPXE 1.21')]).then(() => (done = true));
  // A client's stream opens when the share accepts it, a moment after the client's connect: the VM writes until both have seen it.
  while (!done) {
    vmSide.write('iPXE 1.21\r\n');
    await Promise.race([both, new Promise((resolve) => setTimeout(resolve, 20))]);
  }
  const typed = new Promise<string>((resolve) => vmSide!.once('data', (chunk: Buffer) => resolve(chunk.toString())));
  a.write('dhcp\n');
  assert.equal(await typed, 'dhcp\n');

  const closed = Promise.all([once(a, 'close'), once(b, 'close')]);
  await share.close();
  await closed;
  assert.equal(existsSync(path), false);
});
