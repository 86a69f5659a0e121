// Every route of the OpenAPI document, walked: without a token each answers 401 (before its
// body is even read), and a viewer's token on every route that changes something answers 403.
// A route added without thought for who may call it fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testAnvil } from '../helpers/anvil-inproc.ts';

interface Operation {
  readonly security?: unknown[];
}
type OpenApi = { paths: Record<string, Record<string, Operation>> };

const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;
const SAMPLES: Record<string, string> = { name: 'sweep-01', mac: '52:54:00:5e:00:01', id: '1' };

/** /machines/{name}/power → /machines/sweep-01/power */
function concrete(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_m, param: string) => encodeURIComponent(SAMPLES[param] ?? 'x'));
}

test('every API route refuses a caller without a token, and a viewer on every route that changes something', async (t) => {
  const a = await testAnvil(t);
  await a.services.machines.add('sweep-01', ['52:54:00:5e:00:01']);
  const viewer = (await a.services.tokens.create('viewer', 'sweep')).token;
  const doc = (await (await fetch(`${a.url}/api/v1/openapi.json`)).json()) as OpenApi;
  const wrong: string[] = [];
  let checked = 0;
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const operation = operations[method];
      if (!operation) continue;
      const url = `${a.url}/api/v1${concrete(path.replace(/^\/api\/v1/, ''))}`;
      const label = `${method.toUpperCase()} ${path}`;
      const isPublic = Array.isArray(operation.security) && operation.security.length === 0;
      // A body the schema would refuse: authentication must come first.
      const init = {
        method: method.toUpperCase(),
        headers: { 'content-type': 'application/json' },
        body: method === 'get' || method === 'delete' ? undefined : '{"bogus": [1]}',
      };
      const anonymous = await fetch(url, init);
      await anonymous.arrayBuffer();
      if (isPublic) {
        if (anonymous.status === 401) wrong.push(`${label}: public, but 401 without a token`);
      } else if (anonymous.status !== 401) {
        wrong.push(`${label}: ${anonymous.status} without a token, expected 401`);
      }
      if (method !== 'get' && !isPublic) {
        const asViewer = await fetch(url, { ...init, headers: { ...init.headers, authorization: `Bearer ${viewer}` } });
        await asViewer.arrayBuffer();
        if (asViewer.status !== 403) wrong.push(`${label}: ${asViewer.status} with a viewer token, expected 403`);
      }
      checked++;
    }
  }
  assert.ok(checked >= 25, `only ${checked} operations in the OpenAPI document`);
  assert.deepEqual(wrong, []);
});
