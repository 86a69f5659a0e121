// The RAKP/HMAC/AES math checked against a real exchange: ipmitool 1.8.19 (-C 3, user admin,
// password "password") logging in to OpenIPMI's ipmi_sim. Neither side is anvil's code, so
// these bytes are an independent known vector (testdata/ipmitool-lanplus-c3-ipmi-sim.json).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findCipherSuite } from './cipher-suites.ts';
import { AppCmd, AuthAlgorithm, ChassisCmd, PayloadType } from './constants.ts';
import { deriveSessionKeys } from './crypto.ts';
import type { AuthAlgorithmId } from './cipher-suites.ts';
import { IpmiAuthenticationError, IpmiDecodeError } from './errors.ts';
import { decodeRequest, decodeResponse } from './message.ts';
import {
  decodeOpenSessionRequest,
  decodeOpenSessionResponse,
  decodeRakp1,
  decodeRakp2,
  decodeRakp3,
  decodeRakp4,
  encodeOpenSessionRequest,
  encodeOpenSessionResponse,
  encodeRakp1,
  encodeRakp2,
  encodeRakp3,
  encodeRakp4,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4IntegrityCheckValue,
  sessionIntegrityKey,
  verifyRakp2,
  verifyRakp3,
  verifyRakp4,
} from './rakp.ts';
import type { RakpExchange } from './rakp.ts';
import { decodeSession20, encodeSession20 } from './session20.ts';
import { loadCapture, packet } from './testdata/load.ts';

const cap = loadCapture('ipmitool-lanplus-c3-ipmi-sim');
const payload = (n: number) => decodeSession20(packet(cap, n)).payload;

const open = decodeOpenSessionRequest(payload(2));
const opened = decodeOpenSessionResponse(payload(3));
const rakp1 = decodeRakp1(payload(4));
const rakp2 = decodeRakp2(payload(5));
const rakp3 = decodeRakp3(payload(6));
const rakp4 = decodeRakp4(payload(7));
const exchange: RakpExchange = {
  auth: opened.auth as AuthAlgorithmId,
  consoleSessionId: open.consoleSessionId,
  bmcSessionId: opened.bmcSessionId,
  consoleRandom: rakp1.consoleRandom,
  bmcRandom: rakp2.bmcRandom,
  bmcGuid: rakp2.bmcGuid,
  role: rakp1.role,
  userName: rakp1.userName,
};

test('Open Session messages decode to suite 3 and re-encode byte for byte', () => {
  assert.equal(open.consoleSessionId, 0xa0a2a3a4);
  assert.equal(findCipherSuite(open.auth ?? -1, open.integrity ?? -1, open.confidentiality ?? -1)?.id, 3);
  assert.equal(opened.status, 0);
  assert.equal(opened.bmcSessionId, 0x82);
  assert.deepEqual(encodeOpenSessionRequest(open), payload(2));
  assert.deepEqual(encodeOpenSessionResponse(opened), payload(3));
});

test('RAKP 1-4 decode and re-encode byte for byte', () => {
  assert.equal(rakp1.userName.toString(), 'admin');
  assert.equal(rakp1.role, 0x14, 'administrator, name-only lookup');
  assert.equal(rakp2.bmcGuid.toString('hex'), 'a123456789abcdefa123456789abcdef');
  assert.deepEqual(encodeRakp1(rakp1), payload(4));
  assert.deepEqual(encodeRakp2(rakp2), payload(5));
  assert.deepEqual(encodeRakp3(rakp3), payload(6));
  assert.deepEqual(encodeRakp4(rakp4), payload(7));
});

test('RAKP2 HMAC computed by ipmi_sim and RAKP3 HMAC computed by ipmitool both verify', () => {
  assert.equal(exchange.auth, AuthAlgorithm.HMAC_SHA1);
  assert.deepEqual(rakp2AuthCode(exchange, 'password'), rakp2.keyExchangeAuthCode);
  assert.deepEqual(rakp3AuthCode(exchange, 'password'), rakp3.keyExchangeAuthCode);
  verifyRakp2(exchange, 'password', rakp2.keyExchangeAuthCode);
  verifyRakp3(exchange, 'password', rakp3.keyExchangeAuthCode);
  assert.throws(() => verifyRakp3(exchange, 'Password', rakp3.keyExchangeAuthCode), IpmiAuthenticationError);
});

