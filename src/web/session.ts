// Signing in to the pages: GET/POST /login turns a token into the session cookie, POST /logout
// forgets it (the session rules are src/auth/web-session.ts).
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Liquid } from 'liquidjs';
import type { Tokens } from '../auth/tokens.ts';
import { SESSION_COOKIE } from '../auth/caller.ts';
import { SESSION_MAX_AGE_S, safeNext, sameOrigin } from '../auth/web-session.ts';
import { AnvilError } from '../common/errors.ts';

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
