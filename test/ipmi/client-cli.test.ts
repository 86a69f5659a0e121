// `anvil ipmi` against real BMCs: output identical to ipmitool's for the same commands on
// ipmi_sim, and fleet mode over anvil's own emulator (bin/anvil bmc fake) in another process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { havePeers } from '../helpers/peers.ts';
import { freeUdpPort } from '../helpers/ports.ts';
import { PASSWORD, startIpmiSim, USER } from './client-peers.ts';
import { startFake } from './cli-helpers.ts';

const ANVIL = join(import.meta.dirname, '../../bin/anvil');
const env = { ...process.env, IPMI_PASSWORD: PASSWORD };

/**
 * What legitimately differs between two runs: the console's UDP port in `session info` (each
 * process has its own), and the present countdown of ipmi_sim's watchdog, whose answer stops
 * two bytes short so ipmitool prints whatever its buffer held (we print 0).
 */
function normalise(text: string): string {
  return text
    .replace(/^(console port\s+: )\d+$/m, '$1PORT')
    .replace(/^(1,\d+,\d+,\d+,[A-Z]+,[^,]+,0x\d+,[\d.]+,[\d:a-f]+,)\d+$/m, '$1PORT')
    .replace(/^(Present Countdown: +)[\d.]+ sec$/m, '$1N sec');
}

