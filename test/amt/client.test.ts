// anvil's AMT clients (WS-Management, legacy SOAP, and the detecting AmtClient) against the
// AMT emulator over real sockets: power, one-time boot devices, digest nonce reuse and
// stale nonces, wrong passwords, and an AMT that is asleep or unreachable.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import {
  ALL_POWER_ACTIONS,
  AmtAuthError,
  AmtClient,
  AmtConnectError,
  AmtEmulator,
  AmtUnsupportedError,
  MemoryAmtHandler,
} from '../../src/protocols/amt/index.ts';
import type { AmtClientOptions, AmtEndpoint } from '../../src/protocols/amt/index.ts';
import { freeTcpPort } from '../helpers/ports.ts';
import { PASSWORD, startEmulator } from './fixture.ts';

/** Retries without real waiting: the tests drive time through this. */
const noWait = async (): Promise<void> => {};

function client(t: TestContext, port: number, options: AmtClientOptions = {}, endpoint: Partial<AmtEndpoint> = {}): AmtClient {
  const c = new AmtClient({ host: '127.0.0.1', port, password: PASSWORD, ...endpoint }, { sleep: noWait, ...options });
  t.after(() => c.close());
  return c;
}

for (const protocol of ['wsman', 'soap'] as const) {
  test(`${protocol}: power on with a one-time PXE boot, reset, cycle, off`, async (t) => {
    const handler = new MemoryAmtHandler();
    const { port } = await startEmulator(t, { handler });
    const amt = client(t, port, { protocol });
    assert.equal(await amt.protocol(), protocol);
    assert.equal(await amt.getPowerState(), 'off');

    amt.setNextBoot('pxe');
    assert.equal(amt.getNextBoot(), 'pxe');
    await amt.setPowerState('on');
    assert.equal(await amt.getPowerState(), 'on');
    assert.deepEqual(handler.lastBoot, { action: 'on', device: 'pxe' });
    assert.equal(amt.getNextBoot(), undefined, 'spent by the boot');

    await amt.setPowerState('reset');
    assert.deepEqual(handler.lastBoot, { action: 'reset', device: 'default' }, 'one-time means once');
    amt.setNextBoot('cd');
    await amt.setPowerState('cycle');
    assert.deepEqual(handler.lastBoot, { action: 'cycle', device: 'cd' });
    await amt.setPowerState('off');
    assert.equal(await amt.getPowerState(), 'off');
    assert.equal(handler.power, 'off');

    const info = await amt.info();
    assert.equal(info.protocol, protocol);
    assert.equal(info.version, '8.1.20');
    assert.equal(info.powerState, 'off');
    assert.equal(`${info.hostname}.${info.domain}`, 'amt-emulator.localdomain');
  });
}

test('auto-detection: WS-Man when offered, SOAP for an AMT older than 6', async (t) => {
  const both = await startEmulator(t);
  assert.equal(await client(t, both.port).protocol(), 'wsman');
  const wsmanOnly = await startEmulator(t, { protocols: ['wsman'] });
  assert.equal(await client(t, wsmanOnly.port).protocol(), 'wsman');
  const old = await startEmulator(t, { protocols: ['soap'], amtVersion: '5.2.1' });
  const amt = client(t, old.port);
  assert.equal(await amt.protocol(), 'soap');
  await amt.setPowerState('on');
  assert.equal(old.handler.power, 'on');
  assert.equal((await amt.info()).version, '5.2.1');
  const modern = await startEmulator(t, { protocols: ['wsman'] });
  await assert.rejects(
    client(t, modern.port, { protocol: 'soap' }).getPowerState(),
    (e: unknown) => e instanceof AmtUnsupportedError && /no RemoteControlService/.test(e.message),
  );
});

test('digest: one challenge, then the nonce is reused; a stale nonce is renewed without failing', async (t) => {
  const { port, emulator } = await startEmulator(t);
  const amt = client(t, port, { protocol: 'wsman' });
  for (let i = 0; i < 4; i++) await amt.getPowerState();
  assert.equal(emulator.stats.unauthorized, 1, 'only the first request was challenged');
  emulator.expireNonces();
  await amt.setPowerState('on');
  assert.equal(emulator.stats.unauthorized, 2, 'stale=true answered once');
  assert.equal(await amt.getPowerState(), 'on');
});

