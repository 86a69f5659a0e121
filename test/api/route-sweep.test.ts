// Every route of the OpenAPI document the server serves, walked: without a token, with a
// garbage one, or with only the pages' sign-in cookie each answers 401 (before its body is even
// read); a viewer's token on every route that changes something answers 403; a form-encoded
// body is a 415; and a body with one property the schema does not name is a 400 naming it.
// A route added without thought for who may call it, or for what it accepts, fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testAnvil } from '../helpers/anvil-inproc.ts';

interface JsonSchema {
  readonly type?: string | string[];
  readonly properties?: Record<string, JsonSchema>;
  readonly required?: string[];
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly minimum?: number;
  readonly exclusiveMinimum?: number;
  readonly enum?: unknown[];
  readonly const?: unknown;
  readonly anyOf?: JsonSchema[];
  readonly oneOf?: JsonSchema[];
}
interface Operation {
  readonly security?: unknown[];
  readonly requestBody?: { content: Record<string, { schema: JsonSchema }> };
}
type OpenApi = { paths: Record<string, Record<string, Operation>> };

const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;
const SAMPLES: Record<string, string> = { name: 'sweep-01', mac: '52:54:00:5e:00:01', id: '1', image: 'sweep-image' };
/** Routes whose body is a stream of any type rather than JSON: the image upload (`curl -T`). */
const RAW_BODIES = new Set(['PUT /api/v1/images/{image}']);
const UNKNOWN = 'sweep_unknown_field';

/** /machines/{name}/power → /machines/sweep-01/power */
function concrete(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_m, param: string) => encodeURIComponent(SAMPLES[param] ?? 'x'));
}

/** A value the schema accepts in type (its required properties filled in), so only the unknown property is wrong. */
function sample(schema: JsonSchema): unknown {
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  const branch = schema.anyOf?.[0] ?? schema.oneOf?.[0];
  if (branch) return sample(branch);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object':
      return Object.fromEntries((schema.required ?? []).map((key) => [key, sample(schema.properties?.[key] ?? {})]));
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => sample(schema.items ?? {}));
    case 'integer':
    case 'number':
      return schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return 'x';
  }
}

async function statusAndMessage(response: Response): Promise<{ status: number; message: string }> {
  const text = await response.text();
  try {
    return { status: response.status, message: (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text };
  } catch {
    return { status: response.status, message: text };
  }
}

test('every API route refuses callers without a bearer token, a viewer where it changes something, and input it does not know', async (t) => {
  const a = await testAnvil(t);
  await a.services.machines.add('sweep-01', ['52:54:00:5e:00:01']);
  const viewer = (await a.services.tokens.create('viewer', 'sweep')).token;
  // A real sign-in of an admin, as the login page makes it.
  const cookie = await a.signIn();
  assert.match(cookie, /^anvil_session=[A-Za-z0-9_-]{43}$/, 'a session id, not the token');
  assert.equal((await fetch(`${a.url}/`, { headers: { cookie }, redirect: 'manual' })).status, 200, 'the cookie signs in to the pages');

  const doc = (await (await fetch(`${a.url}/api/v1/openapi.json`)).json()) as OpenApi;
  const wrong: string[] = [];
  const counts = { operations: 0, changing: 0, bodies: 0 };
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const operation = operations[method];
      if (!operation) continue;
      counts.operations++;
      const url = `${a.url}/api/v1${concrete(path.replace(/^\/api\/v1/, ''))}`;
      const label = `${method.toUpperCase()} ${path}`;
      const isPublic = Array.isArray(operation.security) && operation.security.length === 0;
      const changes = method !== 'get';
      // A body the schema would refuse: authentication must come first.
      const json = { 'content-type': 'application/json' };
      const bogus = changes && method !== 'delete' ? '{"bogus": [1]}' : undefined;
      const call = async (headers: Record<string, string>, body = bogus) =>
        statusAndMessage(await fetch(url, { method: method.toUpperCase(), headers: { ...json, ...headers }, body }));

      if (isPublic) {
        const anonymous = await call({});
        if (anonymous.status === 401) wrong.push(`${label}: public, but 401 without a token`);
        continue;
      }
      for (const [who, headers] of [
        ['without a token', {}],
        ['with a garbage token', { authorization: 'Bearer anvil_garbage-not-a-token' }],
        ['with only the sign-in cookie', { cookie }],
      ] as const) {
        const answer = await call(headers);
        if (answer.status !== 401) wrong.push(`${label}: ${answer.status} ${who}, expected 401`);
      }
      if (!changes) continue;
      counts.changing++;
      const asViewer = await call({ authorization: `Bearer ${viewer}` });
      if (asViewer.status !== 403) wrong.push(`${label}: ${asViewer.status} with a viewer token, expected 403`);
      if (!RAW_BODIES.has(label)) {
        const form = await call({ authorization: `Bearer ${a.token}`, 'content-type': 'application/x-www-form-urlencoded' }, 'role=admin&name=x');
        if (form.status !== 415 || !/JSON bodies only/.test(form.message))
          wrong.push(`${label}: ${form.status} for a form body, expected 415: ${form.message}`);
      }
      const schema = operation.requestBody?.content['application/json']?.schema;
      if (schema) {
        counts.bodies++;
        const body = { ...(sample(schema) as Record<string, unknown>), [UNKNOWN]: true };
        const answer = await call({ authorization: `Bearer ${a.token}` }, JSON.stringify(body));
        if (answer.status !== 400 || !answer.message.includes(`unknown property '${UNKNOWN}' in body`))
          wrong.push(`${label}: ${answer.status} for an unknown property, expected 400 naming it: ${answer.message}`);
      }
    }
  }
  for (const raw of RAW_BODIES) {
    const [method, path] = raw.split(' ') as [string, string];
    assert.ok(doc.paths[path]?.[method.toLowerCase()], `${raw} is still in the OpenAPI document`);
  }
  assert.ok(counts.operations >= 25, `only ${counts.operations} operations in the OpenAPI document`);
  assert.ok(counts.bodies >= 10, `only ${counts.bodies} operations with a JSON body`);
  assert.deepEqual(wrong, []);
  // Nothing the sweep sent was acted on: no token was made, no machine enrolled or removed.
  assert.deepEqual(
    (await a.services.machines.list()).map((m) => m.name),
    ['sweep-01'],
  );
  assert.equal(((await (await a.api('/api/v1/tokens')).json()) as unknown[]).length, 2, 'the sweep made no token');
});
