// The API takes what its schemas say and nothing else: a misspelled property is a 400 naming it
// (Fastify's default silently dropped it and answered 200), a body is never coerced ("true" is
// not a boolean, ["x"] not a string), bodies are JSON, and the sign-in cookie is no API
// credential — so the cross-site form post of issue 15 makes no token. Query strings still
// coerce, as they can only be strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testAnvil } from '../helpers/anvil-inproc.ts';

async function refusal(response: Response): Promise<[number, string]> {
  return [response.status, ((await response.json()) as { error: { message: string } }).error.message];
}

test('a misspelled or mistyped body property is a 400 naming it, and changes nothing', async (t) => {
  const a = await testAnvil(t);
  await a.services.machines.add('m1', ['52:54:00:00:00:01']);
  assert.equal((await a.api('/api/v1/machines/m1', { method: 'PATCH', json: { driver: 'fake', driver_info: {} } })).status, 200);
  const put = (path: string, json: unknown, method = 'PUT') => a.api(`/api/v1/machines/m1${path}`, { method, json });

  assert.deepEqual(await refusal(await put('/boot-device', { device: 'pxe', persistant: true })), [400, "unknown property 'persistant' in body"]);
  assert.deepEqual(await refusal(await put('/power', { target: 'on', timout: 5 })), [400, "unknown property 'timout' in body"]);
  assert.deepEqual(await refusal(await put('', { driver: 'fake', replase: true }, 'PATCH')), [400, "unknown property 'replase' in body"]);
  assert.deepEqual(await refusal(await put('/boot-device', { device: 'pxe', persistent: 'true' })), [400, 'body/persistent must be boolean']);
  assert.deepEqual(await refusal(await put('/next-boot', { profile: ['install'] })), [400, 'body/profile must be string']);
  const enroll = await a.api('/api/v1/machines', { method: 'POST', json: { name: ['m2'], macs: ['52:54:00:00:00:02'] } });
  assert.deepEqual(await refusal(enroll), [400, 'body/name must be string']);
  // Nested objects are closed too.
  const tokens = await a.api('/api/v1/tokens', { method: 'POST', json: { role: 'viewer', nmae: 'ci' } });
  assert.deepEqual(await refusal(tokens), [400, "unknown property 'nmae' in body"]);

  // Nothing above changed anything; the same requests spelled right do.
  assert.deepEqual(
    (await a.services.machines.list()).map((m) => m.name),
    ['m1'],
  );
  const boot = await put('/boot-device', { device: 'pxe', persistent: true });
  assert.equal(boot.status, 200);
  assert.equal(((await boot.json()) as { persistent: boolean }).persistent, true);
  assert.equal((await put('/next-boot', { profile: 'install', once: true })).status, 200);
  // A query string still coerces its numbers.
  assert.equal((await a.api('/api/v1/machines/m1/events?limit=2')).status, 200);
  assert.deepEqual(await refusal(await a.api('/api/v1/machines/m1/events?limit=zero')), [400, 'querystring/limit must be integer']);
});

test("the sign-in cookie is no API credential, and bodies are JSON: issue 15's cross-site form post makes no token", async (t) => {
  const a = await testAnvil(t);
  const before = ((await (await a.api('/api/v1/tokens')).json()) as unknown[]).length;
  const cookie = await a.signIn();
  const attack = await fetch(`${a.url}/api/v1/tokens`, {
    method: 'POST',
    headers: {
      cookie,
      origin: 'http://evil.example',
      'sec-fetch-site': 'cross-site',
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'role=admin&name=x',
  });
  const [status, message] = await refusal(attack);
  assert.equal(status, 401);
  assert.match(message, /takes "Authorization: Bearer <token>" only, not the pages' sign-in cookie/);
  // Same-origin, with the cookie and a JSON body: still not an API credential.
  const sameSite = await fetch(`${a.url}/api/v1/tokens`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: '{"role":"admin","name":"x"}',
  });
  assert.equal(sameSite.status, 401);
  // A bearer token with a form body: 415, and the message says what to send.
  const form = await a.api('/api/v1/tokens', { method: 'POST', body: 'role=admin&name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.deepEqual(await refusal(form), [415, "the API takes JSON bodies only (Content-Type: application/json), not 'application/x-www-form-urlencoded'"]);
  const plain = await a.api('/api/v1/profiles/sync', { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
  assert.equal(plain.status, 415);
  assert.equal(((await (await a.api('/api/v1/tokens')).json()) as unknown[]).length, before, 'no token was made');
  // A change without a body needs no content type; /metrics takes the bearer token only as well.
  assert.equal((await a.api('/api/v1/profiles/sync', { method: 'POST' })).status, 200);
  assert.equal((await fetch(`${a.url}/metrics`, { headers: { cookie } })).status, 401);
  assert.equal((await a.api('/metrics')).status, 200);
});
