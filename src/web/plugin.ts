// The web pages as one fastify plugin: sign-in, the pages, their stylesheet, HTML error
// pages and the security headers they share. Mounted by the composition root beside the API.
import { readFileSync } from 'node:fs';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { WebContext } from './context.ts';
import { AnvilError } from '../common/errors.ts';
import { createViews } from './views.ts';
import { PageAuth } from '../auth/web-session.ts';
import { sessionRoutes } from './session.ts';
import { pageRoutes } from './pages.ts';
import { LiveFeed, liveRoutes, type LiveOptions } from './live.ts';
import { consolePage, consoleSocketRoute, type ConsoleSource } from './console.ts';

export const STYLESHEET_PATH = '/static/anvil.css';
export const SCRIPT_PATH = '/static/live.js';
export const CONSOLE_SCRIPT_PATH = '/static/console.js';
const stylesheet = readFileSync(new URL('./static/anvil.css', import.meta.url));
const script = readFileSync(new URL('./static/live.js', import.meta.url));
const consoleScript = readFileSync(new URL('./static/console.js', import.meta.url));

/**
 * Scripts only from this origin, none inline, nothing from elsewhere: an upload that slipped
 * through escaping still could not run. connect-src lets live.js follow /events and re-read its page.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
} as const;

export interface WebOptions {
  readonly live?: LiveOptions;
  /** Where machines' consoles come from; without it there is no console page. */
  readonly consoles?: ConsoleSource;
}

export async function webRoutes(app: FastifyInstance, ctx: WebContext, options: WebOptions = {}): Promise<void> {
  const views = createViews();
  const auth = new PageAuth(ctx.tokens, ctx.sessions);

  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(PAGE_HEADERS)) if (!reply.hasHeader(name)) reply.header(name, value);
    return payload;
  });

  app.setErrorHandler(async (thrown: FastifyError | AnvilError, request, reply) => {
    const error = ctx.databaseAway?.(thrown) ?? thrown;
    const status = error instanceof AnvilError ? error.httpStatus : error.validation ? 400 : (error.statusCode ?? 500);
    if (error !== thrown) request.log.warn(`page failed: ${error.message}`);
    else if (status >= 500) request.log.error({ err: error }, 'page failed');
    const message = status >= 500 && !(error instanceof AnvilError) ? 'internal error; see the server log' : error.message;
    const viewer = request.caller ? { name: request.caller.name, role: request.caller.role } : undefined;
    return reply
      .status(status)
      .type('text/html; charset=utf-8')
      .send(await views.renderFile('error', { title: `Error ${status}`, status, message, viewer }));
  });

  app.get(STYLESHEET_PATH, { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(stylesheet),
  );
  app.get(SCRIPT_PATH, { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(script),
  );

  app.get(CONSOLE_SCRIPT_PATH, { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(consoleScript),
  );

  app.addHook('onRoute', (route) => {
    route.schema = { ...(route.schema ?? {}), hide: true };
  });
  sessionRoutes(app, ctx.tokens, ctx.sessions, views);
  pageRoutes(app, ctx, views, auth);
  liveRoutes(app, ctx.tokens, ctx.sessions, new LiveFeed(ctx, options.live), PAGE_HEADERS);
  if (options.consoles) {
    consolePage(app, views, auth, ctx.machines, { pageCsp: PAGE_HEADERS['content-security-policy'], script: CONSOLE_SCRIPT_PATH });
    consoleSocketRoute(app, ctx.tokens, ctx.sessions, options.consoles);
  }
}
