// Who is calling: an API client with `Authorization: Bearer <token>`, or a person signed in
// to the pages with the session cookie (sessions.ts: a session id, never the token). The API
// and /metrics take the bearer header only: a browser sends the cookie by itself, so honouring
// it there would let any page of the same site act as the signed-in person (the pages' own
// forms check CSRF and origin instead). Machine-facing routes take no token at all. Every
// /api/v1 route is guarded by one onRequest hook (before its body is read or validated) with
// the access its config names — or, when it names none, viewer for reads and operator for
// changes, so a new route cannot forget to be protected.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AnvilError } from '../common/errors.ts';
import { roleAllows, type Role, type Tokens } from './tokens.ts';
import type { WebSessions } from './sessions.ts';

/** The pages' sign-in cookie: a session id (sessions.ts). */
export const SESSION_COOKIE = 'anvil_session';
/** What the cookie was called when it held the API token itself; sign-in and sign-out clear it. */
export const LEGACY_TOKEN_COOKIE = 'anvil_token';

export interface Caller {
  readonly tokenId: number;
  readonly name: string;
  readonly role: Role;
}

/** What a route needs: a role, or nothing at all (`public`: health checks). */
export type Access = Role | 'public';

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
  interface FastifyContextConfig {
    /** Who may call an /api/v1 route; default viewer for GET and HEAD, operator otherwise. */
    access?: Access;
  }
}

function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

/** The session id in the pages' cookie, if the request has one. */
export function sessionCookieOf(request: FastifyRequest): string | undefined {
  return (request as FastifyRequest & { cookies?: Record<string, string | undefined> }).cookies?.[SESSION_COOKIE];
}

/**
 * The caller, or undefined when the request carries no valid credential: a bearer token, or,
 * when `sessions` is given (the pages), also a live session named by the cookie.
 */
export async function identify(tokens: Tokens, request: FastifyRequest, sessions?: WebSessions): Promise<Caller | undefined> {
  if (request.caller) return request.caller;
  const bearer = bearerOf(request);
  const cookie = sessions && bearer === undefined ? sessionCookieOf(request) : undefined;
  const record = bearer ? await tokens.verify(bearer) : cookie && sessions ? (await sessions.lookup(cookie))?.token : undefined;
  if (!record) return undefined;
  void tokens.touch(record.id).catch(() => undefined);
  request.caller = { tokenId: record.id, name: record.name, role: record.role as Role };
  return request.caller;
}

/** The access a route needs: its config's, else by method. */
export function accessOf(method: string, config: { access?: Access } | undefined): Access {
  return config?.access ?? (method === 'GET' || method === 'HEAD' ? 'viewer' : 'operator');
}

/** Requires a bearer token of at least `role`: 401 without a valid one, 403 with too small a role. */
export async function requireRole(tokens: Tokens, request: FastifyRequest, role: Role): Promise<Caller> {
  const caller = await identify(tokens, request);
  if (!caller)
    throw new AnvilError(
      'UNAUTHORIZED',
      'unauthorized',
      bearerOf(request) === undefined && sessionCookieOf(request) !== undefined
        ? 'the API takes "Authorization: Bearer <token>" only, not the pages\' sign-in cookie (make a token with: bin/anvil token create --role viewer)'
        : 'this route needs an API token: send "Authorization: Bearer <token>" (make one with: bin/anvil token create --role viewer)',
    );
  if (!roleAllows(caller.role, role)) throw new AnvilError('FORBIDDEN', 'forbidden', `this needs the ${role} role; token '${caller.name}' has ${caller.role}`);
  return caller;
}

/** The onRequest hook of the /api/v1 scope. */
export function apiAccessHook(tokens: Tokens) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const access = accessOf(request.method, request.routeOptions.config);
    if (access !== 'public') await requireRole(tokens, request, access);
  };
}
