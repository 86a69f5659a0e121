// What the operator API accepts as input: JSON bodies only, checked as written. Fastify's default
// Ajv drops properties a schema does not name and coerces types ("true" → true, ["x"] → "x"), so
// a misspelled `persistant` was silently ignored; under /api/v1 an unknown property is a 400
// naming it, and a body is never coerced. Query strings and path parameters still coerce
// ("?limit=5" is a number), as they can only be strings on the wire.
import { AjvCompiler, type BuildCompilerFromPool } from '@fastify/ajv-compiler';
import type { FastifyRequest, FastifySchemaValidationError, RouteOptions } from 'fastify';
import { AnvilError } from '../../common/errors.ts';

export const API_PREFIX = '/api/v1';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The body is a stream of any type (an image upload), not JSON. */
    rawBody?: true;
  }
}

/** Fastify's `schemaController.compilersFactory.buildValidator`: strict for the API, Fastify's defaults elsewhere. */
export function buildValidator(): BuildCompilerFromPool {
  const pool = AjvCompiler();
  return (externalSchemas, options = {}) => {
    const withOptions = (extra: Record<string, unknown>) =>
      pool(externalSchemas, { ...options, customOptions: { ...options.customOptions, ...extra } } as Parameters<BuildCompilerFromPool>[1]);
    const loose = withOptions({});
    const closed = withOptions({ removeAdditional: false });
    const exact = withOptions({ removeAdditional: false, coerceTypes: false });
    return (route) => {
      if (!route.url?.startsWith(`${API_PREFIX}/`)) return loose(route);
      return (route.httpPart === 'body' ? exact : closed)(route);
    };
  };
}

/** Fastify's `schemaErrorFormatter`: "unknown property 'persistant' in body", else Ajv's words with the path. */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const text = errors
    .map((e) => {
      const at = `${dataVar}${e.instancePath}`;
      const extra = (e.params as { additionalProperty?: unknown }).additionalProperty;
      if (e.keyword === 'additionalProperties' && typeof extra === 'string') return `unknown property '${extra}' in ${at}`;
      return `${at} ${e.message ?? 'is not valid'}`;
    })
    .join(', ');
  return new Error(text);
}

/** An `onRoute` hook for the API scope: every object of a body schema refuses properties it does not name. */
export function closeBodySchemas(route: RouteOptions): void {
  const schema = route.schema as { body?: unknown } | undefined;
  if (schema?.body !== undefined) route.schema = { ...route.schema, body: closed(schema.body) };
}

function closed(schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return schema;
  const s = { ...(schema as Record<string | symbol, unknown>) };
  if (typeof s.properties === 'object' && s.properties !== null) {
    s.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, closed(v)]));
    if (s.additionalProperties === undefined) s.additionalProperties = false;
  }
  if (s.items !== undefined) s.items = closed(s.items);
  // anyOf/oneOf branches are alternatives, each closed on its own; allOf parts are not (each would refuse the others' properties).
  for (const key of ['anyOf', 'oneOf'] as const) if (Array.isArray(s[key])) s[key] = (s[key] as unknown[]).map(closed);
  return s;
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** An `onRequest` hook for the API scope (after authentication): a body must be JSON. */
export async function jsonBodiesOnly(request: FastifyRequest): Promise<void> {
  if (request.routeOptions.config?.rawBody || !hasBody(request)) return;
  const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json')
    throw new AnvilError(
      'UNSUPPORTED_MEDIA_TYPE',
      'unsupported-media-type',
      `the API takes JSON bodies only (Content-Type: application/json), not ${type ? `'${type}'` : 'a body without a Content-Type'}`,
    );
}
