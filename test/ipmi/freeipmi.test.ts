// FreeIPMI (ipmipower, ipmi-chassis, bmc-info, ipmi-sensors) against the emulator over
// IPMI 2.0. FreeIPMI parses replies strictly: pyghmi's 14-byte Get Device ID fails bmc-info.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BmcServer } from '../../src/protocols/ipmi/server/server.ts';
import { MemoryBmcHandler } from '../../src/protocols/ipmi/server/memory-handler.ts';
import { havePeers } from '../helpers/peers.ts';
import { PASSWORD, USER, freeipmi, runPeer, startEmulator } from './emulator-helpers.ts';

test('ipmipower --stat/--on/--off and ipmi-chassis', async (t) => {
  if (!havePeers(t, 'ipmipower', 'ipmi-chassis')) return;
  const { port, handler, server } = await startEmulator(t);
  assert.match((await freeipmi('ipmipower', port, ['--stat'])).stdout, /127\.0\.0\.1: off/);
  assert.match((await freeipmi('ipmipower', port, ['--on'])).stdout, /127\.0\.0\.1: ok/);
  assert.equal(handler.power, 'on');
  assert.match((await freeipmi('ipmipower', port, ['--stat'])).stdout, /127\.0\.0\.1: on/);
  const status = await freeipmi('ipmi-chassis', port, ['--get-chassis-status']);
  assert.match(status.stdout, /System Power\s+: on/);
  assert.match(status.stdout, /Power restore policy\s+: Restore\n/);
  assert.match((await freeipmi('ipmipower', port, ['--off'])).stdout, /127\.0\.0\.1: ok/);
  assert.equal(handler.power, 'off');
  assert.equal(server.stats().badPackets, 0);
  assert.equal(server.stats().activeSessions, 0);
});

test('bmc-info accepts the 15-byte Get Device ID, GUIDs and channel info', async (t) => {
  if (!havePeers(t, 'bmc-info')) return;
  const { port } = await startEmulator(t);
  const info = await freeipmi('bmc-info', port, []);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /Device ID\s+: 32/);
  assert.match(info.stdout, /IPMI Version\s+: 2\.0/);
  assert.match(info.stdout, /SDR Repository Device\s+: supported/);
  assert.match(info.stdout, /System GUID\s+: [0-9a-f-]{36}/);
  assert.match(info.stdout, /Medium Type\s+: 802\.3 LAN/);
});

test('ipmi-sensors reads the SDR and the readings', async (t) => {
  if (!havePeers(t, 'ipmi-sensors')) return;
  const { port } = await startEmulator(t);
  // A private SDR cache directory, so parallel tests and earlier runs do not interfere.
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const cache = mkdtempSync(join(tmpdir(), 'anvil-sdr-'));
  t.after(() => rmSync(cache, { recursive: true, force: true }));
  const sensors = await freeipmi('ipmi-sensors', port, ['--sdr-cache-directory', cache, '--quiet-cache']);
  assert.equal(sensors.code, 0, sensors.stderr);
  assert.match(sensors.stdout, /CPU Temp\s+\| Temperature\s+\| 42\.00\s+\| C\s+\| 'OK'/);
  assert.match(sensors.stdout, /12V\s+\| Voltage\s+\| 12\.00\s+\| V\s+\| 'OK'/);
  assert.match(sensors.stdout, /Fan 1\s+\| Fan\s+\| 4800\.00\s+\| RPM\s+\| 'OK'/);
});

test('one ipmipower call drives a fleet of 20 BMCs hosted in one process', async (t) => {
  if (!havePeers(t, 'ipmipower')) return;
  const server = new BmcServer();
  t.after(() => server.close());
  const handlers: MemoryBmcHandler[] = [];
  const hosts: string[] = [];
  for (let i = 0; i < 20; i++) {
    const handler = new MemoryBmcHandler({ user: USER, password: PASSWORD, serial: `FLEET${i}` });
    handlers.push(handler);
    const { port } = await server.add({ handler });
    hosts.push(`127.0.0.1:${port}`);
  }
  const on = await runPeer('ipmipower', ['-h', hosts.join(','), '-u', USER, '-p', PASSWORD, '-D', 'LAN_2_0', '--on']);
  assert.equal(
    on.stdout
      .trim()
      .split('\n')
      .filter((l) => / ok$/.test(l)).length,
    20,
    on.stdout + on.stderr,
  );
  assert.ok(handlers.every((h) => h.power === 'on'));
  const stat = await runPeer('ipmipower', ['-h', hosts.join(','), '-u', USER, '-p', PASSWORD, '-D', 'LAN_2_0', '--stat']);
  assert.equal(
    stat.stdout
      .trim()
      .split('\n')
      .filter((l) => / on$/.test(l)).length,
    20,
  );
  assert.equal(server.stats().activeSessions, 0);
});

test('ipmi-sel, ipmi-fru and ipmi-config read the SEL, FRU and boot flags', async (t) => {
  if (!havePeers(t, 'ipmi-sel', 'ipmi-fru', 'ipmi-config', 'ipmipower')) return;
  const { port } = await startEmulator(t);
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const cache = mkdtempSync(join(tmpdir(), 'anvil-sdr-'));
  t.after(() => rmSync(cache, { recursive: true, force: true }));
  const cacheArgs = ['--sdr-cache-directory', cache, '--quiet-cache'];
  await freeipmi('ipmipower', port, ['--on']);
  const sel = await freeipmi('ipmi-sel', port, cacheArgs);
  assert.equal(sel.code, 0, sel.stderr);
  assert.match(sel.stdout, /Power Unit\s+\| Power Off\/Power Down/);
  const fru = await freeipmi('ipmi-fru', port, cacheArgs);
  assert.match(fru.stdout, /FRU Product Name: Emulated Server/);
  assert.match(fru.stdout, /FRU Board Serial Number: ANVIL0001/);
  const set = await freeipmi('ipmi-config', port, [
    '--category=chassis',
    '--commit',
    '-e',
    'Chassis_Boot_Flags:Boot_Device=PXE',
    '-e',
    'Chassis_Boot_Flags:Boot_Flags_Persistent=Yes',
    '-e',
    'Chassis_Boot_Flags:BIOS_Boot_Type=EFI',
  ]);
  assert.equal(set.code, 0, set.stdout + set.stderr);
  const flags = await freeipmi('ipmi-config', port, ['--category=chassis', '--checkout', '-S', 'Chassis_Boot_Flags']);
  assert.match(flags.stdout, /Boot_Flags_Persistent\s+Yes/);
  assert.match(flags.stdout, /BIOS_Boot_Type\s+EFI/);
  assert.match(flags.stdout, /Boot_Device\s+PXE/);
});
