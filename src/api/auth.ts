// Who is calling: an API client with `Authorization: Bearer <token>`, or a person signed in
// to the pages with the token in a cookie. Machine-facing routes take no token at all.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AnvilError } from '../common/errors.ts';
import { roleAllows, type Role, type Tokens } from '../auth/tokens.ts';

export const SESSION_COOKIE = 'anvil_token';

export interface Caller {
  readonly tokenId: number;
  readonly name: string;
  readonly role: Role;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  const cookies = (request as FastifyRequest & { cookies?: Record<string, string | undefined> }).cookies;
  return cookies?.[SESSION_COOKIE];
}

/** The caller, or undefined when the request carries no valid token. */
export async function identify(tokens: Tokens, request: FastifyRequest): Promise<Caller | undefined> {
  if (request.caller) return request.caller;
  const token = tokenOf(request);
  if (!token) return undefined;
  const record = await tokens.verify(token);
  if (!record) return undefined;
  void tokens.touch(record.id).catch(() => undefined);
  request.caller = { tokenId: record.id, name: record.name, role: record.role as Role };
  return request.caller;
}

/** A preHandler that requires at least `role`: 401 without a valid token, 403 with too small a role. */
export function requireRole(tokens: Tokens, role: Role) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const caller = await identify(tokens, request);
    if (!caller)
      throw new AnvilError(
        'UNAUTHORIZED',
        'unauthorized',
        'this route needs an API token: send "Authorization: Bearer <token>" (make one with: bin/anvil token create --role viewer)',
      );
    if (!roleAllows(caller.role, role))
      throw new AnvilError('FORBIDDEN', 'forbidden', `this needs the ${role} role; token '${caller.name}' has ${caller.role}`);
  };
}
