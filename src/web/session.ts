// Signing in to the pages: GET/POST /login turns a token into a server-side session whose id
// is the cookie, POST /logout ends that session (the session rules are src/auth/web-session.ts
// and src/auth/sessions.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Liquid } from 'liquidjs';
import type { Tokens } from '../auth/tokens.ts';
import { LEGACY_TOKEN_COOKIE, SESSION_COOKIE, sessionCookieOf } from '../auth/caller.ts';
import { SESSION_MAX_AGE_S, type WebSessions } from '../auth/sessions.ts';
import { safeNext, sameOrigin } from '../auth/web-session.ts';
import { AnvilError } from '../common/errors.ts';

/** A browser signed in before sessions kept the token itself in a cookie: take it away. */
function dropLegacyCookie(request: FastifyRequest, reply: FastifyReply): void {
  if (request.cookies[LEGACY_TOKEN_COOKIE] !== undefined) reply.clearCookie(LEGACY_TOKEN_COOKIE, { path: '/' });
}

/** GET/POST /login and POST /logout. */
export function sessionRoutes(app: FastifyInstance, tokens: Tokens, sessions: WebSessions, views: Liquid): void {
  const form = async (reply: FastifyReply, status: number, next: string, message?: string) =>
    reply
      .status(status)
      .type('text/html; charset=utf-8')
      .send(await views.renderFile('login', { title: 'Sign in', next, message }));

  app.get<{ Querystring: { next?: string } }>('/login', async (request, reply) => {
    dropLegacyCookie(request, reply);
    return form(reply, 200, safeNext(request.query.next));
  });

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
    // Signing in again replaces this browser's session rather than leaving the old one alive.
    const previous = sessionCookieOf(request);
    if (previous !== undefined) await sessions.end(previous);
    const session = await sessions.create(record.id);
    dropLegacyCookie(request, reply);
    reply.setCookie(SESSION_COOKIE, session.id, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: request.protocol === 'https',
      maxAge: SESSION_MAX_AGE_S,
    });
    return reply.redirect(next, 303);
  });

  app.post('/logout', async (request, reply) => {
    if (!sameOrigin(request)) throw new AnvilError('CSRF_REJECTED', 'forbidden', 'sign out from an anvil page');
    const id = sessionCookieOf(request);
    if (id !== undefined) await sessions.end(id);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    dropLegacyCookie(request, reply);
    return reply.redirect('/login', 303);
  });
}