test('a wrong password is an AMT_AUTH error naming host and user, never the password', async (t) => {
  const { port, handler } = await startEmulator(t);
  for (const protocol of ['wsman', 'soap', 'auto'] as const) {
    const amt = client(t, port, { protocol }, { password: 'hunter2-wrong', user: 'operator' });
    await assert.rejects(amt.setPowerState('on'), (e: unknown) => {
      assert.ok(e instanceof AmtAuthError);
      assert.equal(e.code, 'AMT_AUTH');
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(e.message, /'operator'/);
      assert.doesNotMatch(e.message, /hunter2/);
      return true;
    });
  }
  assert.equal(handler.power, 'off');
});

test('graceful power states are sent only where PowerStatesSupported offers them', async (t) => {
  const basic = await startEmulator(t, { handler: new MemoryAmtHandler({ power: 'on' }) });
  await assert.rejects(client(t, basic.port, { protocol: 'wsman' }).setPowerState('soft-off'), { code: 'AMT_UNSUPPORTED' });
  assert.equal(basic.handler.power, 'on');
  const modern = await startEmulator(t, { handler: new MemoryAmtHandler({ power: 'on', actions: ALL_POWER_ACTIONS }) });
  const amt = client(t, modern.port, { protocol: 'wsman' });
  assert.ok((await amt.wsman.getSupportedPowerStates()).includes(12));
  await amt.setPowerState('soft-off');
  assert.equal(modern.handler.power, 'off');
  await assert.rejects(client(t, basic.port, { protocol: 'soap' }).setPowerState('soft-off'), { code: 'AMT_UNSUPPORTED' });
});

test('AMT refusals are AMT_FAILURE with the value: ReturnValue over WS-Man, PT_STATUS over SOAP', async (t) => {
  const { port } = await startEmulator(t);
  await assert.rejects(client(t, port, { protocol: 'wsman' }).setPowerState('reset'), { code: 'AMT_FAILURE', returnValue: 2 });
  await assert.rejects(client(t, port, { protocol: 'soap' }).setPowerState('reset'), { code: 'AMT_FAILURE', returnValue: 0x10 });
});

for (const protocol of ['wsman', 'soap'] as const) {
  test(`${protocol}: BIOS setup and safe mode for the next boot, then normal boots`, async (t) => {
    const { port, handler, emulator } = await startEmulator(t);
    const amt = client(t, port, { protocol });
    amt.setNextBoot('bios');
    await amt.setPowerState('on');
    assert.deepEqual(handler.lastBoot, { action: 'on', device: 'bios' });
    amt.setNextBoot('hdsafe');
    await amt.setPowerState('cycle');
    assert.deepEqual(handler.lastBoot, { action: 'cycle', device: 'hdsafe' });
    await amt.setPowerState('reset');
    assert.deepEqual(handler.lastBoot, { action: 'reset', device: 'default' });
    if (protocol === 'wsman') {
      assert.equal(emulator.boot.settings.get('UseSafeMode'), 'false', 'the plain reset turned safe mode off again');
      assert.equal(emulator.boot.settings.get('BIOSSetup'), 'false');
    }
  });
}

test('a boot device the BIOS does not offer is refused before anything changes: AMT_UNSUPPORTED over WS-Man, PT_STATUS 0x802 over SOAP', async (t) => {
  // As an AMT 16 that reports ForceHardDriveSafeModeBoot and ForceDiagnosticBoot false.
  const { port, handler, emulator } = await startEmulator(t, { bootDevices: ['pxe', 'hd', 'cd', 'bios'] });
  const wsman = client(t, port, { protocol: 'wsman' });
  wsman.setNextBoot('hdsafe');
  await assert.rejects(wsman.setPowerState('on'), {
    code: 'AMT_UNSUPPORTED',
    message: /cannot boot 'hdsafe': its BIOS does not offer it \(AMT_BootCapabilities\.ForceHardDriveSafeModeBoot is false\)/,
  });
  assert.equal(emulator.boot.settings.get('UseSafeMode'), 'false');
  assert.equal(emulator.boot.pending, undefined);
  const soap = client(t, port, { protocol: 'soap' });
  soap.setNextBoot('diag');
  await assert.rejects(soap.setPowerState('on'), { code: 'AMT_FAILURE', returnValue: 0x802 });
  assert.equal((await soap.info()).capabilities?.specialCommandsSupported, 0x1300, 'PXE, HD and CD only');
  assert.deepEqual(handler.boots, []);
  wsman.setNextBoot('bios');
  await wsman.setPowerState('on');
  assert.deepEqual(handler.lastBoot, { action: 'on', device: 'bios' });
});

