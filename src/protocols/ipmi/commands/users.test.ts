import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeUserAccess, decodeUserName, getUserAccess, setUserAccess, setUserName, setUserPassword, privilegeName } from './users.ts';
import { decodeLanConfig, ipv4, mac, authTypes, vlanId, ipSource, getLanConfig } from './lan.ts';

test('user access and names', () => {
  assert.deepEqual([...getUserAccess(2).data], [0x0e, 2]);
  const a = decodeUserAccess(Uint8Array.from([0x3f, 0x41, 0x01, 0x14]));
  assert.equal(a.maxUsers, 63);
  assert.equal(a.ipmiMessaging, true);
  assert.equal(a.linkAuth, false);
  assert.equal(privilegeName(a.privilegeLimit), 'administrator');
  assert.deepEqual([...setUserAccess(3, { privilege: 'operator' }).data], [0x9e, 3, 3, 0]);
  const name = setUserName(3, 'bob');
  assert.equal(name.data.length, 17);
  assert.equal(decodeUserName(name.data.subarray(1)), 'bob');
});

test('passwords: 16-byte form, 20-byte form beyond 16, no body for enable', () => {
  const short = setUserPassword(2, 'set', 'secret');
  assert.equal(short.data.length, 18);
  assert.equal(short.data[0], 2);
  const long = setUserPassword(2, 'test', 'a-very-long-password');
  assert.equal(long.data.length, 22);
  assert.equal(long.data[0], 0x82);
  assert.equal(long.data[1], 3);
  assert.deepEqual([...setUserPassword(4, 'enable').data], [4, 1]);
  assert.throws(() => setUserPassword(2, 'set', 'x'.repeat(21)), RangeError);
});

test('lan parameters', () => {
  assert.deepEqual([...getLanConfig(3, 1).data], [1, 3, 0, 0]);
  const ip = decodeLanConfig(Uint8Array.from([0x11, 192, 168, 0, 9]));
  assert.equal(ipv4(ip), '192.168.0.9');
  assert.equal(mac(Uint8Array.from([0, 0x1b, 0x21, 0xaa, 0xbb, 0xcc])), '00:1b:21:aa:bb:cc');
  assert.deepEqual(authTypes(0x17), ['NONE', 'MD2', 'MD5', 'PASSWORD']);
  assert.equal(vlanId(Uint8Array.from([0x0a, 0x80])), 10);
  assert.equal(vlanId(Uint8Array.from([0x0a, 0x00])), undefined);
  assert.equal(ipSource(Uint8Array.from([2])), 'DHCP Address');
});
