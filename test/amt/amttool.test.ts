// Debian's real amttool (the legacy SOAP peer) against anvil's AMT emulator, and anvil's
// amttool-compatible command compared with it byte for byte.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { ANVIL, PASSWORD, perlHasSoapLite, runChild, startEmulator } from './fixture.ts';
import { MemoryAmtHandler } from '../../src/protocols/amt/index.ts';
import type { TestContext } from 'node:test';

function havePeer(t: TestContext): boolean {
  return havePeers(t, 'amttool', 'perl') && requireCondition(t, perlHasSoapLite(), "Perl's SOAP::Lite (Debian libsoap-lite-perl), which amttool needs");
}

const INFO_OFF = `### AMT info on machine '127.0.0.1' ###
AMT version:  6.2.14
Hostname:     lab-desk-7.example.test
Powerstate:   S5 (soft-off)
Remote Control Capabilities:
    IanaOemNumber                   157
    OemDefinedCapabilities          IDER SOL BiosReflash BiosSetup BiosPause 
    SpecialCommandsSupported        PXE-boot HD-boot HD-boot-safemode diag-boot cd-boot 
    SystemCapabilitiesSupported     powercycle powerdown powerup reset 
    SystemFirmwareCapabilities      0
`;
const identity = { amtVersion: '6.2.14', hostname: 'lab-desk-7', domain: 'example.test' } as const;
const confirmed = (command: string): string => `host lab-desk-7.example.test, ${command} [y/N] ? execute: ${command}\nresult: pt_status: success\n`;

test('amttool info shows version, host name, power state and capabilities', async (t) => {
  if (!havePeer(t)) return;
  const { port } = await startEmulator(t, { ...identity, protocols: ['soap'] });
  const result = await runChild('amttool', [`127.0.0.1:${port}`, 'info'], { password: PASSWORD });
  assert.equal(result.stderr, '');
  assert.equal(result.stdout, INFO_OFF);
  assert.equal(result.code, 0);
});

test('amttool powerup, powercycle pxe, reset hd, reset bios, powerdown change the emulated machine', async (t) => {
  if (!havePeer(t)) return;
  const handler = new MemoryAmtHandler();
  const { port } = await startEmulator(t, { ...identity, handler });
  const amttool = (...args: string[]) => runChild('amttool', [`127.0.0.1:${port}`, ...args], { password: PASSWORD, input: 'y\n' });

  let r = await amttool('powerup');
  assert.equal(r.stdout, confirmed('powerup'));
  assert.equal(handler.power, 'on');
  assert.deepEqual(handler.lastBoot, { action: 'on', device: 'default' });

  r = await amttool('powercycle', 'pxe');
  assert.equal(r.stdout, confirmed('powercycle'));
  assert.deepEqual(handler.lastBoot, { action: 'cycle', device: 'pxe' });

  r = await amttool('reset', 'hd');
  assert.equal(r.stdout, confirmed('reset'));
  assert.deepEqual(handler.lastBoot, { action: 'reset', device: 'hd' });

  r = await amttool('reset', 'bios');
  assert.equal(r.stdout, confirmed('reset'));
  assert.deepEqual(handler.lastBoot, { action: 'reset', device: 'bios' });

  r = await amttool('powerdown');
  assert.equal(r.stdout, confirmed('powerdown'));
  assert.equal(handler.power, 'off');
  assert.equal(handler.boots.length, 4);

  r = await amttool('info');
  assert.match(r.stdout, /^Powerstate: {3}S5 \(soft-off\)$/m);
});

