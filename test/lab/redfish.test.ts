// A lab VM behind anvil's emulated Redfish BMC (LabRedfishHandler): redfishtool sets a one-time
// PXE boot and powers the real QEMU on, which then boots iPXE; sushy (python3-sushy) reads it
// on and powers it off. And the same from the command line: `lab vm create --bmc redfish --enroll`,
// `lab up`, then anvil's redfish driver powers the VM, verifying the lab's own CA; and virtual
// media that sushy inserts by URL, which the VM boots.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createConnection } from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { LabRedfishHandler } from '../../src/lab/controller-redfish.ts';
import { commandLineOf } from '../../src/lab/process.ts';
import { LabStore } from '../../src/lab/store.ts';
import { RedfishEmulator, generateCertificate } from '../../src/protocols/redfish/index.ts';
import { ANVIL, exec, tempDir } from '../helpers/anvil-process.ts';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { freeTcpPort } from '../helpers/ports.ts';
import { lab, labData, openVm, qemuOf, startLabUp } from './helpers.ts';

const USER = 'admin';
const PASSWORD = 'lab-redfish-pw';
const IPXE_BANNER_MS = 40_000;
/** Debian's ipxe package: a bootable El Torito ISO of iPXE. */
const IPXE_ISO = '/usr/lib/ipxe/ipxe.iso';

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

const SUSHY_POWER = `
import sys, sushy
url, ca, pw = sys.argv[1:4]
s = sushy.Sushy(url + '/redfish/v1', verify=ca, auth=sushy.auth.SessionAuth(username='admin', password=pw))
print(s.get_system().power_state.value)
`;

test('lab vm create --bmc redfish --enroll: lab up serves its Redfish BMC; anvil powers the VM through the redfish driver, verifying the lab CA; redfishtool and sushy drive the same VM', {
  timeout: 180_000,
}, async (t: TestContext) => {
  if (!havePeers(t, 'qemu-system-x86_64', 'redfishtool', 'openssl')) return;
  const sushyOk = spawnSync('/usr/bin/python3', ['-c', 'import sushy'], { timeout: 30_000 }).status === 0;
  if (!requireCondition(t, sushyOk, 'python3-sushy is not installed')) return;
  const data = labData(t);
  const port = await freeTcpPort();
  const pwFile = join(data, 'pw');
  writeFileSync(pwFile, `${PASSWORD}\n`);
  const anvil = (...args: string[]) => exec(ANVIL, [...args, '--data', data]);
  // prettier-ignore
  const created = await anvil(
    'lab',
    'vm',
    'create',
    'rf2',
    '--mac',
    '52:54:00:bb:00:22',
    '--disk',
    'none',
    '--memory',
    '128',
    '--netdev',
    'none',
    '--bmc',
    'redfish',
    '--redfish-port',
    String(port),
    '--bmc-password-file',
    pwFile,
    '--enroll',
  );
  assert.equal(created.code, 0, created.stderr);
  const url = `https://127.0.0.1:${port}`;
  assert.match(created.stdout, new RegExp(`created lab VM rf2 \\(52:54:00:bb:00:22\\), redfish ${url}\\n`));
  assert.match(created.stdout, new RegExp(`enrolled machine rf2: driver redfish at ${url}$`, 'm'));
  const caFile = join(data, 'lab', 'redfish-tls', 'ca.pem');
  const shown = JSON.parse((await anvil('machine', '--json', 'show', 'rf2')).stdout);
  assert.equal(shown.driver, 'redfish');
  assert.deepEqual(shown.driverInfo, { redfish_address: url, redfish_username: USER, redfish_password: '******', redfish_verify_ca: caFile });
  assert.equal(statSync(join(data, 'lab', 'redfish-tls', 'key.pem')).mode & 0o777, 0o600, "the certificate's key is its owner's only");

  await startLabUp(t, data, [`rf2: Redfish BMC on ${url}`]);
  let r = await anvil('machine', 'power', 'rf2', 'on');
  assert.equal(r.code, 0, r.stderr);
  assert.ok((await qemuOf(data, 'rf2')) !== undefined, 'anvil machine power on started the VM through its Redfish BMC');
  r = await anvil('machine', 'power', 'rf2', 'status');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\bon\b/);

  const env = { ...process.env };
  for (const k of ['REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'SSL_CERT_FILE']) delete env[k];
  const s = await run('/usr/bin/python3', ['-c', SUSHY_POWER, url, caFile, PASSWORD], env);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout.trim(), 'On', 'sushy verifies the BMC with the lab CA and reads the power anvil set');
  r = await run('redfishtool', ['-r', `127.0.0.1:${port}`, '-u', USER, '-p', PASSWORD, '-S', 'Always', 'Systems', 'reset', 'ForceOff']);
  assert.equal(r.code, 0, r.stderr);
  r = await anvil('machine', 'power', 'rf2', 'status');
  assert.match(r.stdout, /\boff\b/, `after redfishtool's ForceOff anvil reads off: ${r.stdout}`);
  assert.equal(await qemuOf(data, 'rf2'), undefined, 'the VM stopped');
});

