// The QMP client against a scripted server on a Unix socket: what real QEMU rarely does on
// demand — replies out of order, a line that is not QMP, silence, a close mid-command.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { QmpClient, QmpClosedError, QmpDecodeError, QmpTimeoutError } from '../../src/protocols/qmp/index.ts';

const GREETING = '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}\r\n';

interface Fake {
  readonly path: string;
  /** Resolves with the next connection and a line reader for it. */
  accept(): Promise<{ socket: Socket; nextCommand(): Promise<{ execute: string; id: number }> }>;
}

async function fakeQemu(t: TestContext, greet = true): Promise<Fake> {
  const dir = await mkdtemp(join(tmpdir(), 'anvil-qmp-'));
  const path = join(dir, 'qmp.sock');
  const server: Server = createServer();
  const sockets: Socket[] = [];
  server.listen(path);
  await once(server, 'listening');
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  return {
    path,
    async accept() {
      const [socket] = (await once(server, 'connection')) as [Socket];
      sockets.push(socket);
      socket.setEncoding('utf8');
      const lines: string[] = [];
      let wake: (() => void) | undefined;
      let pending = '';
      socket.on('data', (chunk: string) => {
        pending += chunk;
        let i: number;
        while ((i = pending.indexOf('\n')) >= 0) {
          lines.push(pending.slice(0, i));
          pending = pending.slice(i + 1);
        }
        wake?.();
      });
      if (greet) socket.write(GREETING);
      return {
        socket,
        async nextCommand() {
          while (lines.length === 0) await new Promise<void>((resolve) => (wake = resolve));
          return JSON.parse(lines.shift()!) as { execute: string; id: number };
        },
      };
    },
  };
}

/** Connects a client and answers its qmp_capabilities. */
async function connected(t: TestContext, fake: Fake, options = {}) {
  const accepting = fake.accept();
  const connecting = QmpClient.connect(fake.path, options);
  const peer = await accepting;
  const caps = await peer.nextCommand();
  assert.equal(caps.execute, 'qmp_capabilities');
  peer.socket.write(JSON.stringify({ return: {}, id: caps.id }) + '\r\n');
  const client = await connecting;
  t.after(() => client.close());
  return { client, peer };
}

test('replies are matched to their commands by id, whatever their order; events come between', async (t) => {
  const fake = await fakeQemu(t);
  const { client, peer } = await connected(t, fake);
  const first = client.execute<string>('query-a');
  const second = client.execute<string>('query-b');
  const a = await peer.nextCommand();
  const b = await peer.nextCommand();
  const event = client.waitForEvent('STOP');
  peer.socket.write(
    `${JSON.stringify({ return: 'B', id: b.id })}\r\n{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 0}}\r\n${JSON.stringify({ return: 'A', id: a.id })}\r\n`,
  );
  assert.deepEqual(await Promise.all([first, second]), ['A', 'B']);
  assert.equal((await event).event, 'STOP');
});

test('a line that is not QMP is reported and skipped; the connection goes on', async (t) => {
  const fake = await fakeQemu(t);
  const { client, peer } = await connected(t, fake);
  const decodeError = once(client, 'decode-error');
  const reply = client.execute('query-status');
  const command = await peer.nextCommand();
  peer.socket.write(`this is not json\r\n${JSON.stringify({ return: { status: 'running' }, id: command.id })}\r\n`);
  assert.ok(((await decodeError) as [unknown])[0] instanceof QmpDecodeError);
  assert.deepEqual(await reply, { status: 'running' });
});

test('a command without a reply times out with QMP_TIMEOUT; one pending at a close rejects with QMP_CLOSED', async (t) => {
  const fake = await fakeQemu(t);
  const { client, peer } = await connected(t, fake, { commandTimeoutMs: 50 });
  await assert.rejects(client.execute('query-status'), (e: unknown) => e instanceof QmpTimeoutError && e.code === 'QMP_TIMEOUT');
  await peer.nextCommand();
  const pending = client.execute('quit', undefined, { timeoutMs: 5_000 });
  await peer.nextCommand();
  const closed = once(client, 'close');
  peer.socket.destroy();
  await assert.rejects(pending, (e: unknown) => e instanceof QmpClosedError && e.code === 'QMP_CLOSED');
  const [reason] = (await closed) as [Error | undefined];
  assert.ok(reason instanceof QmpClosedError, 'closed by the peer, not by close()');
  await assert.rejects(client.execute('query-status'), (e: unknown) => e instanceof QmpClosedError);
});

test('a socket that never greets (another client holds it) fails with QMP_TIMEOUT', async (t) => {
  const fake = await fakeQemu(t, false);
  const accepting = fake.accept();
  await assert.rejects(
    QmpClient.connect(fake.path, { greetingTimeoutMs: 100 }),
    (e: unknown) => e instanceof QmpTimeoutError && /another client/.test((e as Error).message),
  );
  await accepting;
});
