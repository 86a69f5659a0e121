// Session-setup command data, on replies captured from ipmi_sim.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IpmiDecodeError } from './errors.ts';
import {
  decodeActivateSessionResponse,
  decodeAuthCapabilities,
  decodeAuthCapabilitiesRequest,
  decodePayloadActivated,
  decodeSessionChallenge,
  encodeActivateSessionResponse,
  encodeAuthCapabilities,
  encodePayloadActivated,
} from './session-commands.ts';

test("Get Channel Auth Capabilities: ipmitool's request and ipmi_sim's reply (captured)", () => {
  assert.deepEqual(decodeAuthCapabilitiesRequest(Buffer.from([0x8e, 0x04])), { channel: 0x0e, extended: true, privilege: 4 });
  const caps = decodeAuthCapabilities(Buffer.from('0197040300000000', 'hex'));
  assert.equal(caps.channel, 1);
  assert.equal(caps.authTypes, 0x17, 'none, MD2, MD5, password');
  assert.equal(caps.nonNullUsers, true);
  assert.equal(caps.ipmi20 && caps.ipmi15, true);
  assert.equal(encodeAuthCapabilities(caps).toString('hex'), '0197040300000000');
});

test('Session challenge and activation replies (ipmi_sim, captured)', () => {
  const ch = decodeSessionChallenge(Buffer.from('05000000e8eb0f557f26d26634422c6e5092625e', 'hex'));
  assert.equal(ch.temporarySessionId, 5);
  assert.equal(ch.challenge.length, 16);
  const act = decodeActivateSessionResponse(Buffer.from('02020100002e21e2bb04', 'hex'));
  assert.deepEqual(act, { authType: 2, sessionId: 0x102, initialInboundSequence: 0xbbe2212e, maxPrivilege: 4 });
  assert.equal(encodeActivateSessionResponse(act).toString('hex'), '02020100002e21e2bb04');
});

test('Activate Payload reply is exactly 12 bytes with a little-endian port', () => {
  const wire = encodePayloadActivated({ aux: Buffer.alloc(4), inboundPayloadSize: 200, outboundPayloadSize: 200, port: 623, vlan: 0xffff });
  assert.equal(wire.toString('hex'), '00000000' + 'c800' + 'c800' + '6f02' + 'ffff');
  assert.equal(decodePayloadActivated(wire).port, 623);
  assert.throws(() => decodePayloadActivated(wire.subarray(0, 11)), IpmiDecodeError);
});
