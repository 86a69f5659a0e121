// An AMT that never answers, through the client and through `anvil amt`: the error names the
// attempts and the real time they took (retry waits included), and the overall deadline ends
// the retries. Two kinds of silence: a socket that accepts and never answers, and a listener
// whose accept queue is full, so the kernel drops the SYN and the connection never completes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { AmtClient, AmtConnectError, AmtTimeoutError } from '../../src/protocols/amt/index.ts';
import type { AmtClientOptions } from '../../src/protocols/amt/index.ts';
import { havePeers } from '../helpers/peers.ts';
import { ANVIL, PASSWORD, runChild } from './fixture.ts';

/** Only catches a hang; the calls below end in a few seconds. */
const HANG_MS = 300_000;

/** A TCP server that accepts every connection, reads the request and never answers. */
async function silentServer(t: TestContext): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.resume();
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as { port: number }).port, connections: () => connections };
}

// listen(0) and never accept(): one connection fills the accept queue, and Linux drops the SYNs
// of every later one (tcp_conn_request: accept queue full), so a connect only times out. Node
// cannot listen without accepting, hence Python's socket module.
const FULL_BACKLOG = `
import socket, sys, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)
port = s.getsockname()[1]
fill = []
for i in range(2):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(('127.0.0.1', port))
    except BlockingIOError: pass
    fill.append(c)
time.sleep(0.2)
print(port, flush=True)
sys.stdin.read()
`;

async function fullBacklog(t: TestContext): Promise<number> {
  const child = spawn('python3', ['-c', FULL_BACKLOG], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => {
    child.stdin.end();
    child.kill();
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the listener exited with ${code}`)));
  });
  return Number(line);
}

function client(t: TestContext, port: number, options: AmtClientOptions): AmtClient {
  const c = new AmtClient({ host: '127.0.0.1', port, password: PASSWORD }, { protocol: 'wsman', ...options });
  t.after(() => c.close());
  return c;
}

test('an AMT that accepts and never answers: AMT_TIMEOUT names every attempt and the real total', { timeout: HANG_MS }, async (t) => {
  const { port, connections } = await silentServer(t);
  const amt = client(t, port, { requestTimeoutMs: 300, connectAttempts: 3, retryDelayMs: 50 });
  await assert.rejects(amt.getPowerState(), (e: unknown) => {
    assert.ok(e instanceof AmtTimeoutError, String(e));
    assert.equal(e.attempts, 3, 'reading the power state is idempotent, so it is retried');
    // The total counts all three attempts, not the last one's timeout.
    assert.ok(e.elapsedMs >= 3 * 300, `${e.elapsedMs} ms`);
    assert.match(e.message, /^AMT 127\.0\.0\.1:\d+ did not answer: 3 attempts of up to 300 ms each, \d+\.\d s in all; /);
    assert.doesNotMatch(e.message, /deadline/, 'the attempt count ended it, not the deadline');
    return true;
  });
  assert.equal(connections(), 3);
});

test('the overall deadline ends the retries of an AMT that never answers, and the message says so', { timeout: HANG_MS }, async (t) => {
  const { port, connections } = await silentServer(t);
  const deadlineMs = 1500;
  const amt = client(t, port, { requestTimeoutMs: 500, connectAttempts: 50, retryDelayMs: 20, retryMaxDelayMs: 20, deadlineMs });
  await assert.rejects(amt.getPowerState(), (e: unknown) => {
    assert.ok(e instanceof AmtTimeoutError, String(e));
    assert.ok(e.attempts >= 1 && e.attempts < 50, `${e.attempts} attempts`);
    assert.equal(e.attempts, connections());
    assert.match(
      e.message,
      new RegExp(`did not answer: ${e.attempts} attempts? of up to 500 ms each, \\d+\\.\\d s in all \\(the overall deadline of 1\\.5 s ended the retries\\)`),
    );
    // Attempts are cut to end at the deadline; the bound here is generous, for a loaded machine.
    assert.ok(e.elapsedMs < deadlineMs + 60_000, `${e.elapsedMs} ms`);
    return true;
  });
});

test('an AMT whose SYNs are dropped: AMT_CONNECT after every connect timeout, with the total', { timeout: HANG_MS }, async (t) => {
  if (!havePeers(t, 'python3')) return;
  const port = await fullBacklog(t);
  const amt = client(t, port, { connectTimeoutMs: 300, connectAttempts: 3, retryDelayMs: 50 });
  await assert.rejects(amt.getPowerState(), (e: unknown) => {
    assert.ok(e instanceof AmtConnectError, String(e));
    assert.equal(e.attempts, 3);
    assert.ok(e.elapsedMs >= 3 * 300, `${e.elapsedMs} ms`);
    assert.match(e.message, /^cannot reach AMT 127\.0\.0\.1:\d+ \(AMT_CONNECT_TIMEOUT\) after 3 attempts of up to 300 ms each, \d+\.\d s in all; /);
    return true;
  });
});

test('anvil amt --timeout bounds an AMT that never answers, or never accepts, and says how long it tried', { timeout: HANG_MS }, async (t) => {
  if (!havePeers(t, 'python3')) return;
  const silent = await silentServer(t);
  let r = await runChild(ANVIL, ['amt', `127.0.0.1:${silent.port}`, 'info', '--timeout', '2'], { password: PASSWORD });
  // Exit 1 is the command's own answer; the fixture kills a child after 30 s (code null).
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /did not answer: 1 attempt of up to 20000 ms each, \d+\.\d s in all \(the overall deadline of 2\.0 s ended the retries\)/);
  assert.doesNotMatch(r.stderr, new RegExp(PASSWORD.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));

  const port = await fullBacklog(t);
  r = await runChild(ANVIL, ['amt', `127.0.0.1:${port}`, 'info', '--timeout', '2'], { password: PASSWORD });
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /cannot reach AMT 127\.0\.0\.1:\d+ \(AMT_CONNECT_TIMEOUT\) after 1 attempt of up to 5000 ms each, \d+\.\d s in all \(the overall deadline of 2\.0 s ended the retries\)/,
  );

  r = await runChild(ANVIL, ['amt', '127.0.0.1', '--timeout', '0'], { password: PASSWORD });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--timeout takes seconds/);
});
