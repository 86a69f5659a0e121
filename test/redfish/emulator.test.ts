// anvil's emulated Redfish BMC driven by clients anvil did not write — DMTF's redfishtool and
// Debian's python3-sushy (the library Ironic uses) — over HTTPS with its generated
// certificate, and by anvil's own client: sessions logged out, ETags with If-Match,
// AllowableValues, the virtual CD under the Manager by InsertMedia, task monitors for slow
// resets, and Redfish error bodies for malformed requests (fuzzed) while it stays up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import {
  RedfishClient,
  RedfishEmulator,
  MemoryRedfishHandler,
  generateCertificate,
  insertMedia,
  ejectMedia,
  listVirtualMedia,
  readLogEntries,
} from '../../src/protocols/redfish/index.ts';
import { tempDir } from '../helpers/anvil-process.ts';
import { havePeers, requireCondition } from '../helpers/peers.ts';

const PASSWORD = 'Rf-Emu-Pass-1';
const PYTHON = '/usr/bin/python3';

function exec(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(file, args, { env, timeout: 60_000 }, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

async function start(t: { after: (fn: () => Promise<void>) => void }, options: { tls?: boolean; taskDelayMs?: number } = {}) {
  const tls = options.tls === false ? undefined : await generateCertificate('anvil-redfish-test');
  const handler = new MemoryRedfishHandler();
  const emulator = new RedfishEmulator({
    password: PASSWORD,
    handler,
    port: 0,
    macs: ['52:54:00:aa:bb:01'],
    ...(tls ? { tls } : {}),
    taskDelayMs: options.taskDelayMs ?? 0,
  });
  const { url, port } = await emulator.listen();
  t.after(() => emulator.close());
  const dir = tempDir();
  const caFile = join(dir, 'ca.pem');
  if (tls) writeFileSync(caFile, tls.ca);
  return { emulator, handler, url, port, caFile, tls };
}

test('redfishtool powers the emulated system on and off and sets a one-time PXE boot, which the next boot uses', async (t) => {
  if (!havePeers(t, 'redfishtool', 'openssl')) return;
  const { handler, port } = await start(t);
  const rt = (...args: string[]) => exec('redfishtool', ['-r', `127.0.0.1:${port}`, '-u', 'admin', '-p', PASSWORD, '-S', 'Always', ...args]);
  let r = await rt('Systems', 'setBootOverride', 'Once', 'Pxe');
  assert.equal(r.code, 0, r.stderr);
  r = await rt('Systems', 'reset', 'On');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(handler.power, 'On');
  r = await rt('Systems', 'reset', 'ForceOff');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(handler.power, 'Off');
  r = await rt('Systems', 'reset', 'On');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    handler.boots.map((b) => b.target),
    ['Pxe', 'default'],
  );
  r = await rt('Systems', 'get');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).PowerState, 'On');
  r = await exec('redfishtool', ['-r', `127.0.0.1:${port}`, '-u', 'admin', '-p', 'wrong', '-S', 'Always', 'Systems', 'reset', 'On']);
  assert.notEqual(r.code, 0, 'a wrong password is refused');
});

const SUSHY = `
import sys, sushy
url, ca, pw = sys.argv[1:4]
s = sushy.Sushy(url + '/redfish/v1', verify=ca, auth=sushy.auth.SessionAuth(username='admin', password=pw))
sy = s.get_system()
out = [str(sy.power_state.value), sorted(v.value for v in sy.get_allowed_reset_system_values())]
sy.set_system_boot_options(sushy.BootSource.PXE, enabled=sushy.BootSourceOverrideEnabled.ONCE)
sy.reset_system(sushy.ResetType.ON)
sy.refresh()
out.append(str(sy.power_state.value))
sy.reset_system(sushy.ResetType.FORCE_OFF)
sy.refresh()
out.append(str(sy.power_state.value))
try:
    sy.set_system_boot_options(sushy.BootSource.FLOPPY)
    out.append('floppy accepted')
except Exception as e:
    out.append(type(e).__name__)
print('|'.join(str(x) for x in out))
`;

