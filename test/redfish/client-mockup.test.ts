// anvil's Redfish client against DMTF's Redfish Mockup Server with the public-rackmount1
// mockup (a peer anvil did not write): sessions made and logged out, power and the ResetTypes
// the system allows, the boot override checked against its AllowableValues, inventory, log
// entries, virtual media under the system (the mockup has no InsertMedia action, so the
// PATCH form is used), raw requests, and TLS with a CA bundle, a pinned certificate, and the
// explicit, warned opt-out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedfishClient, readInventory, readLogEntries, managerPaths, listVirtualMedia, insertMedia, ejectMedia } from '../../src/protocols/redfish/index.ts';
import type { RedfishClientOptions, RedfishEndpoint } from '../../src/protocols/redfish/index.ts';
import { generateCertificate } from '../../src/protocols/redfish/emulator/certificate.ts';
import { havePeers } from '../helpers/peers.ts';
import { haveMockup, MOCKUP_SYSTEM, startMockup } from './mockup.ts';

const FAST: RedfishClientOptions = { requestTimeoutMs: 10_000, task: { pollMs: 10 } };

function client(t: { after: (fn: () => Promise<void>) => void }, endpoint: RedfishEndpoint, options: RedfishClientOptions = FAST): RedfishClient {
  const c = new RedfishClient(endpoint, options);
  t.after(() => c.close());
  return c;
}

test('mockup: a session is made with X-Auth-Token and logged out on close; power state and ResetTypes', async (t) => {
  if (!haveMockup(t)) return;
  const url = await startMockup(t);
  const c = new RedfishClient({ url, username: 'admin', password: 'Mock-Pass-1' }, FAST);
  assert.equal(await c.getPowerState(), 'On');
  assert.equal(c.transport.authKind, 'session');
  const sessions = await c.members('/redfish/v1/SessionService/Sessions');
  assert.equal(sessions.length, 2, `the mockup's own session and ours: ${sessions.join(', ')}`);
  await c.close();
  const after = client(t, { url });
  assert.deepEqual(
    await after.members('/redfish/v1/SessionService/Sessions'),
    ['/redfish/v1/SessionService/Sessions/1234567890ABCDEF'],
    'our session was deleted',
  );

  const c2 = client(t, { url, username: 'admin', password: 'Mock-Pass-1' });
  assert.equal(await c2.systemPath(), `/redfish/v1/Systems/${MOCKUP_SYSTEM}`, 'the only system is found without an id');
  const { allowed } = await c2.resetTypes();
  assert.deepEqual(allowed, ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn', 'PushPowerButton']);
  assert.equal((await c2.reset('ForceOff')).state, 'Completed');
  await assert.rejects(c2.reset('PowerCycle'), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'REDFISH_UNSUPPORTED');
    assert.match(e.message, /does not allow ResetType PowerCycle; it allows On, ForceOff, GracefulShutdown/);
    return true;
  });
  await assert.rejects(new RedfishClient({ url }, { ...FAST, systemId: 'nope' }).getPowerState(), /has no system 'nope'; it has 437XR1138R2/);
});

test('mockup: boot override read, set and read back; a target the system does not allow changes nothing', async (t) => {
  if (!haveMockup(t)) return;
  const url = await startMockup(t);
  const c = client(t, { url, username: 'admin', password: 'x' }, { ...FAST, systemId: MOCKUP_SYSTEM });
  const boot = await c.getBoot();
  assert.deepEqual([boot.target, boot.enabled, boot.mode], ['Pxe', 'Once', 'UEFI']);
  assert.ok(boot.allowedTargets?.includes('Hdd') && !boot.allowedTargets.includes('UefiHttp'));
  await c.setBootOverride({ target: 'Hdd', enabled: 'Continuous', mode: 'Legacy' });
  const set = await c.getBoot();
  assert.deepEqual([set.target, set.enabled, set.mode], ['Hdd', 'Continuous', 'Legacy']);
  await assert.rejects(c.setBootOverride({ target: 'UefiHttp' }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'REDFISH_UNSUPPORTED');
    assert.match(e.message, /cannot boot from UefiHttp; it allows None, Pxe, Cd, Usb, Hdd, BiosSetup/);
    return true;
  });
  assert.equal((await c.getBoot()).target, 'Hdd', 'nothing was changed');
});

