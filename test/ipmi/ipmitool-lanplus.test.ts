// ipmitool -I lanplus (RMCP+) against the emulator, with cipher suites 3 and 17 and with
// ipmitool's own choice (which asks Get Channel Cipher Suites before the session).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { havePeers } from '../helpers/peers.ts';
import { ipmitool, startEmulator } from './emulator-helpers.ts';

for (const [label, extra] of [
  ['-C 3', ['-C', '3']],
  ['-C 17', ['-C', '17']],
  ['no -C', []],
] as const) {
  test(`ipmitool lanplus ${label}: power, chassis, boot flags, identity`, async (t) => {
    if (!havePeers(t, 'ipmitool')) return;
    const { port, handler, server } = await startEmulator(t);
    const run = (...args: string[]) => ipmitool(port, 'lanplus', args, extra);

    const started = Date.now();
    assert.match((await run('power', 'status')).stdout, /Chassis Power is off/);
    // Without -C ipmitool first asks for the cipher suites; an unanswered request costs it 10 s.
    assert.ok(Date.now() - started < 3000, `power status took ${Date.now() - started} ms`);
    assert.match((await run('power', 'on')).stdout, /Up\/On/);
    assert.equal(handler.power, 'on');
    assert.match((await run('power', 'status')).stdout, /Chassis Power is on/);
    assert.match((await run('power', 'cycle')).stdout, /Cycle/);
    assert.match((await run('power', 'off')).stdout, /Down\/Off/);
    assert.deepEqual(handler.powerLog, ['on', 'cycle', 'off']);
    assert.match((await run('chassis', 'status')).stdout, /System Power\s+: off/);

    assert.match((await run('chassis', 'bootdev', 'pxe', 'options=persistent,efiboot')).stdout, /Set Boot Device to pxe/);
    const flags = await run('chassis', 'bootparam', 'get', '5');
    assert.match(flags.stdout, /Boot parameter data: e004000000/);
    assert.match(flags.stdout, /Options apply to all future boots/);
    assert.match(flags.stdout, /BIOS EFI boot/);
    assert.match(flags.stdout, /Force PXE/);
    assert.deepEqual([...handler.bootFlags], [0xe0, 0x04, 0, 0, 0]);

    const info = await run('mc', 'info');
    assert.match(info.stdout, /IPMI Version\s+: 2\.0/);
    assert.match(info.stdout, /Firmware Revision\s+: 1\.00/);
    const guid = await run('mc', 'guid');
    assert.match(guid.stdout, /System GUID\s+: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/);
    assert.match(guid.stdout, /GUID Encoding\s+: IPMI\n/);
    const raw = await run('raw', '0x06', '0x01');
    assert.equal(raw.stdout.trim().split(/\s+/).length, 15, 'Get Device ID answers 15 bytes');

    const stats = server.stats();
    assert.equal(stats.badPackets, 0);
    assert.equal(stats.activeSessions, 0, 'ipmitool closed every session');
    assert.equal(stats.sessionsClosed, stats.sessionsOpened);
  });
}

