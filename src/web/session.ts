// Signing in to the pages: a token typed into /login becomes the HttpOnly, SameSite=Strict
// `anvil_token` cookie that src/api/auth.ts already reads. State-changing forms carry a CSRF
// token derived from the session's secret (so it needs no server state and survives restarts)
// and must come from this origin.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Liquid } from 'liquidjs';
import type { Tokens, Role } from '../auth/tokens.ts';
import { roleAllows } from '../auth/tokens.ts';
import { identify, SESSION_COOKIE, type Caller } from '../api/auth.ts';
import { AnvilError } from '../common/errors.ts';

/** How long the browser keeps the session cookie. */
export const SESSION_MAX_AGE_S = 12 * 60 * 60;
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
  return request.cookies[SESSION_COOKIE];
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

  constructor(tokens: Tokens) {
    this.#tokens = tokens;
  }

  /** The signed-in viewer, or undefined after redirecting to /login (GET) or refusing (POST). */
  async viewer(request: FastifyRequest, reply: FastifyReply, role: Role = 'viewer'): Promise<Viewer | undefined> {
    const caller = await identify(this.#tokens, request);
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

/** GET/POST /login and POST /logout. */
export function sessionRoutes(app: FastifyInstance, tokens: Tokens, views: Liquid): void {
  const form = async (reply: FastifyReply, status: number, next: string, message?: string) =>
    reply
      .status(status)
      .type('text/html; charset=utf-8')
      .send(await views.renderFile('login', { title: 'Sign in', next, message }));

  app.get<{ Querystring: { next?: string } }>('/login', async (request, reply) => form(reply, 200, safeNext(request.query.next)));

  app.post<{ Body: { token?: unknown; next?: unknown } }>('/login', async (request, reply) => {
    const next = safeNext(request.body?.next);
    if (!sameOrigin(request)) return form(reply, 403, next, 'This sign-in did not come from this server’s own page; open /login here and try again.');
    const token = typeof request.body?.token === 'string' ? request.body.token.trim() : '';
    if (token === '') return form(reply, 400, next, 'Paste an API token to sign in (make one with: bin/anvil token create --role viewer).');
    const record = await tokens.verify(token);
    if (!record)
      return form(
        reply,
        401,
        next,
        'That token is not valid: it may be mistyped, revoked, or from another anvil server. Check it, or make a new one with bin/anvil token create.',
      );
    void tokens.touch(record.id).catch(() => undefined);
    reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'strict', secure: request.protocol === 'https', maxAge: SESSION_MAX_AGE_S });
    return reply.redirect(next, 303);
  });

  app.post('/logout', async (request, reply) => {
    if (!sameOrigin(request)) throw new AnvilError('CSRF_REJECTED', 'forbidden', 'sign out from an anvil page');
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.redirect('/login', 303);
  });
}
