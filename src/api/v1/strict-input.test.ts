import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteOptions } from 'fastify';
import { closeBodySchemas, formatSchemaErrors } from './strict-input.ts';

const route = (body: unknown) => ({ method: 'POST', url: '/api/v1/x', handler: () => undefined, schema: { body } }) as RouteOptions;

test('closeBodySchemas closes every object of a body, through arrays and alternatives, but not allOf parts', () => {
  const r = route({
    type: 'object',
    properties: {
      inner: { type: 'object', properties: { a: { type: 'string' } } },
      list: { type: 'array', items: { type: 'object', properties: { b: { type: 'string' } } } },
      either: { anyOf: [{ type: 'object', properties: { c: { type: 'string' } } }, { type: 'string' }] },
      map: { type: 'object', patternProperties: { '^.*$': { type: 'string' } } },
      open: { type: 'object', properties: {}, additionalProperties: true },
      both: { allOf: [{ type: 'object', properties: { d: { type: 'string' } } }] },
    },
  });
  closeBodySchemas(r);
  const body = (r.schema as { body: Record<string, any> }).body;
  assert.equal(body.additionalProperties, false);
  assert.equal(body.properties.inner.additionalProperties, false);
  assert.equal(body.properties.list.items.additionalProperties, false);
  assert.equal(body.properties.either.anyOf[0].additionalProperties, false);
  assert.equal(body.properties.map.additionalProperties, undefined, 'a record keeps its pattern');
  assert.equal(body.properties.open.additionalProperties, true, 'an explicit choice stays');
  assert.equal(body.properties.both.allOf[0].additionalProperties, undefined);
  const untouched = route({ type: 'object', properties: {} });
  const original = (untouched.schema as { body: object }).body;
  closeBodySchemas(untouched);
  assert.deepEqual(original, { type: 'object', properties: {} }, "the route author's schema object is not mutated");
});

test('formatSchemaErrors names an unknown property, and keeps the path for other errors', () => {
  const unknown = {
    keyword: 'additionalProperties',
    instancePath: '',
    schemaPath: '#',
    params: { additionalProperty: 'persistant' },
    message: 'must NOT have additional properties',
  };
  const typed = { keyword: 'type', instancePath: '/persistent', schemaPath: '#', params: { type: 'boolean' }, message: 'must be boolean' };
  const nested = { ...unknown, instancePath: '/driver_info', params: { additionalProperty: 'pasword' } };
  assert.equal(formatSchemaErrors([unknown], 'body').message, "unknown property 'persistant' in body");
  assert.equal(formatSchemaErrors([typed], 'body').message, 'body/persistent must be boolean');
  assert.equal(formatSchemaErrors([nested, typed], 'body').message, "unknown property 'pasword' in body/driver_info, body/persistent must be boolean");
});
