// RMCP headers and ASF presence ping/pong, on ipmitool's and ipmi_sim's captured bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IpmiDecodeError } from './errors.ts';
import { ASF_PONG_ENTITIES_IPMI, decodeAsf, decodeRmcp, encodeAsf, isRmcpPlus } from './rmcp.ts';
import { loadCapture, packet } from './testdata/load.ts';

const lan = loadCapture('ipmitool-lan-md5-ipmi-sim');

test('decodes the presence ping ipmitool -I lan sends first', () => {
  const rmcp = decodeRmcp(packet(lan, 0));
  assert.equal(rmcp.cls, 'asf');
  assert.deepEqual(decodeAsf(rmcp.body), { type: 'ping', tag: 0 });
  assert.deepEqual(encodeAsf({ type: 'ping', tag: 0 }), packet(lan, 0));
});

test("decodes ipmi_sim's pong and encodes the same bytes", () => {
  const pong = decodeAsf(decodeRmcp(packet(lan, 1)).body);
  assert.equal(pong.type, 'pong');
  if (pong.type !== 'pong') return;
  assert.equal(pong.supportedEntities, ASF_PONG_ENTITIES_IPMI);
  assert.deepEqual(encodeAsf(pong), packet(lan, 1));
});

test('tells RMCP+ from IPMI 1.5 framing', () => {
  const plus = loadCapture('ipmitool-lanplus-c3-ipmi-sim');
  assert.equal(isRmcpPlus(decodeRmcp(packet(plus, 2)).body), true);
  assert.equal(isRmcpPlus(decodeRmcp(packet(plus, 0)).body), false);
});

test('rejects other versions, classes and truncated pings', () => {
  assert.throws(() => decodeRmcp(Buffer.from('0500ff07', 'hex')), IpmiDecodeError);
  assert.throws(() => decodeRmcp(Buffer.from('0600ff08', 'hex')), IpmiDecodeError);
  assert.throws(() => decodeRmcp(Buffer.from('0600', 'hex')), IpmiDecodeError);
  assert.throws(() => decodeAsf(Buffer.from('000011be80', 'hex')), IpmiDecodeError);
  assert.throws(() => decodeAsf(Buffer.from('000011be40000000', 'hex')), IpmiDecodeError);
});
