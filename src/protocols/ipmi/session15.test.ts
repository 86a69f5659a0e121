// IPMI 1.5 framing: MD5 and straight-password authcodes verified on captured ipmitool <-> ipmi_sim sessions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppCmd, AuthType, ChassisCmd } from './constants.ts';
import { IpmiAuthenticationError, IpmiDecodeError } from './errors.ts';
import { decodeRequest, decodeResponse } from './message.ts';
import { LEGACY_PAD_LENGTHS, decodeSession15, encodeSession15, session15AuthCode, verifySession15 } from './session15.ts';
import { loadCapture, packet } from './testdata/load.ts';

const md5 = loadCapture('ipmitool-lan-md5-ipmi-sim');
const straight = loadCapture('ipmitool-lan-password-ipmi-sim');

test('Activate Session from ipmitool carries a valid MD5 authcode (capture packet 6)', () => {
  const p = decodeSession15(packet(md5, 6));
  assert.equal(p.authType, AuthType.MD5);
  assert.equal(decodeRequest(p.message).command, AppCmd.ACTIVATE_SESSION);
  verifySession15(p, 'password');
  assert.throws(() => verifySession15(p, 'passw0rd'), IpmiAuthenticationError);
});

test('re-encoding every authenticated captured packet gives the same bytes, authcode and legacy pad included', () => {
  for (const capture of [md5, straight]) {
    for (const { bytes } of capture.slice(6)) {
      const p = decodeSession15(bytes);
      verifySession15(p, 'password');
      const authType = p.authType === AuthType.MD5 ? 'md5' : 'password';
      assert.deepEqual(encodeSession15({ authType, sequence: p.sequence, sessionId: p.sessionId, message: p.message, password: 'password' }), bytes);
    }
  }
});

test('the chassis status request inside the MD5 session decodes', () => {
  const p = decodeSession15(packet(md5, 18));
  const req = decodeRequest(p.message);
  assert.equal(req.netFn, 0);
  assert.equal(req.command, ChassisCmd.GET_CHASSIS_STATUS);
  const res = decodeResponse(decodeSession15(packet(md5, 19)).message);
  assert.equal(res.completionCode, 0);
  assert.equal((res.data[0] as number) & 1, 1, 'ipmi_sim said power on');
});

test('straight password authcode is the zero-padded password', () => {
  assert.equal(session15AuthCode('password', 'abc', 1, 2, Buffer.alloc(0)).toString('hex'), '616263' + '00'.repeat(13));
});

test('legacy pad is added at the listed lengths and tolerated on decode', () => {
  // Authtype none: 4 (RMCP) + 10 (session header) + message; 56 bytes needs a 42-byte message.
  const wire = encodeSession15({ authType: 'none', sequence: 0, sessionId: 0, message: Buffer.alloc(42, 7) });
  assert.equal(wire.length, 57);
  assert.ok(LEGACY_PAD_LENGTHS.has(56));
  assert.equal(decodeSession15(wire).message.length, 42);
});

test('truncated packets are IpmiDecodeError', () => {
  const whole = packet(md5, 6);
  for (let n = 0; n < whole.length - 1; n++) {
    if (n === whole.length - 1) continue;
    assert.throws(() => decodeSession15(whole.subarray(0, n)), IpmiDecodeError, `length ${n}`);
  }
});