test('amttool: a refused command reports its pt_status; "n" cancels; nothing changes', async (t) => {
  if (!havePeer(t)) return;
  const handler = new MemoryAmtHandler();
  const { port } = await startEmulator(t, { ...identity, handler });
  const reset = await runChild('amttool', [`127.0.0.1:${port}`, 'reset'], { password: PASSWORD, input: 'y\n' });
  assert.equal(reset.stdout, 'host lab-desk-7.example.test, reset [y/N] ? execute: reset\nresult: pt_status: not permitted\n');
  const canceled = await runChild('amttool', [`127.0.0.1:${port}`, 'powerup'], { password: PASSWORD, input: 'n\n' });
  assert.equal(canceled.stdout, 'host lab-desk-7.example.test, powerup [y/N] ? canceled\n');
  assert.equal(handler.power, 'off');
  assert.equal(handler.boots.length, 0);
});

test('amttool with a wrong password gets 401 and changes nothing', async (t) => {
  if (!havePeer(t)) return;
  const handler = new MemoryAmtHandler();
  const { port, emulator } = await startEmulator(t, { handler });
  const r = await runChild('amttool', [`127.0.0.1:${port}`, 'powerup'], { password: 'not-the-password', input: 'y\n' });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /401 Unauthorized/);
  assert.equal(handler.power, 'off');
  assert.ok(emulator.stats.unauthorized >= 2, 'challenged, then refused');
});

test('anvil amt --soap prints what amttool prints, byte for byte', async (t) => {
  if (!havePeer(t)) return;
  const handler = new MemoryAmtHandler();
  const { port } = await startEmulator(t, { ...identity, handler });
  const target = `127.0.0.1:${port}`;
  for (const [args, input] of [
    [['info'], ''],
    [['powerup', 'pxe'], 'y\n'],
    [['info'], ''],
    [['powerdown'], 'yes\n'],
    [['reset'], 'y\n'],
    [['powerup'], 'n\n'],
  ] as const) {
    const theirs = await runChild('amttool', [target, ...args], { password: PASSWORD, input });
    // Undo amttool's power change so anvil meets the same machine.
    if (args[0] === 'powerup' && input !== 'n\n') await handler.setPowerState('off', undefined);
    if (args[0] === 'powerdown') await handler.setPowerState('on', undefined);
    const ours = await runChild(ANVIL, ['amt', target, ...args, '--soap'], { password: PASSWORD, input });
    assert.equal(ours.stdout, theirs.stdout, `anvil amt ${args.join(' ')}`);
  }
  assert.deepEqual(handler.boots.filter((b) => b.device === 'pxe').length, 2, 'both tools booted PXE once');
});

test('anvil amt --wsman prints what amttool prints over SOAP: capabilities, power states, pt_status of a refusal', async (t) => {
  if (!havePeer(t)) return;
  const handler = new MemoryAmtHandler();
  // A BIOS without safe mode and diagnostics, so the capability bits are not all set.
  const { port } = await startEmulator(t, { ...identity, handler, bootDevices: ['pxe', 'hd', 'cd', 'bios'] });
  const target = `127.0.0.1:${port}`;
  for (const [args, input] of [
    [['info'], ''],
    [['reset'], 'y\n'],
    [['powerup', 'pxe'], 'y\n'],
    [['info'], ''],
    [['powerup'], 'n\n'],
  ] as const) {
    const theirs = await runChild('amttool', [target, ...args], { password: PASSWORD, input });
    if (args[0] === 'powerup' && input !== 'n\n') await handler.setPowerState('off', undefined);
    const ours = await runChild(ANVIL, ['amt', target, ...args, '--wsman'], { password: PASSWORD, input });
    assert.equal(ours.stdout, theirs.stdout, `anvil amt --wsman ${args.join(' ')}`);
    assert.equal(ours.code, args[0] === 'reset' ? 1 : 0, ours.stderr);
  }
  const info = await runChild(ANVIL, ['amt', target, 'info', '--wsman'], { password: PASSWORD });
  assert.match(info.stdout, /SpecialCommandsSupported {8}PXE-boot HD-boot cd-boot \n/);
  assert.match(info.stdout, /^Powerstate: {3}S0$/m, 'anvil left it on');
  assert.equal(handler.boots.filter((b) => b.device === 'pxe').length, 2, 'both tools booted PXE once');
});
