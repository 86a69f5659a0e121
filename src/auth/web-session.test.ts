import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyRequest } from 'fastify';
import { csrfTokenFor, safeNext, sameOrigin } from './web-session.ts';

const request = (headers: Record<string, string>) => ({ headers: { host: 'anvil.lab:8080', ...headers } }) as unknown as FastifyRequest;

test('safeNext only returns paths on this server', () => {
  assert.equal(safeNext('/machines/demo-01?x=1'), '/machines/demo-01?x=1');
  for (const bad of ['//evil.example/', 'https://evil.example/', '/\\evil.example', 'machines', '', undefined, 42, '/login?next=/', '/a\r\nSet-Cookie: x']) {
    assert.equal(safeNext(bad), '/', String(bad));
  }
});

test('sameOrigin refuses other sites and accepts this one', () => {
  assert.equal(sameOrigin(request({})), true, 'no browser headers: curl and the like');
  assert.equal(sameOrigin(request({ 'sec-fetch-site': 'same-origin', origin: 'http://anvil.lab:8080' })), true);
  assert.equal(sameOrigin(request({ 'sec-fetch-site': 'cross-site' })), false);
  assert.equal(sameOrigin(request({ 'sec-fetch-site': 'same-site' })), false);
  assert.equal(sameOrigin(request({ origin: 'http://evil.example' })), false);
  assert.equal(sameOrigin(request({ origin: 'null' })), false);
});

test('the CSRF token is derived from the session and does not reveal it', () => {
  const a = csrfTokenFor('anvil_secret-a');
  assert.equal(a, csrfTokenFor('anvil_secret-a'));
  assert.notEqual(a, csrfTokenFor('anvil_secret-b'));
  assert.ok(!a.includes('secret'));
});
