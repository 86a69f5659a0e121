// `anvil amt` as a command: help, usage errors, JSON output, protocol forcing, and errors
// that name the machine but never the password.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryAmtHandler } from '../../src/protocols/amt/index.ts';
import { freeTcpPort } from '../helpers/ports.ts';
import { ANVIL, PASSWORD, runChild, startEmulator } from './fixture.ts';

test('anvil amt --help describes commands, boot devices and the password variable', async () => {
  const r = await runChild(ANVIL, ['amt', '--help']);
  assert.equal(r.code, 0);
  for (const word of [
    'info',
    'powerup',
    'powerdown',
    'powercycle',
    'reset',
    'pxe hd hdsafe cd diag bios',
    'AMT_PASSWORD',
    '--wsman',
    '--soap',
    '--json',
    '--yes',
  ]) {
    assert.ok(r.stdout.includes(word), word);
  }
  const top = await runChild(ANVIL, ['--help']);
  assert.match(top.stdout, /^ {2}amt +Control Intel AMT machines the way amttool does$/m);
  assert.match(top.stdout, /^ {2}bmc amt +Run an emulated Intel AMT/m);
  const bmcHelp = await runChild(ANVIL, ['bmc', 'amt', '--help']);
  assert.equal(bmcHelp.code, 0);
  assert.match(bmcHelp.stdout, /--password-file/);
});

test('anvil amt usage errors exit 2 with a hint', async () => {
  for (const [args, message] of [
    [['amt'], /no host given/],
    [['amt', 'h', 'explode'], /unknown command: explode/],
    [['amt', 'h', 'powerup', 'floppy'], /unknown boot device 'floppy'/],
    [['amt', 'h', 'powerdown', 'pxe'], /powerdown takes no boot device/],
    [['amt', 'h', '--wsman', '--soap'], /exclude each other/],
    [['amt', 'h', 'reset', '--json'], /needs --yes/],
  ] as const) {
    const r = await runChild(ANVIL, [...args], { password: PASSWORD });
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, message);
  }
  const noPassword = await runChild(ANVIL, ['amt', '127.0.0.1', 'info']);
  assert.equal(noPassword.code, 2);
  assert.match(noPassword.stderr, /set AMT_PASSWORD/);
});

test('anvil amt --json over SOAP; power commands with --yes change the machine', async (t) => {
  const handler = new MemoryAmtHandler();
  const { port } = await startEmulator(t, { handler, hostname: 'pc9', domain: 'lab' });
  const info = await runChild(ANVIL, ['amt', `127.0.0.1:${port}`, '--soap', '--json'], { password: PASSWORD });
  assert.equal(info.code, 0, info.stderr);
  const parsed = JSON.parse(info.stdout);
  assert.equal(parsed.protocol, 'soap');
  assert.equal(parsed.hostname, 'pc9');
  assert.equal(parsed.powerStateText, 'S5 (soft-off)');
  const up = await runChild(ANVIL, ['amt', `127.0.0.1:${port}`, 'powerup', 'cd', '-y', '--json'], { password: PASSWORD });
  assert.deepEqual(JSON.parse(up.stdout), { host: '127.0.0.1', protocol: 'wsman', command: 'powerup', bootDevice: 'cd', result: 'success' });
  assert.deepEqual(handler.lastBoot, { action: 'on', device: 'cd' });
  const cycle = await runChild(ANVIL, ['amt', `127.0.0.1:${port}`, 'powercycle', 'hdsafe', '--soap'], { password: PASSWORD, input: 'y\n' });
  assert.equal(cycle.code, 0, cycle.stderr);
  assert.deepEqual(handler.lastBoot, { action: 'cycle', device: 'hdsafe' });
});

test('anvil amt failures: wrong password and unreachable host exit 1 with a coded message, no password shown', async (t) => {
  const { port } = await startEmulator(t);
  const wrong = await runChild(ANVIL, ['amt', `127.0.0.1:${port}`, 'info'], { password: 'WrongPassw0rd' });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /rejected the credentials of user 'admin'.*\[AMT_AUTH\]/);
  assert.doesNotMatch(wrong.stderr + wrong.stdout, /WrongPassw0rd/);
  const closed = await freeTcpPort();
  const unreachable = await runChild(ANVIL, ['amt', `127.0.0.1:${closed}`, 'info'], { password: PASSWORD });
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot reach AMT 127\.0\.0\.1:\d+ \(ECONNREFUSED\) after 5 attempts, \d+\.\d s in all; .*\[AMT_CONNECT\]/);
});

for (const protocol of ['wsman', 'soap'] as const) {
  test(`anvil amt --${protocol}: powerup bios and powercycle hdsafe boot those devices; a plain powerup then boots normally`, async (t) => {
    const { port, handler, emulator } = await startEmulator(t);
    const amt = (...args: string[]) => runChild(ANVIL, ['amt', `127.0.0.1:${port}`, `--${protocol}`, ...args, '-y'], { password: PASSWORD });
    const bios = await amt('powerup', 'bios');
    assert.equal(bios.code, 0, bios.stderr);
    assert.match(bios.stdout, /^result: (ReturnValue 0 \(success\)|pt_status: success)$/m);
    assert.deepEqual(handler.lastBoot, { action: 'on', device: 'bios' });
    const safe = await amt('powercycle', 'hdsafe');
    assert.equal(safe.code, 0, safe.stderr);
    assert.deepEqual(handler.lastBoot, { action: 'cycle', device: 'hdsafe' });
    assert.equal((await amt('powerdown')).code, 0);
    const plain = await amt('powerup');
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(handler.lastBoot, { action: 'on', device: 'default' });
    assert.equal(handler.boots.length, 3);
    if (protocol === 'wsman') {
      // Over WS-Man the options live in AMT_BootSettingData; the plain powerup must not leave them on.
      assert.equal(emulator.boot.settings.get('BIOSSetup'), 'false');
      assert.equal(emulator.boot.settings.get('UseSafeMode'), 'false');
    }
  });
}

test('anvil amt --wsman: after powerup bios, a plain powerup leaves BIOSSetup false', async (t) => {
  const { port, handler, emulator } = await startEmulator(t);
  const amt = (...args: string[]) => runChild(ANVIL, ['amt', `127.0.0.1:${port}`, '--wsman', ...args, '-y'], { password: PASSWORD });
  assert.equal((await amt('powerup', 'bios')).code, 0);
  assert.equal(emulator.boot.settings.get('BIOSSetup'), 'true', 'the emulated firmware leaves it set after the boot');
  assert.equal((await amt('powerdown')).code, 0);
  assert.equal((await amt('powerup')).code, 0);
  assert.equal(emulator.boot.settings.get('BIOSSetup'), 'false');
  assert.deepEqual(handler.lastBoot, { action: 'on', device: 'default' });
});