test('mockup: inventory with MACs, log entries of the manager and the system, raw GET/PATCH/POST, a 404', async (t) => {
  if (!haveMockup(t)) return;
  const url = await startMockup(t);
  const c = client(t, { url, username: 'admin', password: 'x' });
  const inv = await readInventory(c);
  assert.equal(inv.id, MOCKUP_SYSTEM);
  assert.deepEqual(inv.processors.map((p) => p.id).sort(), ['CPU1', 'CPU2', 'FPGA1']);
  assert.equal(inv.memory.length, 4);
  assert.ok(
    inv.nics.some((n) => n.mac === '12:44:6A:3B:04:11'),
    JSON.stringify(inv.nics),
  );
  assert.ok(inv.storage.length >= 1 && inv.storage[0]?.devices.length !== 0, JSON.stringify(inv.storage));
  assert.deepEqual(await managerPaths(c), ['/redfish/v1/Managers/BMC']);
  const bmcLog = await readLogEntries(c, '/redfish/v1/Managers/BMC');
  assert.deepEqual(
    bmcLog.map((e) => e.message),
    ['System May be Melting'],
  );
  const sysLog = await readLogEntries(c, `/redfish/v1/Systems/${MOCKUP_SYSTEM}`);
  assert.deepEqual(
    sysLog.map((e) => [e.log, e.id, e.severity, e.message]),
    [
      ['Log1', '1', 'Critical', 'Temperature threshold exceeded'],
      ['Log1', '2', 'Critical', 'Temperature threshold exceeded'],
    ],
  );

  assert.equal((await c.raw('PATCH', `/redfish/v1/Systems/${MOCKUP_SYSTEM}`, { AssetTag: 'anvil-7' })).status, 204);
  assert.equal((await c.get(`/redfish/v1/Systems/${MOCKUP_SYSTEM}`)).AssetTag, 'anvil-7');
  assert.equal((await c.raw('POST', `/redfish/v1/Systems/${MOCKUP_SYSTEM}/Actions/ComputerSystem.Reset`, { ResetType: 'On' })).status, 204);
  await assert.rejects(c.raw('GET', '/redfish/v1/Nothing/Here'), (e: Error & { code?: string; status?: number }) => {
    assert.equal(e.code, 'REDFISH_HTTP');
    assert.equal(e.status, 404);
    assert.match(e.message, /answered GET \/redfish\/v1\/Nothing\/Here with HTTP 404/);
    return true;
  });
  await assert.rejects(c.raw('GET', 'Systems'), /is not a Redfish path/);
});

test('mockup: virtual media under the system, inserted and ejected by PATCH (no InsertMedia action there)', async (t) => {
  if (!haveMockup(t)) return;
  const url = await startMockup(t);
  const c = client(t, { url, username: 'admin', password: 'x' });
  const slots = await listVirtualMedia(c);
  assert.deepEqual(slots.map((s) => [s.id, s.mediaTypes.join('/')]).sort(), [
    ['CD1', 'CD/DVD'],
    ['Floppy1', 'Floppy/USBStick'],
  ]);
  await ejectMedia(c, { slotId: 'CD1' });
  const cd1 = async () => (await listVirtualMedia(c)).find((s) => s.id === 'CD1');
  assert.equal((await cd1())?.inserted, false);
  await insertMedia(c, 'http://10.0.0.1/agent.iso');
  const cd = await cd1();
  assert.deepEqual([cd?.image, cd?.inserted], ['http://10.0.0.1/agent.iso', true]);
  await assert.rejects(insertMedia(c, 'http://x/y.iso', { mediaType: 'BluRay' }), /has no virtual media slot for BluRay; it has .*CD1 \(CD\/DVD\)/);
});

test('mockup over HTTPS: a CA bundle or the pinned certificate verifies; no trust, or another pin, is a TLS error; turning it off warns', async (t) => {
  if (!haveMockup(t) || !havePeers(t, 'openssl')) return;
  const tls = await generateCertificate('bmc-mock');
  const other = await generateCertificate('impostor');
  const url = await startMockup(t, tls);
  assert.equal(await client(t, { url, ca: tls.ca }).getPowerState(), 'On');
  assert.equal(await client(t, { url, pinnedCertificate: tls.cert }).getPowerState(), 'On');
  for (const endpoint of [{ url }, { url, pinnedCertificate: other.cert }, { url, ca: other.ca }]) {
    await assert.rejects(client(t, endpoint).getPowerState(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'REDFISH_TLS', e.message);
      assert.match(e.message, /the TLS certificate did not verify/);
      return true;
    });
  }
  const warnings: string[] = [];
  assert.equal(await client(t, { url, verify: false }, { ...FAST, warn: (m) => warnings.push(m) }).getPowerState(), 'On');
  assert.deepEqual(warnings, [`TLS verification is off for Redfish ${url}: anyone on the path can pose as the BMC and read its credentials`]);
});