function anvil(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(ANVIL, ['ipmi', ...args], { env: { ...env, ...extraEnv } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('anvil ipmi prints what ipmitool prints, on ipmi_sim', async (t) => {
  if (!havePeers(t, 'ipmi_sim', 'ipmitool')) return;
  const sim = await startIpmiSim(t);
  const common = ['-I', 'lanplus', '-C', '3', '-H', '127.0.0.1', '-p', String(sim.port), '-U', USER, '-E'];
  const commands = [
    ['power', 'on'],
    ['power', 'status'],
    ['chassis', 'status'],
    ['mc', 'info'],
    ['mc', 'guid'],
    ['user', 'list'],
    ['sdr', 'list'],
    ['sdr', 'elist'],
    ['sdr', 'type', 'Temperature'],
    ['sdr', 'type', '0x23'],
    ['sdr', 'type', 'temp'],
    ['-c', 'sdr', 'list'],
    ['-c', 'sdr', 'elist'],
    ['sensor', 'list'],
    ['-c', 'sensor', 'list'],
    ['sel', 'list'],
    ['sel', 'elist'],
    ['fru', 'print'],
    ['fru', 'list'],
    ['lan', 'print'],
    ['raw', '0x06', '0x01'],
    ['chassis', 'bootparam', 'get', '5'],
    ['channel', 'info'],
    ['channel', 'info', '1'],
    ['session', 'info', 'active'],
    ['-c', 'session', 'info', 'active'],
  ];
  for (const command of commands) {
    const ours = await anvil([...common, ...command]);
    const theirs = spawnSync('ipmitool', [...common, ...command], { env, encoding: 'utf8' });
    assert.equal(ours.code, 0, `${command.join(' ')}: ${ours.stderr}`);
    assert.equal(ours.stdout, theirs.stdout, command.join(' '));
  }
  // ipmi_sim answers Get Watchdog Timer two bytes short: all but the present countdown must agree.
  const watchdog = ['mc', 'watchdog', 'get'];
  const ourWatchdog = await anvil([...common, ...watchdog]);
  const theirWatchdog = spawnSync('ipmitool', [...common, ...watchdog], { env, encoding: 'utf8' });
  assert.equal(ourWatchdog.code, 0, ourWatchdog.stderr);
  assert.equal(normalise(ourWatchdog.stdout), normalise(theirWatchdog.stdout));
  // Commands ipmi_sim does not implement (0xC1): both fail, and neither prints a result.
  for (const command of [
    ['chassis', 'policy', 'list'],
    ['mc', 'selftest'],
  ]) {
    const ours = await anvil([...common, ...command]);
    const theirs = spawnSync('ipmitool', [...common, ...command], { env, encoding: 'utf8' });
    assert.equal(ours.code, 1, command.join(' '));
    assert.notEqual(theirs.status, 0, command.join(' '));
    assert.equal(ours.stdout, theirs.stdout, command.join(' '));
    assert.match(ours.stderr, /completion code 0xc1/);
  }
  // IPMI 1.5 as well.
  const lan = await anvil(['-I', 'lan', '-H', '127.0.0.1', '-p', String(sim.port), '-U', USER, '-E', 'power', 'status']);
  assert.equal(lan.stdout, 'Chassis Power is on\n');
});

test('anvil ipmi: wrong password names host and user, exit 1, password nowhere', async (t) => {
  if (!havePeers(t, 'ipmi_sim')) return;
  const sim = await startIpmiSim(t);
  const r = await anvil(['-C', '3', '-H', '127.0.0.1', '-p', String(sim.port), '-U', USER, '-E', 'power', 'status'], { IPMI_PASSWORD: 'hunter2-wrong' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${sim.port}: login as 'admin' failed`));
  assert.match(r.stderr, /IPMI_AUTH_FAILED/);
  assert.doesNotMatch(r.stderr + r.stdout, /hunter2/);

  // The password from a file (-f), and a lower privilege (-L USER) that still reads power.
  const dir = mkdtempSync(join(tmpdir(), 'anvil-ipmi-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'pw');
  writeFileSync(file, `${PASSWORD}\n`, { mode: 0o600 });
  const fromFile = await anvil(['-C', '3', '-H', '127.0.0.1', '-p', String(sim.port), '-U', USER, '-f', file, '-L', 'USER', 'power', 'status'], {
    IPMI_PASSWORD: '',
  });
  assert.equal(fromFile.stdout, 'Chassis Power is off\n', fromFile.stderr);
  const usage = await anvil(['-H', '127.0.0.1', '-L', 'KING', 'power', 'status']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /privilege level 'KING'/);
});

test('anvil ipmi fleet mode: one line per host over anvil bmc fake, failures per host', async (t) => {
  const port = await freeUdpPort();
  const COUNT = 20;
  const emulator = spawn(ANVIL, ['bmc', 'fake', '--port', String(port), '--count', String(COUNT), '--spread-addresses'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => emulator.once('exit', resolve));
  t.after(async () => {
    emulator.kill('SIGTERM');
    await exited;
  });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`emulator did not start: ${seen}`)), 20_000);
    emulator.stdout.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(`127.0.0.${COUNT}:${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const hosts = `127.0.0.[1-${COUNT}]`;
  const on = await anvil(['-H', hosts, '-p', String(port), '-U', USER, '-E', 'power', 'on']);
  assert.equal(on.code, 0, on.stdout + on.stderr);
  assert.equal(on.stdout.trim().split('\n').length, COUNT);
  const status = await anvil(['-H', hosts, '-p', String(port), '-U', USER, '-E', 'power', 'status']);
  const lines = status.stdout.trim().split('\n').sort();
  assert.deepEqual(lines, Array.from({ length: COUNT }, (_, i) => `127.0.0.${i + 1}: on`).sort());

  // A host that does not answer fails alone; the others still report, and the exit status says so.
  const silent = await freeUdpPort();
  const mixed = await anvil([
    '-N',
    '0.1',
    '-R',
    '1',
    '-H',
    `127.0.0.1:${port},127.0.0.1:${silent},127.0.0.2:${port}`,
    '-U',
    USER,
    '-E',
    '--json',
    'power',
    'status',
  ]);
  assert.equal(mixed.code, 1);
  const results = JSON.parse(mixed.stdout) as { host: string; ok: boolean; code?: string; result?: { power: string } }[];
  assert.equal(results.length, 3);
  assert.equal(results.find((r) => r.host === `127.0.0.1:${silent}`)?.code, 'IPMI_TIMEOUT');
  assert.deepEqual(
    results.filter((r) => r.ok).map((r) => r.result?.power),
    ['on', 'on'],
  );

  const bootdev = await anvil(['-H', hosts, '-p', String(port), '-U', USER, '-E', 'chassis', 'bootdev', 'pxe', 'options=persistent,efiboot']);
  assert.equal(bootdev.code, 0, bootdev.stdout);
  const one = await anvil(['-H', '127.0.0.7', '-p', String(port), '-U', USER, '-E', 'chassis', 'bootparam', 'get', '5']);
  assert.match(one.stdout, /Boot Flag Valid\n   - Options apply to all future boots\n   - BIOS EFI boot \n   - Boot Device Selector : Force PXE/);
});

test('anvil ipmi prints what ipmitool prints, on anvil bmc fake (sensors with fractions, SEL events, front panel, LAN ARP)', async (t) => {
  if (!havePeers(t, 'ipmitool')) return;
  const port = await startFake(t);
  const common = ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', USER, '-E'];
  // Power on and off, so the SEL holds events to list.
  for (const action of ['on', 'off']) assert.equal((await anvil([...common, 'power', action])).code, 0);
  const commands = [
    ['chassis', 'status'],
    ['mc', 'info'],
    ['mc', 'guid'],
    ['sdr', 'list'],
    ['sdr', 'elist'],
    ['sdr', 'type', 'voltage'],
    ['sdr', 'type', 'Fan'],
    ['sdr', 'type'],
    ['-c', 'sdr', 'list'],
    ['sensor', 'list'],
    ['-c', 'sensor', 'list'],
    ['sel', 'info'],
    ['sel', 'list'],
    ['sel', 'elist'],
    ['fru', 'print'],
    ['lan', 'print'],
    ['user', 'list'],
    ['chassis', 'policy', 'list'],
    ['chassis', 'policy', 'previous'],
    ['chassis', 'policy', 'always-on'],
    ['mc', 'selftest'],
    ['mc', 'watchdog', 'get'],
    ['channel', 'info'],
    ['session', 'info', 'active'],
    ['-c', 'session', 'info', 'active'],
  ];
  for (const command of commands) {
    const ours = await anvil([...common, ...command], { TZ: 'UTC' });
    const theirs = spawnSync('ipmitool', [...common, ...command], { env: { ...env, TZ: 'UTC' }, encoding: 'utf8' });
    assert.equal(ours.code, 0, `${command.join(' ')}: ${ours.stderr}`);
    assert.equal(normalise(ours.stdout), normalise(theirs.stdout), command.join(' '));
  }
});
