// `anvil bmc redfish` and `anvil redfish` as commands: the emulator started as a process on a
// free port with its certificate written out, driven by `anvil redfish` the way redfishtool is
// used (Systems reset On, setBootOverride Once Pxe, raw GET/PATCH/POST, --json), the password
// from a file, and errors that are clear and never hold the password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANVIL, exec, tempDir } from '../helpers/anvil-process.ts';
import { havePeers } from '../helpers/peers.ts';
import { RedfishClient } from '../../src/protocols/redfish/index.ts';

const PASSWORD = 'Rf-Cli-Pass-1';

async function startBmc(t: { after: (fn: () => Promise<void>) => void }, dir: string): Promise<string> {
  writeFileSync(join(dir, 'pw'), `${PASSWORD}\n`);
  const child = spawn(ANVIL, ['bmc', 'redfish', '--port', '0', '--password-file', join(dir, 'pw'), '--cert-out', join(dir, 'bmc.pem')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(async () => {
    if (child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  });
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`anvil bmc redfish did not start: ${text}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /listening on https:\/\/(\S+) /.exec(text);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`anvil bmc redfish exited ${code}: ${text}`)));
  });
}

test('anvil redfish --help and anvil bmc redfish --help say what they do', async () => {
  const r = await exec(ANVIL, ['redfish', '--help']);
  assert.equal(r.code, 0);
  for (const word of ['setBootOverride', 'reset TYPE', 'raw GET|PATCH|POST|DELETE', 'REDFISH_PASSWORD', '--json', '--pin', '--insecure', 'VirtualMedia insert'])
    assert.ok(r.stdout.includes(word), word);
  const b = await exec(ANVIL, ['bmc', 'redfish', '--help']);
  assert.equal(b.code, 0);
  assert.match(b.stdout, /--cert-out/);
});

test('anvil redfish drives anvil bmc redfish: reset On, setBootOverride Once Pxe, raw, --json, errors', async (t) => {
  if (!havePeers(t, 'openssl')) return;
  const dir = tempDir();
  const host = await startBmc(t, dir);
  const base = ['redfish', '-r', host, '-u', 'admin', '-P', join(dir, 'pw'), '--ca', join(dir, 'bmc.pem')];
  let r = await exec(ANVIL, [...base, 'Systems', 'setBootOverride', 'Once', 'Pxe']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /boot override: Pxe Once/);
  r = await exec(ANVIL, [...base, 'Systems', 'reset', 'On']);
  assert.equal(r.code, 0, r.stderr);
  r = await exec(ANVIL, [...base, '--json', 'Systems']);
  assert.equal(r.code, 0, r.stderr);
  const system = JSON.parse(r.stdout);
  assert.equal(system.PowerState, 'On');
  assert.equal(system.Boot.BootSourceOverrideEnabled, 'Disabled', 'the one-time override was used by the power-on');
  r = await exec(ANVIL, [...base, 'Systems']);
  assert.match(r.stdout, /PowerState +On/);
  r = await exec(ANVIL, [
    ...base,
    'raw',
    'PATCH',
    '/redfish/v1/Systems/1',
    '{"Boot":{"BootSourceOverrideTarget":"Hdd","BootSourceOverrideEnabled":"Continuous"}}',
  ]);
  assert.equal(r.code, 0, r.stderr);
  r = await exec(ANVIL, [...base, 'raw', 'GET', '/redfish/v1/Systems/1']);
  assert.equal(JSON.parse(r.stdout).Boot.BootSourceOverrideTarget, 'Hdd');
  r = await exec(ANVIL, [...base, 'raw', 'POST', '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset', '{"ResetType":"ForceOff"}']);
  assert.equal(r.code, 0, r.stderr);
  r = await exec(ANVIL, [...base, 'Systems', 'reset', 'Suspend']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /does not allow ResetType Suspend/);
  r = await exec(ANVIL, [...base, 'Systems', 'setBootOverride', 'Once', 'Floppy']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /cannot boot from Floppy; it allows None, Pxe/);
  r = await exec(ANVIL, ['redfish', '-r', host, '-u', 'admin', '--ca', join(dir, 'bmc.pem'), 'Systems'], { REDFISH_PASSWORD: 'Not-It-7' });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /HTTP 401/);
  assert.doesNotMatch(r.stderr + r.stdout, /Not-It-7/);
  r = await exec(ANVIL, ['redfish', '-r', host, '-u', 'admin', '-P', join(dir, 'pw'), 'Systems']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /the TLS certificate did not verify/);
  r = await exec(ANVIL, [...base, 'Systems', 'explode']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown Systems command 'explode'/);
});

/** `anvil bmc redfish --count N` from a random port below the ephemeral range; another try if something holds it. */
async function startFleet(t: { after: (fn: () => Promise<void>) => void }, dir: string, count: number): Promise<{ base: number; lines: string[] }> {
  for (let attempt = 0; ; attempt++) {
    const base = 21_000 + Math.floor(Math.random() * 10_000);
    const child = spawn(
      ANVIL,
      ['bmc', 'redfish', '--port', String(base), '--count', String(count), '--password-file', join(dir, 'pw'), '--cert-out', join(dir, 'bmc.pem')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.after(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    });
    let text = '';
    let errors = '';
    child.stderr.on('data', (d: Buffer) => (errors += d.toString()));
    const started = await new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`anvil bmc redfish --count did not start: ${text}${errors}`)), 120_000);
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
        if (/BMC\(s\) running/.test(text)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        if (/in use/.test(errors) && attempt < 5) resolve(false);
        else reject(new Error(`anvil bmc redfish --count exited: ${errors}`));
      });
    });
    if (started) return { base, lines: text.trim().split('\n') };
  }
}

test('anvil bmc redfish --count 3: independent BMCs on consecutive ports in one process, one certificate', async (t) => {
  if (!havePeers(t, 'openssl')) return;
  const dir = tempDir();
  writeFileSync(join(dir, 'pw'), `${PASSWORD}\n`);
  const { base, lines } = await startFleet(t, dir, 3);
  const ports = lines.filter((l) => l.startsWith('listening on ')).map((l) => Number(/127\.0\.0\.1:(\d+) /.exec(l)?.[1]));
  assert.deepEqual(ports, [base, base + 1, base + 2]);
  assert.equal(lines.at(-1), '3 BMC(s) running; Ctrl-C to stop');
  const ca = readFileSync(join(dir, 'bmc.pem'), 'utf8');
  const clients = ports.map((port) => new RedfishClient({ url: `https://127.0.0.1:${port}`, username: 'admin', password: PASSWORD, ca }));
  t.after(() => Promise.all(clients.map((c) => c.close())));
  // Each verifies against the one CA written out; each has its own machine.
  await clients[1]!.reset('On');
  assert.deepEqual(await Promise.all(clients.map((c) => c.getPowerState())), ['Off', 'On', 'Off']);
  for (const c of clients) assert.equal(c.transport.authKind, 'session');
});

test('anvil bmc redfish --count: bad combinations are usage errors', async () => {
  for (const [args, message] of [
    [['--count', '0', '--port', '20000'], /--count must be an integer from 1 to 10000/],
    [['--count', 'many', '--port', '20000'], /--count must be an integer/],
    [['--count', '2', '--port', '0'], /--count needs a --port to start from/],
    [['--count', '3', '--port', '65534'], /--count 3 from port 65534 runs past 65535/],
    [['--count', '2', '--port', '20000', '--mac', '52:54:00:12:34:56'], /--mac names one machine/],
    [['--keep-alive', '0'], /--keep-alive must be an integer from 1 to 3600/],
  ] as const) {
    const r = await exec(ANVIL, ['bmc', 'redfish', ...args], { REDFISH_PASSWORD: PASSWORD });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