test('sushy (python3-sushy, as Ironic uses it) verifies the certificate with the CA, logs in, powers on with one-time PXE, and off', async (t) => {
  if (!havePeers(t, 'openssl')) return;
  const ok = spawnSync(PYTHON, ['-c', 'import sushy'], { timeout: 30_000 }).status === 0;
  if (!requireCondition(t, ok, 'python3-sushy is not installed')) return;
  const { handler, url, caFile, emulator } = await start(t);
  // requests lets REQUESTS_CA_BUNDLE override a session's verify=: take it away, so the CA file counts.
  const env = { ...process.env };
  for (const k of ['REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'SSL_CERT_FILE']) delete env[k];
  const r = await exec(PYTHON, ['-c', SUSHY, url, caFile, PASSWORD], env);
  assert.equal(r.code, 0, r.stderr);
  const [before, allowed, on, off, floppy] = r.stdout.trim().split('|');
  assert.equal(before, 'Off');
  assert.match(allowed ?? '', /ForceOff.*On.*PowerCycle/);
  assert.deepEqual([on, off], ['On', 'Off']);
  assert.match(floppy ?? '', /Invalid|Error/, 'a boot source the system does not allow is refused');
  assert.deepEqual(
    handler.boots.map((b) => b.target),
    ['Pxe'],
  );
  assert.ok(emulator.sessionIds.length <= 1, 'sushy used one session');
});

test("anvil's client: sessions logged out, If-Match, virtual CD by InsertMedia under the Manager, slow resets through a task monitor, log entries", async (t) => {
  if (!havePeers(t, 'openssl')) return;
  const { handler, url, tls, emulator } = await start(t, { taskDelayMs: 50 });
  const c = new RedfishClient({ url, username: 'admin', password: PASSWORD, ca: tls?.ca ?? '' }, { task: { pollMs: 10 } });
  await c.setBootOverride({ target: 'UefiHttp', enabled: 'Once', mode: 'UEFI' });
  assert.equal((await c.reset('On')).state, 'Completed');
  assert.deepEqual(handler.boots, [{ target: 'UefiHttp', mode: 'UEFI' }]);
  assert.equal((await c.getBoot()).enabled, 'Disabled', 'a one-time override is used up');
  await assert.rejects(c.setBootOverride({ target: 'Usb' }), /cannot boot from Usb; it allows None, Pxe, Hdd, Cd, UefiHttp, BiosSetup/);
  await assert.rejects(c.reset('Suspend'), /does not allow ResetType Suspend/);
  await assert.rejects(
    c.transport.request('PATCH', '/redfish/v1/Systems/1', { body: { Boot: { BootSourceOverrideTarget: 'Pxe' } }, ifMatch: 'W/"stale"' }),
    (e: Error & { status?: number }) => {
      assert.equal(e.status, 412);
      assert.match(e.message, /The ETag supplied did not match/);
      return true;
    },
  );
  assert.equal((await listVirtualMedia(c))[0]?.path, '/redfish/v1/Managers/BMC/VirtualMedia/Cd');
  await insertMedia(c, 'http://10.0.0.2/agent.iso');
  assert.deepEqual(handler.media, { image: 'http://10.0.0.2/agent.iso', inserted: true });
  await ejectMedia(c);
  assert.equal(handler.media.inserted, false);
  const log = await readLogEntries(c, '/redfish/v1/Managers/BMC');
  assert.ok(
    log.some((e) => e.message === 'ComputerSystem.Reset On'),
    JSON.stringify(log),
  );
  assert.equal(emulator.sessionIds.length, 1);
  await c.close();
  assert.deepEqual(emulator.sessionIds, [], 'the session was logged out');
});

function raw(
  port: number,
  method: string,
  path: string,
  body: Buffer | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`, ...headers } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => done({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

test('fuzz: malformed requests get Redfish error bodies and the emulator stays up', async (t) => {
  const { port, handler } = await start(t, { tls: false });
  let seed = 0x5eed;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const paths = [
    '/redfish/v1/Systems/1',
    '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset',
    '/redfish/v1/Managers/BMC/VirtualMedia/Cd/Actions/VirtualMedia.InsertMedia',
    '/redfish/v1/Managers/BMC/VirtualMedia/Cd',
    '/redfish/v1/SessionService/Sessions',
    '/redfish/v1/%zz',
    '/redfish/v1/Nope',
  ];
  const bodies = [
    '{',
    '[]',
    'null',
    '{"Boot": 7}',
    '{"Boot": {"BootSourceOverrideTarget": "Warp"}}',
    '{"ResetType": ["On"]}',
    '{"Image": "file:///etc/passwd"}',
    '{"UserName": 1}',
    '"x"',
    '{"Boot": {"X": 1}}',
  ];
  for (let i = 0; i < 300; i++) {
    const path = paths[rand() % paths.length] ?? '/';
    const method = ['POST', 'PATCH', 'PUT', 'DELETE'][rand() % 4] ?? 'POST';
    const body = rand() % 3 === 0 ? Buffer.from(Array.from({ length: rand() % 200 }, () => rand() % 256)) : (bodies[rand() % bodies.length] ?? '');
    const r = await raw(port, method, path, body);
    assert.ok(r.status >= 200 && r.status < 600, `${method} ${path}: ${r.status}`);
    if (r.status >= 400) {
      const parsed = JSON.parse(r.body);
      assert.equal(typeof parsed.error?.['@Message.ExtendedInfo']?.[0]?.MessageId, 'string', `${method} ${path} ${r.status}: ${r.body}`);
    }
  }
  const big = await raw(port, 'PATCH', '/redfish/v1/Systems/1', Buffer.alloc(200_000, 0x20));
  assert.equal(big.status, 413);
  const unauth = await raw(port, 'GET', '/redfish/v1/Systems/1', '', { authorization: 'Basic bm9wZTpub3Bl' });
  assert.equal(unauth.status, 401);
  assert.match(JSON.parse(unauth.body).error['@Message.ExtendedInfo'][0].MessageId, /NoValidSession/);
  const still = await raw(port, 'GET', '/redfish/v1/Systems/1', '');
  assert.equal(still.status, 200, 'still serving');
  assert.ok(['On', 'Off'].includes(handler.power));
});