test("SIK gives ipmi_sim's RAKP4 ICV, and K1/K2 verify and decrypt the session's packets", () => {
  const sik = sessionIntegrityKey(exchange, 'password');
  assert.deepEqual(rakp4IntegrityCheckValue(exchange, sik), rakp4.integrityCheckValue);
  verifyRakp4(exchange, sik, rakp4.integrityCheckValue);
  assert.throws(() => verifyRakp4(exchange, sessionIntegrityKey(exchange, 'password', 'some-kg'), rakp4.integrityCheckValue), IpmiAuthenticationError);

  const keys = deriveSessionKeys(exchange.auth, sik, opened.integrity as 1, opened.confidentiality as 1);
  const setPriv = decodeSession20(packet(cap, 8), keys);
  assert.equal(setPriv.payloadType, PayloadType.IPMI);
  assert.equal(setPriv.encrypted && setPriv.authenticated, true);
  assert.equal(setPriv.sessionId, opened.bmcSessionId);
  const req = decodeRequest(setPriv.payload);
  assert.equal(req.command, AppCmd.SET_SESSION_PRIVILEGE_LEVEL);
  assert.deepEqual([...req.data], [4]);

  // Re-encrypting with the captured IV reproduces ipmitool's packet exactly.
  const iv = packet(cap, 8).subarray(16, 32);
  assert.deepEqual(
    encodeSession20({ payloadType: PayloadType.IPMI, sessionId: setPriv.sessionId, sequence: setPriv.sequence, payload: setPriv.payload }, keys, iv),
    packet(cap, 8),
  );

  // Every later packet in both directions verifies and decrypts to a well-formed message.
  let sawChassisStatus = false;
  for (const { from, bytes } of cap.slice(8)) {
    const p = decodeSession20(bytes, keys);
    if (from === 'console') {
      if (decodeRequest(p.payload).command === ChassisCmd.GET_CHASSIS_STATUS && decodeRequest(p.payload).netFn === 0) sawChassisStatus = true;
    } else {
      decodeResponse(p.payload);
    }
  }
  assert.ok(sawChassisStatus);

  // One flipped bit anywhere after the RMCP header fails the integrity check.
  const tampered = Buffer.from(packet(cap, 8));
  tampered[20] = (tampered[20] as number) ^ 0x10;
  assert.throws(() => decodeSession20(tampered, keys), IpmiAuthenticationError);
});

test('truncated RAKP messages are IpmiDecodeError', () => {
  for (const [decode, n] of [
    [decodeRakp1, 4],
    [decodeRakp2, 5],
    [decodeOpenSessionRequest, 2],
  ] as const) {
    const whole = payload(n);
    assert.throws(() => decode(whole.subarray(0, 20)), IpmiDecodeError);
  }
});

// Suite 17 (RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128): ipmitool 1.8.19 logging in to
// anvil's emulator. The RAKP3 HMAC and every console packet's integrity code and AES
// encryption were computed by ipmitool, so they check anvil's SHA-256 path independently.
test('suite 17 vector from ipmitool: RAKP3 HMAC-SHA256, SIK, HMAC-SHA256-128 and AES verify', () => {
  const c17 = loadCapture('ipmitool-lanplus-c17-anvil');
  const p = (n: number) => decodeSession20(packet(c17, n)).payload;
  const req = decodeOpenSessionRequest(p(2));
  const res = decodeOpenSessionResponse(p(3));
  assert.equal(findCipherSuite(req.auth ?? -1, req.integrity ?? -1, req.confidentiality ?? -1)?.id, 17);
  assert.deepEqual([res.auth, res.integrity, res.confidentiality], [3, 4, 1], 'the BMC granted exactly suite 17');
  const r1 = decodeRakp1(p(4));
  const r2 = decodeRakp2(p(5));
  const r3 = decodeRakp3(p(6));
  const r4 = decodeRakp4(p(7));
  const x: RakpExchange = {
    auth: AuthAlgorithm.HMAC_SHA256,
    consoleSessionId: req.consoleSessionId,
    bmcSessionId: res.bmcSessionId,
    consoleRandom: r1.consoleRandom,
    bmcRandom: r2.bmcRandom,
    bmcGuid: r2.bmcGuid,
    role: r1.role,
    userName: r1.userName,
  };
  assert.equal(r2.keyExchangeAuthCode.length, 32);
  verifyRakp3(x, 'password', r3.keyExchangeAuthCode);
  const sik = sessionIntegrityKey(x, 'password');
  assert.equal(r4.integrityCheckValue.length, 16);
  verifyRakp4(x, sik, r4.integrityCheckValue);
  const keys = deriveSessionKeys(AuthAlgorithm.HMAC_SHA256, sik, 4, 1);
  const commands = c17
    .slice(8)
    .filter((q) => q.from === 'console')
    .map((q) => decodeRequest(decodeSession20(q.bytes, keys).payload));
  assert.ok(commands.some((m) => m.netFn === 0 && m.command === ChassisCmd.GET_CHASSIS_STATUS));
  assert.equal(commands.at(-1)?.command, AppCmd.CLOSE_SESSION);
});