test('wsman: BIOS setup asked for while another boot source is pending clears that source first', async (t) => {
  const { port, handler, emulator } = await startEmulator(t);
  const amt = client(t, port, { protocol: 'wsman' });
  // A PXE boot set up but never used: AMT keeps its source, and BIOSSetup may be set only without one.
  await amt.wsman.setNextBoot('pxe');
  assert.equal(emulator.boot.pending, 'pxe');
  await amt.wsman.setNextBoot('bios');
  assert.equal(emulator.boot.pending, 'bios');
  await amt.wsman.requestPowerStateChange('on');
  assert.deepEqual(handler.lastBoot, { action: 'on', device: 'bios' });
  assert.equal(emulator.boot.settings.get('BIOSSetup'), 'true', 'this emulated firmware leaves the option set after the boot');
  await amt.setPowerState('off');
  await amt.setPowerState('on');
  assert.deepEqual(handler.lastBoot, { action: 'on', device: 'default' });
  assert.equal(emulator.boot.settings.get('BIOSSetup'), 'false', 'a boot without a device resets it');
});

test('an unreachable AMT is retried with growing delays, then AMT_CONNECT', async (t) => {
  const port = await freeTcpPort();
  const delays: number[] = [];
  const amt = client(t, port, { sleep: async (ms) => void delays.push(ms), connectAttempts: 5, retryDelayMs: 100, retryMaxDelayMs: 300 });
  await assert.rejects(amt.getPowerState(), (e: unknown) => {
    assert.ok(e instanceof AmtConnectError);
    assert.equal(e.attempts, 5);
    assert.match(e.message, /ECONNREFUSED/);
    return true;
  });
  assert.deepEqual(delays, [100, 200, 300, 300]);
});

test('an AMT whose interface wakes up after a while is reached by the retries', async (t) => {
  const port = await freeTcpPort();
  const handler = new MemoryAmtHandler();
  let emulator: AmtEmulator | undefined;
  t.after(() => emulator?.close());
  let waits = 0;
  // The AMT "wakes up" during the second wait: the first two connections are refused.
  const sleep = async (): Promise<void> => {
    if (++waits === 2) {
      emulator = new AmtEmulator({ password: PASSWORD, port, address: '127.0.0.1', handler });
      await emulator.listen();
    }
  };
  const amt = client(t, port, { sleep, protocol: 'wsman' });
  await amt.setPowerState('on');
  assert.equal(waits, 2);
  assert.equal(handler.power, 'on');
});

test('a request that may have arrived is resent only if it is idempotent', async (t) => {
  // A server that accepts each connection and drops it once the request arrives (ECONNRESET).
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.once('data', () => socket.resetAndDestroy());
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
  const port = (server.address() as { port: number }).port;
  const options = { protocol: 'wsman' as const, connectAttempts: 3 };
  await assert.rejects(client(t, port, options).wsman.requestPowerStateChange('reset'), { code: 'AMT_CONNECT' });
  assert.equal(connections, 1, 'reset is not resent');
  await assert.rejects(client(t, port, options).wsman.requestPowerStateChange('on'), { code: 'AMT_CONNECT' });
  assert.equal(connections, 4, 'power on is resent');
});

test('no answer within requestTimeoutMs is AMT_TIMEOUT', async (t) => {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as { port: number }).port;
  await assert.rejects(client(t, port, { protocol: 'soap', requestTimeoutMs: 200 }).soap.remoteControl('powercycle'), { code: 'AMT_TIMEOUT' });
});

test('SOAP faults are AMT_FAILURE carrying the fault code, on both protocols', async (t) => {
  const broken = new MemoryAmtHandler();
  broken.getPowerState = async () => {
    throw new Error('machine unplugged');
  };
  const { port } = await startEmulator(t, { handler: broken });
  await assert.rejects(
    client(t, port, { protocol: 'wsman' }).getPowerState(),
    (e: unknown) =>
      (e as { code?: string }).code === 'AMT_FAILURE' &&
      (e as { faultCode?: string }).faultCode === 'w:InternalError' &&
      /machine unplugged/.test((e as Error).message),
  );
  await assert.rejects(client(t, port, { protocol: 'soap' }).getPowerState(), { code: 'AMT_FAILURE', faultCode: 'SOAP-ENV:Server' });
});
