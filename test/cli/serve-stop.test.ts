// `anvil serve` stops on SIGTERM even while a request never ends: an upload whose client went
// silent (a machine that stalled mid-stream looks the same) is cut after the grace, the server
// exits 0, and the half-written upload leaves no image behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { ANVIL, exec, startServer, tempDir } from '../helpers/anvil-process.ts';

test('a stalled upload does not keep anvil serve from stopping', async (t) => {
  const data = tempDir();
  const token = (await exec(ANVIL, ['token', 'create', '--role', 'admin', '--data', data])).stdout.trim();
  const server = await startServer(data);
  t.after(() => server.stop());
  const { hostname, port } = new URL(server.url);

  const socket = connect(Number(port), hostname);
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  socket.write(
    `PUT /api/v1/images/stalled HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000000\r\n\r\n`,
  );
  socket.write(Buffer.alloc(256 * 1024));
  socket.on('error', () => {});
  // The upload is under way when the server is told to stop.
  for (let i = 0; i < 100 && !/incoming|upload/i.test(server.logs()); i++) await new Promise((r) => setTimeout(r, 50));
  const closed = once(socket, 'close');
  const exited = once(server.child, 'exit');
  server.child.kill('SIGTERM');
  const bound = AbortSignal.timeout(60_000);
  const [code] = (await Promise.race([exited, once(bound, 'abort').then(() => assert.fail(`anvil serve did not stop:\n${server.logs()}`))])) as [number];
  assert.equal(code, 0, server.logs());
  await closed;
  assert.match(server.logs(), /requests still in flight after \d+ s are cut/);

  const list = await exec(ANVIL, ['image', 'list', '--data', data]);
  assert.equal(list.code, 0, list.stderr);
  assert.doesNotMatch(list.stdout, /stalled/);
});
