// `anvil bmc redfish` and `anvil redfish` as commands: the emulator started as a process on a
// free port with its certificate written out, driven by `anvil redfish` the way redfishtool is
// used (Systems reset On, setBootOverride Once Pxe, raw GET/PATCH/POST, --json), the password
// from a file, and errors that are clear and never hold the password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANVIL, exec, tempDir } from '../helpers/anvil-process.ts';
import { havePeers } from '../helpers/peers.ts';

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