test('ipmitool lanplus: users, SDR, sensors, SEL, FRU, LAN', async (t) => {
  if (!havePeers(t, 'ipmitool')) return;
  const { port, handler } = await startEmulator(t);
  const run = (...args: string[]) => ipmitool(port, 'lanplus', args, ['-C', '17']);

  const session = await run('session', 'info', 'active');
  assert.match(session.stdout, /session type\s+: IPMIv2\/RMCP\+/);
  assert.match(session.stdout, /privilege level\s+: ADMINISTRATOR/);
  const users = await run('user', 'list');
  assert.match(users.stdout, /^2\s+admin\s+true\s+true\s+true\s+ADMINISTRATOR/m);
  assert.match((await run('user', 'set', 'name', '3', 'operator1')).stderr, /^$/);
  assert.equal((await run('user', 'set', 'password', '3', 'op-secret')).code, 0);
  assert.equal((await run('user', 'priv', '3', '3', '1')).code, 0);
  assert.equal((await run('user', 'enable', '3')).code, 0);
  assert.match((await run('user', 'test', '3', '16', 'op-secret')).stdout, /Success/);
  assert.match((await run('user', 'test', '3', '16', 'wrong')).stdout + (await run('user', 'test', '3', '16', 'wrong')).stderr, /Failure/);
  assert.match((await run('user', 'list')).stdout, /^3\s+operator1\s+.*OPERATOR/m);
  const op = handler.users()[2];
  assert.equal(op?.name, 'operator1');
  assert.equal(op?.password.toString(), 'op-secret');

  const sdr = await run('sdr', 'list');
  assert.match(sdr.stdout, /CPU Temp\s+\| 42 degrees C\s+\| ok/);
  assert.match(sdr.stdout, /Fan 1\s+\| 4800 RPM\s+\| ok/);
  handler.setReading(0x01, 99);
  const sensors = await run('sensor', 'list');
  assert.match(sensors.stdout, /CPU Temp\s+\| 99\.000\s+\| degrees C\s+\| cr\s+\| 0\.000\s+\| 0\.000\s+\| 5\.000\s+\| 85\.000\s+\| 95\.000\s+\| 105\.000/);

  await run('power', 'on');
  const sel = await run('sel', 'list');
  assert.match(sel.stdout, /Power Unit #0x50 \| Power off\/down \| Deasserted/);
  assert.match((await run('sel', 'clear')).stdout, /Clearing SEL/);
  assert.match((await run('sel', 'list')).stdout + (await run('sel', 'list')).stderr, /SEL has no entries/);
  assert.equal(handler.selEntries().length, 0);

  const fru = await run('fru', 'print');
  assert.match(fru.stdout, /Product Name\s+: Emulated Server/);
  assert.match(fru.stdout, /Board Mfg Date\s+: Mon Jan\s+1 00:00:00 2024/);

  assert.equal((await run('lan', 'set', '1', 'ipaddr', '192.0.2.7')).code, 0);
  const lan = await run('lan', 'print', '1');
  assert.match(lan.stdout, /IP Address\s+: 192\.0\.2\.7/);
  assert.match(lan.stdout, /MAC Address\s+: 52:54:00:12:34:56/);
  assert.match(lan.stdout, /RMCP\+ Cipher Suites\s+: 17,3,16,15,2,1/);
});

test('the BMC grants only suites it offers: status 0x11 otherwise, and a wrong password fails', async (t) => {
  if (!havePeers(t, 'ipmitool')) return;
  const { port, server } = await startEmulator(t, { cipherSuites: [3] });
  assert.match((await ipmitool(port, 'lanplus', ['power', 'status'], ['-C', '3'])).stdout, /Chassis Power is off/);
  const refused = await ipmitool(port, 'lanplus', ['power', 'status'], ['-C', '17']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /no matching cipher suite/i);
  // ipmitool's automatic choice reads the list and picks 3.
  assert.match((await ipmitool(port, 'lanplus', ['power', 'status'])).stdout, /Chassis Power is off/);

  const wrong = await ipmitool(port, 'lanplus', ['-P', 'not-the-password', 'power', 'status'], ['-C', '3']);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /Unable to establish IPMI v2 \/ RMCP\+ session/);
  const stranger = await ipmitool(port, 'lanplus', ['-U', 'nobody', 'power', 'status'], ['-C', '3']);
  assert.notEqual(stranger.code, 0);
  assert.equal(server.stats().activeSessions, 0);
});

