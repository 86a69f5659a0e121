// The pages' sessions: a token typed into /login becomes a server-side session (sessions.ts)
// whose id is the HttpOnly, SameSite=Strict `anvil_session` cookie, which counts on the pages
// only (never on the API). State-changing forms carry a CSRF token derived from the session's
// secret (its id, so it needs no state of its own) and must come from this origin. PageAuth is
// what every page and form asks first.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Tokens, Role } from './tokens.ts';
import { roleAllows } from './tokens.ts';
import { identify, sessionCookieOf, type Caller } from './caller.ts';
import type { WebSessions } from './sessions.ts';
import { AnvilError } from '../common/errors.ts';

export const CSRF_FIELD = '_csrf';

/** What every page's layout needs about the person looking at it. */
export interface Viewer {
  readonly name: string;
  readonly role: Role;
  readonly operator: boolean;
  readonly csrf: string;
}

function sessionSecret(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  return sessionCookieOf(request);
}

export function csrfTokenFor(secret: string): string {
  return createHash('sha256').update('anvil-web-csrf\0').update(secret).digest('base64url');
}

/** Only a path on this server: never `//other.host` or an absolute URL (no open redirect). */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || next.startsWith('/login')) return '/';
  return /[\u0000-\u001f]/.test(next) ? '/' : next;
}

/** True unless the browser says the request came from another site. */
export function sameOrigin(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin') return false;
  const origin = request.headers.origin;
  if (typeof origin === 'string') {
    try {
      return new URL(origin).host === request.headers.host;
    } catch {
      return false;
    }
  }
  return true;
}

export class PageAuth {
  readonly #tokens: Tokens;
  readonly #sessions: WebSessions;

  constructor(tokens: Tokens, sessions: WebSessions) {
    this.#tokens = tokens;
    this.#sessions = sessions;
  }

  /** The signed-in viewer, or undefined after redirecting to /login (GET) or refusing (POST). */
  async viewer(request: FastifyRequest, reply: FastifyReply, role: Role = 'viewer'): Promise<Viewer | undefined> {
    const caller = await identify(this.#tokens, request, this.#sessions);
    if (!caller) {
      await reply.redirect(`/login?next=${encodeURIComponent(request.method === 'GET' ? request.url : '/')}`, 303);
      return undefined;
    }
    if (!roleAllows(caller.role, role)) {
      throw new AnvilError('FORBIDDEN', 'forbidden', `this needs the ${role} role; you are signed in as '${caller.name}' (${caller.role})`);
    }
    return this.#viewerOf(caller, request);
  }

  /** Like viewer(), for a form POST: also checks the CSRF token and the origin. */
  async formViewer(request: FastifyRequest, reply: FastifyReply, role: Role): Promise<Viewer | undefined> {
    const viewer = await this.viewer(request, reply, role);
    if (!viewer) return undefined;
    const sent = (request.body as Record<string, unknown> | undefined)?.[CSRF_FIELD];
    if (!sameOrigin(request) || typeof sent !== 'string' || !equal(sent, viewer.csrf)) {
      throw new AnvilError(
        'CSRF_REJECTED',
        'forbidden',
        'this form did not come from an anvil page (its security token is missing or stale); reload the page and try again',
      );
    }
    return viewer;
  }

  #viewerOf(caller: Caller, request: FastifyRequest): Viewer {
    return { name: caller.name, role: caller.role, operator: roleAllows(caller.role, 'operator'), csrf: csrfTokenFor(sessionSecret(request) ?? '') };
  }
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
