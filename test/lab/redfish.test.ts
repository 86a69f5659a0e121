// A lab VM behind anvil's emulated Redfish BMC (LabRedfishHandler): redfishtool sets a one-time
// PXE boot and powers the real QEMU on, which then boots iPXE; sushy (python3-sushy) reads it
// on and powers it off.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { LabRedfishHandler } from '../../src/lab/controller-redfish.ts';
import { commandLineOf } from '../../src/lab/process.ts';
import { RedfishEmulator, generateCertificate } from '../../src/protocols/redfish/index.ts';
import { tempDir } from '../helpers/anvil-process.ts';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { lab, openVm } from './helpers.ts';

const USER = 'admin';
const PASSWORD = 'lab-redfish-pw';
const IPXE_BANNER_MS = 40_000;

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(file, args, { env, timeout: 60_000 }, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

const SUSHY = `
import sys, sushy
url, ca, pw = sys.argv[1:4]
s = sushy.Sushy(url + '/redfish/v1', verify=ca, auth=sushy.auth.SessionAuth(username='admin', password=pw))
sy = s.get_system()
before = sy.power_state.value
sy.reset_system(sushy.ResetType.FORCE_OFF)
sy.refresh()
print(before + '|' + sy.power_state.value)
`;

test('redfishtool sets one-time PXE and powers a lab VM on into iPXE; sushy powers it off', { timeout: 120_000 }, async (t: TestContext) => {
  if (!havePeers(t, 'qemu-system-x86_64', 'redfishtool', 'openssl')) return;
  const sushyOk = spawnSync('/usr/bin/python3', ['-c', 'import sushy'], { timeout: 30_000 }).status === 0;
  if (!requireCondition(t, sushyOk, 'python3-sushy is not installed')) return;
  const store = await lab(t);
  await store.create({
    name: 'rf1',
    mac: '52:54:00:bb:00:21',
    memoryMb: 256,
    diskSize: null,
    bmc: { kind: 'ipmi', address: '127.0.0.1', ipmiPort: 0, amtPort: 0, user: USER, password: PASSWORD },
  });
  const vm = await openVm(t, store, 'rf1');
  await vm.setBootDevice('disk', { persistent: true });
  const tls = await generateCertificate('lab-redfish');
  const emulator = new RedfishEmulator({ user: USER, password: PASSWORD, tls, port: 0, handler: new LabRedfishHandler(vm) });
  const { port, url } = await emulator.listen();
  t.after(() => emulator.close());
  const caFile = join(tempDir(), 'ca.pem');
  writeFileSync(caFile, tls.ca);

  const rt = (...args: string[]) => run('redfishtool', ['-r', `127.0.0.1:${port}`, '-u', USER, '-p', PASSWORD, '-S', 'Always', ...args]);
  let r = await rt('Systems', 'setBootOverride', 'Once', 'Pxe');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await vm.getBootDevice(), { device: 'pxe', persistent: false, efi: false });
  r = await rt('Systems', 'reset', 'On');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await vm.getPowerState(), 'on');
  const line = await commandLineOf(vm.pid!);
  assert.ok(line?.includes('order=c,once=n'), `QEMU was started to boot the network once: ${line?.join(' ')}`);
  await vm.console.buffer.waitFor('iPXE', { timeoutMs: IPXE_BANNER_MS });

  const env = { ...process.env };
  for (const k of ['REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'SSL_CERT_FILE']) delete env[k];
  const s = await run('/usr/bin/python3', ['-c', SUSHY, url, caFile, PASSWORD], env);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout.trim(), 'On|Off');
  assert.equal(await vm.getPowerState(), 'off');
});
