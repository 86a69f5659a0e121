// IPMI message framing and checksums, on bytes ipmitool and ipmi_sim put on the wire.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppCmd, NetFn } from './constants.ts';
import { IpmiDecodeError } from './errors.ts';
import { checksum, decodeRequest, decodeResponse, encodeRequest, encodeResponse, responseTo } from './message.ts';

// Get Channel Auth Capabilities [0x8E, 4] as ipmitool 1.8.19 sends it (capture ipmitool-lanplus-c3-ipmi-sim, packet 0).
const authCapsRequest = Buffer.from('2018c88100388e04b5', 'hex');
// ipmi_sim's reply (packet 1).
const authCapsResponse = Buffer.from('811c6320003800019704030000000009', 'hex');

test('decodes and re-encodes a captured request', () => {
  const req = decodeRequest(authCapsRequest);
  assert.equal(req.netFn, NetFn.APP);
  assert.equal(req.command, AppCmd.GET_CHANNEL_AUTH_CAPABILITIES);
  assert.equal(req.sequence, 0);
  assert.deepEqual([...req.data], [0x8e, 0x04]);
  assert.deepEqual(encodeRequest(req), authCapsRequest);
});

test('decodes and re-encodes a captured response', () => {
  const res = decodeResponse(authCapsResponse);
  assert.equal(res.netFn, NetFn.APP + 1);
  assert.equal(res.command, AppCmd.GET_CHANNEL_AUTH_CAPABILITIES);
  assert.equal(res.completionCode, 0);
  assert.equal(Buffer.from(res.data).toString('hex'), '0197040300000000');
  assert.deepEqual(encodeResponse(res), authCapsResponse);
});

test('responseTo mirrors netfn, command and sequence', () => {
  const req = decodeRequest(encodeRequest({ netFn: NetFn.CHASSIS, command: 1, data: Buffer.alloc(0), sequence: 33 }));
  const res = decodeResponse(encodeResponse(responseTo(req, 0, Buffer.from([1, 0, 0]))));
  assert.equal(res.netFn, 1);
  assert.equal(res.sequence, 33);
  assert.deepEqual([...res.data], [1, 0, 0]);
});

test("checksum is two's complement", () => {
  assert.equal(checksum(Buffer.from([0x20, 0x18])), 0xc8);
});

test('bad checksums and short messages are IpmiDecodeError', () => {
  const bad = Buffer.from(authCapsRequest);
  bad[7] = (bad[7] as number) ^ 1;
  assert.throws(() => decodeRequest(bad), IpmiDecodeError);
  const badHeader = Buffer.from(authCapsRequest);
  badHeader[1] = (badHeader[1] as number) ^ 4;
  assert.throws(() => decodeRequest(badHeader), IpmiDecodeError);
  assert.throws(() => decodeRequest(Buffer.alloc(3)), IpmiDecodeError);
  assert.throws(() => decodeResponse(encodeRequest({ netFn: 6, command: 1, data: Buffer.alloc(0) })), IpmiDecodeError);
});
