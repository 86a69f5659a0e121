// The QMP client against a real QEMU (TCG, no disk, no network): connect while QEMU starts,
// commands and their errors, events, quit.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { QmpClient, QmpError, QmpTimeoutError } from '../../src/protocols/qmp/index.ts';
import { havePeers } from '../helpers/peers.ts';

test('QmpClient drives a real QEMU: status, reset, powerdown event, errors, quit', { timeout: 300_000 }, async (t) => {
  if (!havePeers(t, 'qemu-system-x86_64')) return;
  const dir = await mkdtemp(join(tmpdir(), 'anvil-qmp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const socketPath = join(dir, 'qmp.sock');

  // Connecting starts before QEMU has created its socket: connect() must retry.
  const connecting = QmpClient.connect(socketPath, { connectTimeoutMs: 20_000 });
  const qemu = spawn(
    'qemu-system-x86_64',
    ['-machine', 'q35', '-accel', 'tcg', '-m', '64', '-display', 'none', '-nodefaults', '-no-user-config', '-qmp', `unix:${socketPath},server=on,wait=off`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = once(qemu, 'exit');
  t.after(() => {
    if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
  });
  const client = await connecting;
  t.after(() => client.close());

  assert.equal(client.greeting.version.major >= 7, true);
  const status = await client.execute<{ status: string; running: boolean }>('query-status');
  assert.deepEqual({ status: status.status, running: status.running }, { status: 'running', running: true });

  const reset = client.waitForEvent((e) => e.event === 'RESET' && e.data.reason === 'host-qmp-system-reset');
  await client.execute('system_reset');
  assert.equal((await reset).data.guest, false);

  // No guest OS here, so nothing acts on the ACPI power button: QEMU reports it pressed, and runs on.
  const powerdown = client.waitForEvent('POWERDOWN');
  await client.execute('system_powerdown');
  assert.equal((await powerdown).event, 'POWERDOWN');
  assert.equal((await client.execute<{ status: string }>('query-status')).status, 'running');

  await assert.rejects(
    client.execute('no-such-command'),
    (e: unknown) => e instanceof QmpError && e.code === 'QMP_COMMAND_FAILED' && e.errorClass === 'CommandNotFound',
  );
  await assert.rejects(client.waitForEvent('SUSPEND', { timeoutMs: 50 }), (e: unknown) => e instanceof QmpTimeoutError && e.code === 'QMP_TIMEOUT');

  const seen: string[] = [];
  const iterate = (async () => {
    for await (const event of client.events()) seen.push(event.event);
  })();
  const closed = once(client, 'close');
  const shutdown = client.waitForEvent('SHUTDOWN');
  await client.execute('quit');
  assert.equal((await shutdown).data.reason, 'host-qmp-quit');
  await closed;
  await iterate;
  assert.ok(seen.includes('SHUTDOWN'));
  assert.equal(client.closed, true);
  const [code] = await exited;
  assert.equal(code, 0);
});

test('connect gives up with QMP_CONNECT when no QEMU ever creates the socket', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'anvil-qmp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await assert.rejects(
    QmpClient.connect(join(dir, 'absent.sock'), { connectTimeoutMs: 200, retryIntervalMs: 20 }),
    (e: unknown) => (e as { code?: string }).code === 'QMP_CONNECT',
  );
});
