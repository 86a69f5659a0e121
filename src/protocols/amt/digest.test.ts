import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAuthorization, buildChallenge, digestResponse, formatNonceCount, parseAuthorization, parseChallenge, verifyAuthorization } from './digest.ts';

test('digest response matches the RFC 2617 §3.5 worked example', () => {
  assert.equal(
    digestResponse({
      username: 'Mufasa',
      password: 'Circle Of Life',
      realm: 'testrealm@host.com',
      method: 'GET',
      uri: '/dir/index.html',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
    }),
    '6629fae49393a05397450978507c4ef1',
  );
});

test('parses an AMT challenge, with quoted, escaped and stale parameters', () => {
  const c = parseChallenge('Digest realm="Digest:A3829B3827DE4D33D4449B366831FD01", nonce="abc\\"def", stale=TRUE, qop="auth,auth-int", opaque="x"');
  assert.deepEqual(c, {
    realm: 'Digest:A3829B3827DE4D33D4449B366831FD01',
    nonce: 'abc"def',
    qop: 'auth,auth-int',
    opaque: 'x',
    algorithm: undefined,
    stale: true,
  });
  assert.equal(parseChallenge('Basic realm="x"'), undefined);
  assert.equal(parseChallenge('Digest realm="x"'), undefined, 'a challenge without a nonce is useless');
  assert.equal(parseChallenge(undefined), undefined);
});

test('an Authorization built for a challenge verifies with the right password only', () => {
  const challenge = parseChallenge(buildChallenge({ realm: 'r', nonce: 'n1', opaque: 'o' }))!;
  const header = buildAuthorization({ challenge, username: 'admin', password: 'P@ss"w0rd', method: 'POST', uri: '/wsman', nonceCount: 10, cnonce: 'c0ffee' });
  const credentials = parseAuthorization(header)!;
  assert.equal(credentials.nc, '0000000a');
  assert.equal(credentials.qop, 'auth');
  assert.equal(credentials.opaque, 'o');
  assert.equal(credentials.uri, '/wsman');
  assert.ok(!header.includes('P@ss'), 'the password never appears in the header');
  assert.equal(verifyAuthorization(credentials, 'P@ss"w0rd', 'POST'), true);
  assert.equal(verifyAuthorization(credentials, 'wrong', 'POST'), false);
  assert.equal(verifyAuthorization(credentials, 'P@ss"w0rd', 'GET'), false, 'the method is part of the hash');
});

test('verifies an Authorization exactly as LWP (amttool) formats it', () => {
  // LWP::Authen::Digest: qop and nc unquoted, algorithm quoted, upper-case hex nc.
  const nonce = '843a9b4667347a323189bf7e9ccd2412';
  const response = digestResponse({
    username: 'admin',
    password: 'pw',
    realm: 'Digest:A3829B3827DE4D33D4449B366831FD01',
    method: 'POST',
    uri: '/RemoteControlService',
    nonce,
    qop: 'auth',
    nc: '0000000A',
    cnonce: '6b01326a',
  });
  const header = `Digest username="admin", realm="Digest:A3829B3827DE4D33D4449B366831FD01", qop=auth, algorithm="MD5", uri="/RemoteControlService", nonce="${nonce}", nc=0000000A, cnonce="6b01326a", response="${response}"`;
  const credentials = parseAuthorization(header)!;
  assert.equal(verifyAuthorization(credentials, 'pw', 'POST'), true);
  assert.equal(Number.parseInt(credentials.nc!, 16), 10);
});

test('without qop the RFC 2069 form is used; an unknown algorithm is refused', () => {
  const challenge = parseChallenge('Digest realm="r", nonce="n"')!;
  const header = buildAuthorization({ challenge, username: 'u', password: 'p', method: 'POST', uri: '/', nonceCount: 1, cnonce: 'c' });
  assert.ok(!header.includes('qop='));
  const credentials = parseAuthorization(header)!;
  assert.equal(verifyAuthorization(credentials, 'p', 'POST'), true);
  assert.equal(verifyAuthorization({ ...credentials, algorithm: 'SHA-256' }, 'p', 'POST'), false);
  assert.equal(formatNonceCount(255), '000000ff');
  assert.equal(parseAuthorization('Digest username="u"'), undefined);
});
