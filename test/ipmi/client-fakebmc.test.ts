// The IPMI client against pyghmi's fakebmc (python3-pyghmi 1.5.34), a BMC anvil did not write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { IpmiClient } from '../../src/protocols/ipmi/client/client.ts';
import { xorshift32 } from '../../src/protocols/testing/prng.ts';
import { havePyghmi, startFakeBmc } from './client-peers.ts';

test('pyghmi fakebmc: suite negotiation, granted-suite check, power and boot device', async (t) => {
  if (!havePyghmi(t)) return;
  const peer = await startFakeBmc(t);
  const client = new IpmiClient({ policy: { timeoutMs: 500, retries: 2 } });
  t.after(() => client.close());

  // Asked for 17, pyghmi grants suite-3 algorithms (ipmi.md §1.4 defect 3): the client must notice and run suite 3.
  const asked17 = client.bmc(peer.target({ cipherSuite: 17 }));
  assert.equal(await asked17.getPowerState(), 'off');
  const wire = asked17.session.wire;
  assert.equal(wire?.version, '2.0');
  assert.equal(wire?.version === '2.0' && wire.suite.id, 3);

  // ipmitool's way: list the suites before a session (fakebmc answers 06/54), then propose the preferred one.
  const listed = client.bmc(peer.target({ cipherSuite: 'list' }));
  assert.equal(await listed.getPowerState(), 'off');
  assert.equal(listed.session.wire?.version === '2.0' && listed.session.wire.suite.id, 3);

  const auto = client.bmc(peer.target());
  await auto.setPower('on');
  assert.equal(await auto.getPowerState(), 'on');
  const again = await auto.setPower('on');
  assert.equal(again.changed, false, 'on when already on sends nothing');
  const off = await auto.setPower('off', { wait: 5000 });
  assert.deepEqual(off, { state: 'off', changed: true });
  assert.equal(await auto.getPowerState(), 'off');

  await auto.setBootDevice('pxe', { persistent: true, efi: true });
  const boot = await auto.getBootDevice();
  assert.equal(boot.device, 'pxe');
  assert.equal(boot.valid, true);

  // pyghmi's 14-byte Get Device ID (defect 1) still decodes.
  const id = await auto.deviceId();
  assert.equal(id.ipmiVersion, '2.0');

  // Unknown commands come back as completion codes in words.
  const raw = await auto.raw(0x06, 0x99);
  assert.equal(raw.completionCode, 0xc1);
  await assert.rejects(auto.send({ name: 'Bogus', netFn: 0x06, cmd: 0x99, data: new Uint8Array(), idempotent: true }), {
    code: 'IPMI_COMPLETION_CODE',
    message: /invalid command/,
  });
});

test('pyghmi fakebmc: wrong password is an authentication error naming host and user, not a timeout', async (t) => {
  if (!havePyghmi(t)) return;
  const peer = await startFakeBmc(t);
  const client = new IpmiClient({ policy: { timeoutMs: 500, retries: 2 } });
  t.after(() => client.close());
  const started = Date.now();
  await assert.rejects(client.bmc(peer.target({ password: 'not-the-password' })).getPowerState(), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'IPMI_AUTH_FAILED');
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${peer.port}`));
    assert.match(error.message, /'admin'/);
    assert.doesNotMatch(error.message, /not-the-password/);
    return true;
  });
  assert.ok(Date.now() - started < 500, 'refused at RAKP2, without waiting for a timeout');
});

test('pyghmi fakebmc: one session per (host, port, user, password, Kg), closed by close()', async (t) => {
  if (!havePyghmi(t)) return;
  const peer = await startFakeBmc(t);
  const client = new IpmiClient();
  const a = client.bmc(peer.target());
  const b = client.bmc(peer.target());
  assert.equal(a.session, b.session);
  assert.notEqual(client.bmc(peer.target({ kg: 'other' })).session, a.session);
  await Promise.all([a.getPowerState(), b.getPowerState(), a.chassisStatus()]);
  assert.equal(a.session.state.kind, 'active');
  await client.close();
  assert.equal(a.session.state.kind, 'closed');
  assert.equal(client.transport.sessions, 0);
});

test('pyghmi fakebmc: an idle session sends a keepalive before the idle limit and stays usable', async (t) => {
  if (!havePyghmi(t)) return;
  const peer = await startFakeBmc(t);
  const client = new IpmiClient({ policy: { keepaliveMs: 300 } });
  t.after(() => client.close());
  const bmc = client.bmc(peer.target());
  await bmc.getPowerState();
  const sent = client.transport.stats.sent;
  const deadline = Date.now() + 5000;
  // Wait for the keepalive's datagram (event-driven polling of the counter, bounded).
  while (client.transport.stats.sent === sent) {
    assert.ok(Date.now() < deadline, 'no keepalive within 5 s');
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(bmc.session.state.kind, 'active');
  assert.equal(await bmc.getPowerState(), 'off');
});

test('random datagrams aimed at the client socket are dropped; the session carries on', async (t) => {
  if (!havePyghmi(t)) return;
  const peer = await startFakeBmc(t);
  const client = new IpmiClient();
  t.after(() => client.close());
  const bmc = client.bmc(peer.target());
  assert.equal(await bmc.getPowerState(), 'off');
  const rogue = createSocket('udp4');
  t.after(() => rogue.close());
  const port = await client.transport.localPort();
  const next = xorshift32(12345);
  const byte = () => next() & 0xff;
  const GARBAGE = 500;
  for (let i = 0; i < GARBAGE; i++) {
    const packet = Buffer.from(Array.from({ length: 1 + (byte() % 80) }, byte));
    // Half look like RMCP+ session packets, so they get past the first checks.
    if (i % 2 === 0 && packet.length > 16) packet.set([0x06, 0x00, 0xff, 0x07, 0x06, 0x40], 0);
    await new Promise<void>((resolve) => rogue.send(packet, port, '127.0.0.1', () => resolve()));
  }
  assert.equal(await bmc.getPowerState(), 'off');
  assert.equal(bmc.session.state.kind, 'active');
  assert.ok(client.transport.stats.unclaimed > 0);
});