test('ipmitool lanplus: SEL time, thresholds, resets, boot parameters 0/3/4, identify, soft and reset', async (t) => {
  if (!havePeers(t, 'ipmitool')) return;
  const { port, handler } = await startEmulator(t);
  const run = (...args: string[]) => ipmitool(port, 'lanplus', args, ['-C', '3']);

  // Set SEL Time takes seconds since 1970, little-endian (§31.11).
  const when = Date.UTC(2030, 0, 2, 3, 4, 5) / 1000;
  const bytes = [when & 0xff, (when >> 8) & 0xff, (when >> 16) & 0xff, (when >>> 24) & 0xff].map((b) => `0x${b.toString(16)}`);
  assert.equal((await run('raw', '0x0a', '0x49', ...bytes)).code, 0);
  assert.match((await run('sel', 'time', 'get')).stdout, /01\/02\/30 03:04:0\d UTC/);

  assert.match((await run('sensor', 'thresh', 'CPU Temp', 'ucr', '90')).stdout, /Upper Critical threshold to 90\.000/);
  assert.match((await run('sensor', 'get', 'CPU Temp')).stdout, /Upper Critical\s+: 90\.000/);
  assert.equal(handler.sensors()[0]?.thresholds.ucr, 90);

  assert.match((await run('mc', 'reset', 'warm')).stdout, /Sent warm reset command to MC/);
  assert.match((await run('mc', 'reset', 'cold')).stdout, /Sent cold reset command to MC/);

  assert.match((await run('chassis', 'bootparam', 'get', '0')).stdout, /Set In Progress : set complete/);
  await run('chassis', 'bootdev', 'cdrom');
  // ipmitool's bootdev writes parameter 4 = [01 01] before the flags; it reads back as written.
  assert.match((await run('chassis', 'bootparam', 'get', '4')).stdout, /Boot parameter data: 0101/);
  assert.match((await run('chassis', 'bootparam', 'get', '3')).stdout, /Boot parameter 3 is valid/);
  assert.deepEqual([...handler.bootFlags], [0x80, 0x14, 0, 0, 0], 'one-time CD-ROM boot');
  // A one-time boot device is used up by the next power-on (§28.12): the valid bit clears.
  await run('power', 'on');
  assert.equal((handler.bootFlags[0] as number) & 0x80, 0);

  assert.match((await run('chassis', 'identify')).stdout, /Chassis identify interval: default/);
  assert.match((await run('power', 'reset')).stdout, /Reset/);
  assert.match((await run('power', 'soft')).stdout, /Soft/);
  assert.equal(handler.power, 'off');
  assert.deepEqual(handler.powerLog.slice(-2), ['reset', 'soft-off']);
});

test('two-key login: with a BMC key Kg set, ipmitool needs -k', async (t) => {
  if (!havePeers(t, 'ipmitool')) return;
  const { port } = await startEmulator(t, { kg: Buffer.from('bmc-key-kg') });
  assert.match((await ipmitool(port, 'lanplus', ['power', 'status'], ['-C', '17', '-k', 'bmc-key-kg'])).stdout, /Chassis Power is off/);
  assert.match((await ipmitool(port, 'lanplus', ['power', 'status'], ['-C', '3', '-k', 'bmc-key-kg'])).stdout, /Chassis Power is off/);
  const without = await ipmitool(port, 'lanplus', ['power', 'status'], ['-C', '3']);
  assert.notEqual(without.code, 0);
});

test('every implemented cipher suite logs in with ipmitool (0, 1, 2, 3, 6, 7, 8, 15, 16, 17)', async (t) => {
  if (!havePeers(t, 'ipmitool')) return;
  const all = [17, 3, 16, 15, 8, 7, 6, 2, 1, 0];
  const { port, server } = await startEmulator(t, { cipherSuites: all });
  for (const suite of all) {
    const r = await ipmitool(port, 'lanplus', ['power', 'status'], ['-C', String(suite)]);
    assert.match(r.stdout, /Chassis Power is off/, `suite ${suite}: ${r.stderr}`);
  }
  assert.equal(server.stats().badPackets, 0);
  assert.equal(server.stats().sessionsOpened, all.length);
  assert.equal(server.stats().activeSessions, 0);
});