const SUSHY_MEDIA = `
import sys, sushy
url, ca, pw, image = sys.argv[1:5]
s = sushy.Sushy(url + '/redfish/v1', verify=ca, auth=sushy.auth.SessionAuth(username='admin', password=pw))
cd = [m for mgr in s.get_manager_collection().get_members() for m in mgr.virtual_media.get_members() if sushy.VirtualMediaType.CD in m.media_types][0]
cd.insert_media(image, inserted=True, write_protected=True)
cd.refresh()
sy = s.get_system()
sy.set_system_boot_options(sushy.BootSource.CD, enabled=sushy.BootSourceOverrideEnabled.ONCE)
sy.reset_system(sushy.ResetType.ON)
print(cd.image + '|' + str(cd.inserted))
`;

test("virtual media: sushy inserts an ISO by URL into a lab VM's Redfish BMC, sets a one-time CD boot and powers it on; the VM (no NIC) boots the ISO", {
  timeout: 180_000,
}, async (t: TestContext) => {
  if (!havePeers(t, 'qemu-system-x86_64', 'openssl')) return;
  const sushyOk = spawnSync('/usr/bin/python3', ['-c', 'import sushy'], { timeout: 30_000 }).status === 0;
  if (!requireCondition(t, sushyOk, 'python3-sushy is not installed')) return;
  if (!requireCondition(t, existsSync(IPXE_ISO), `${IPXE_ISO} is missing (Debian's ipxe package)`)) return;
  const data = labData(t);
  const port = await freeTcpPort();
  const pwFile = join(data, 'pw');
  writeFileSync(pwFile, `${PASSWORD}\n`);
  // prettier-ignore
  const created = await exec(ANVIL, [
    'lab',
    'vm',
    'create',
    'rf3',
    '--mac',
    '52:54:00:bb:00:23',
    '--disk',
    'none',
    '--memory',
    '128',
    '--netdev',
    'none',
    '--bmc',
    'redfish',
    '--redfish-port',
    String(port),
    '--bmc-password-file',
    pwFile,
    '--data',
    data,
  ]);
  assert.equal(created.code, 0, created.stderr);
  // The image is served as anvil would serve it: over HTTP, from another process than the BMC.
  const served = createServer((req, res) => (req.url === '/ipxe.iso' ? createReadStream(IPXE_ISO).pipe(res) : res.writeHead(404).end()));
  await new Promise<void>((resolve) => served.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => served.close(() => resolve())));
  const image = `http://127.0.0.1:${(served.address() as AddressInfo).port}/ipxe.iso`;

  await startLabUp(t, data, [`rf3: Redfish BMC on https://127.0.0.1:${port}`]);
  // lab up holds QEMU's one serial connection and shares it; a client sees output from when it connects.
  let serial = '';
  const consoleClient = createConnection(new LabStore(data).consoleSocket('rf3'));
  t.after(() => consoleClient.destroy());
  const sawBanner = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no iPXE banner within ${IPXE_BANNER_MS} ms; the console showed ${JSON.stringify(serial.slice(-400))}`)),
      IPXE_BANNER_MS,
    );
    consoleClient.on('data', (chunk: Buffer) => {
      serial += chunk.toString('latin1');
      if (serial.includes('iPXE')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  sawBanner.catch(() => undefined);
  await once(consoleClient, 'connect');
  const env = { ...process.env };
  for (const k of ['REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'SSL_CERT_FILE']) delete env[k];
  const caFile = join(data, 'lab', 'redfish-tls', 'ca.pem');
  const s = await run('/usr/bin/python3', ['-c', SUSHY_MEDIA, `https://127.0.0.1:${port}`, caFile, PASSWORD, image], env);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout.trim(), `${image}|True`, 'the BMC reports the image inserted');
  const downloaded = join(data, 'lab', 'media', 'rf3.iso');
  assert.deepEqual(readFileSync(downloaded), readFileSync(IPXE_ISO), 'the BMC downloaded the image whole');
  const pid = await qemuOf(data, 'rf3');
  assert.ok(pid !== undefined, 'the VM runs');
  const line = (await commandLineOf(pid)) ?? [];
  assert.ok(line.some((a) => a.includes(`file=${downloaded}`)) && line.some((a) => a.includes('once=d')), `QEMU boots the ISO once: ${line.join(' ')}`);
  // Without a NIC, iPXE can only have come from the CD.
  await sawBanner;
});
