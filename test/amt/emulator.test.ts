// The AMT emulator over HTTP: bad requests get a SOAP fault or an HTTP error and the emulator
// goes on serving; digest replays are refused; HTTPS with a self-signed certificate; and
// `anvil bmc amt` as a process that real amttool talks to.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { AmtClient, DigestTransport } from '../../src/protocols/amt/index.ts';
import { buildAuthorization, parseChallenge } from '../../src/protocols/amt/digest.ts';
import { makeSelfSignedCertificate } from '../../src/protocols/amt/emulator/self-signed.ts';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { ANVIL, PASSWORD, perlHasSoapLite, runChild, startEmulator } from './fixture.ts';

/** A raw HTTP exchange with the emulator. */
function rawHttp(
  port: number,
  options: { method?: string; path: string; body?: string | Buffer; headers?: Record<string, string> },
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: options.method ?? 'POST', path: options.path, headers: options.headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

test('malformed and hostile requests get faults or HTTP errors; the emulator keeps serving', async (t) => {
  const { port, emulator } = await startEmulator(t);
  const transport = new DigestTransport({ host: '127.0.0.1', port, password: PASSWORD }, { connectAttempts: 1 });
  t.after(() => transport.close());
  const post = (path: string, body: string) => transport.post(path, body, { contentType: 'application/soap+xml', idempotent: true });

  const notXml = await post('/wsman', 'this is not XML <<<');
  assert.equal(notXml.status, 400);
  assert.match(notXml.body, /SchemaValidationError/);
  const bomb = await post('/wsman', `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "${'x'.repeat(100)}"><!ENTITY b "&a;&a;&a;&a;">]><l>&b;</l>`);
  assert.equal(bomb.status, 400);
  const wrongShape = await post(
    '/wsman',
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><a:Action xmlns:a="x">urn:nothing</a:Action></s:Header><s:Body/></s:Envelope>',
  );
  assert.equal(wrongShape.status, 400);
  assert.match(wrongShape.body, /InvalidMessageInformationHeader/);
  const soapGarbage = await post('/RemoteControlService', '\u0000\u0001binary');
  assert.equal(soapGarbage.status, 500);
  assert.match(soapGarbage.body, /<faultcode>SOAP-ENV:Client<\/faultcode>/);
  const truncated = await post(
    '/SecurityAdministrationService',
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetCoreVersion>',
  );
  assert.equal(truncated.status, 500);

  const oversized = await post('/wsman', 'A'.repeat(200 * 1024));
  assert.equal(oversized.status, 413);
  assert.equal(
    (await rawHttp(port, { path: '/wsman', body: Buffer.alloc(200 * 1024, 0x41) })).status,
    401,
    'no credentials: challenged before the body is looked at',
  );
  assert.equal((await rawHttp(port, { method: 'GET', path: '/wsman' })).status, 405);
  assert.equal((await rawHttp(port, { path: '/nothing-here' })).status, 404);
  assert.equal((await rawHttp(port, { path: '/wsman', headers: { authorization: 'Digest garbage' } })).status, 401);

  const amt = new AmtClient({ host: '127.0.0.1', port, password: PASSWORD });
  t.after(() => amt.close());
  await amt.setPowerState('on');
  assert.equal(await amt.getPowerState(), 'on', 'still serving after all that');
  assert.ok(emulator.stats.faults >= 5);
});

test('a replayed digest (same nonce count) is refused as stale; a digest for another URI is a 400', async (t) => {
  const { port } = await startEmulator(t);
  const first = await rawHttp(port, { path: '/RemoteControlService', body: '' });
  const challenge = parseChallenge(String(first.headers['www-authenticate']))!;
  const body =
    '<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><GetSystemPowerState xmlns="http://schemas.intel.com/platform/client/RemoteControl/2004/01"/></Body></Envelope>';
  const authorization = buildAuthorization({
    challenge,
    username: 'admin',
    password: PASSWORD,
    method: 'POST',
    uri: '/RemoteControlService',
    nonceCount: 1,
    cnonce: 'abc',
  });
  const ok = await rawHttp(port, { path: '/RemoteControlService', body, headers: { authorization } });
  assert.equal(ok.status, 200);
  assert.match(ok.body, /<m:SystemPowerState>5<\/m:SystemPowerState>/);
  const replay = await rawHttp(port, { path: '/RemoteControlService', body, headers: { authorization } });
  assert.equal(replay.status, 401);
  assert.match(String(replay.headers['www-authenticate']), /stale=true/);
  const otherUri = buildAuthorization({ challenge, username: 'admin', password: PASSWORD, method: 'POST', uri: '/wsman', nonceCount: 2, cnonce: 'abc' });
  assert.equal((await rawHttp(port, { path: '/RemoteControlService', body, headers: { authorization: otherUri } })).status, 400);
});

test('HTTPS: a self-signed certificate is accepted only when the caller allows it', async (t) => {
  if (!havePeers(t, 'openssl')) return;
  const tls = await makeSelfSignedCertificate('amt-emulator');
  const { port, handler } = await startEmulator(t, { tls });
  const strict = new AmtClient({ host: '127.0.0.1', port, scheme: 'https', password: PASSWORD }, { connectAttempts: 1 });
  t.after(() => strict.close());
  await assert.rejects(strict.getPowerState(), (e: unknown) => (e as { code?: string }).code === 'AMT_TLS' && /allowSelfSigned/.test((e as Error).message));
  for (const protocol of ['wsman', 'soap'] as const) {
    const trusting = new AmtClient({ host: '127.0.0.1', port, scheme: 'https', password: PASSWORD, allowSelfSigned: true }, { protocol });
    t.after(() => trusting.close());
    await trusting.setPowerState(protocol === 'wsman' ? 'on' : 'off');
    assert.equal(handler.power, protocol === 'wsman' ? 'on' : 'off');
  }
  const withCa = new AmtClient({ host: '127.0.0.1', port, scheme: 'https', password: PASSWORD, ca: tls.cert });
  t.after(() => withCa.close());
  assert.equal(await withCa.getPowerState(), 'off', 'trusting the certificate as a CA also works');
});

/** Starts `bin/anvil bmc amt` and resolves to its port once it says it listens; stopped with SIGTERM after the test. */
async function startBmcProcess(t: TestContext, args: string[], env: Record<string, string>): Promise<{ port: number; stop: () => Promise<number | null> }> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  if (env['AMT_PASSWORD'] === undefined) delete childEnv['AMT_PASSWORD'];
  const child = spawn(ANVIL, ['bmc', 'amt', '--port', '0', '--quiet', ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`anvil bmc amt exited with ${code} before listening`)));
  });
  const match = /^listening on http:\/\/127\.0\.0\.1:(\d+) /.exec(line);
  assert.ok(match, line);
  return {
    port: Number(match[1]),
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

test('anvil bmc amt runs an emulator amttool and anvil amt can use, and stops on SIGTERM', async (t) => {
  if (!havePeers(t, 'amttool', 'perl') || !requireCondition(t, perlHasSoapLite(), "Perl's SOAP::Lite (Debian libsoap-lite-perl)")) return;
  const dir = await mkdtemp(join(tmpdir(), 'anvil-amt-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const passwordFile = join(dir, 'password');
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  const bmc = await startBmcProcess(t, ['--password-file', passwordFile, '--hostname', 'desk1', '--domain', 'lab'], {});
  const target = `127.0.0.1:${bmc.port}`;
  const up = await runChild('amttool', [target, 'powerup', 'pxe'], { password: PASSWORD, input: 'y\n' });
  assert.equal(up.stdout, 'host desk1.lab, powerup [y/N] ? execute: powerup\nresult: pt_status: success\n');
  const info = await runChild(ANVIL, ['amt', target, 'info', '--wsman', '--json'], { password: PASSWORD });
  assert.equal(info.code, 0, info.stderr);
  assert.deepEqual(JSON.parse(info.stdout), {
    host: '127.0.0.1',
    protocol: 'wsman',
    version: '8.1.20',
    hostname: 'desk1',
    domain: 'lab',
    powerState: 'on',
    rawPowerState: 2,
    powerStateText: 'S0',
    capabilities: {
      ianaOemNumber: 343,
      oemDefinedCapabilities: 0x1f,
      specialCommandsSupported: 0x1f00,
      systemCapabilitiesSupported: 0x0f,
      systemFirmwareCapabilities: 0,
    },
  });
  const off = await runChild(ANVIL, ['amt', target, 'powerdown', '--yes'], { password: PASSWORD });
  assert.equal(off.stdout, `host desk1.lab, powerdown [y/N] ? execute: powerdown\nresult: pt_status: success\n`);
  const after = await runChild('amttool', [target, 'info'], { password: PASSWORD });
  assert.match(after.stdout, /^Powerstate: {3}S5 \(soft-off\)$/m);
  assert.equal(await bmc.stop(), 0, 'SIGTERM stops it cleanly');
});

test('anvil bmc amt takes its password from AMT_PASSWORD and refuses to start without one', async (t) => {
  const bmc = await startBmcProcess(t, [], { AMT_PASSWORD: PASSWORD });
  const amt = new AmtClient({ host: '127.0.0.1', port: bmc.port, password: PASSWORD });
  t.after(() => amt.close());
  assert.equal(await amt.getPowerState(), 'off');
  const none = await runChild(ANVIL, ['bmc', 'amt', '--port', '0']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no password: set AMT_PASSWORD/);
});
