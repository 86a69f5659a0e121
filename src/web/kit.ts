// The two kinds of route every page is: a view that needs a signed-in viewer, and a form that
// needs a role, the CSRF token and this origin, then redirects with its answer in a cookie.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Liquid } from 'liquidjs';
import type { Role } from '../auth/tokens.ts';
import type { PageAuth, Viewer } from '../auth/web-session.ts';

export type PageRequest = FastifyRequest<{
  Params: Record<string, string>;
  Querystring: Record<string, string | undefined>;
  Body: Record<string, unknown> | undefined;
}>;

/** A form field as the one string the service validates ('' when absent). */
export const field = (request: PageRequest, name: string): string => {
  const value = request.body?.[name];
  return typeof value === 'string' ? value : '';
};
export const machinePath = (name: string) => `/machines/${encodeURIComponent(name)}`;

/** The cookie that carries a form's answer to the page it redirects to, read once. */
export const FLASH_COOKIE = 'anvil_flash';
/** Longest answer kept (a cookie is small). */
export const FLASH_MAX_CHARS = 400;

/** Where a form leads and, said on that page, what it did. */
export interface FormAnswer {
  readonly to: string;
  readonly flash: string;
}

/**
 * The two kinds of route every page is: a view that needs a signed-in viewer, and a form that
 * needs a role, the CSRF token and this origin, then redirects. Validation is the services'.
 */
export function pageKit(app: FastifyInstance, views: Liquid, auth: PageAuth) {
  const render = async (request: FastifyRequest, reply: FastifyReply, view: string, viewer: Viewer, data: Record<string, unknown>) => {
    const flash = request.cookies[FLASH_COOKIE];
    if (flash !== undefined) reply.clearCookie(FLASH_COOKIE, { path: '/' });
    return reply.type('text/html; charset=utf-8').send(await views.renderFile(view, { ...data, viewer, flash }));
  };
  return {
    page(path: string, view: string, data: (request: PageRequest, viewer: Viewer) => Promise<Record<string, unknown>>): void {
      app.get(path, async (request, reply) => {
        const viewer = await auth.viewer(request, reply);
        if (!viewer) return reply;
        return render(request, reply, view, viewer, await data(request as PageRequest, viewer));
      });
    },
    raw(path: string, send: (request: PageRequest, reply: FastifyReply) => Promise<FastifyReply>): void {
      app.get(path, async (request, reply) => ((await auth.viewer(request, reply)) ? send(request as PageRequest, reply) : reply));
    },
    /** `flashMax`: a longer answer than FLASH_MAX_CHARS (a bulk action's list of failures); a cookie holds about 4 KB. */
    form(path: string, role: Role, act: (request: PageRequest, viewer: Viewer) => Promise<FormAnswer>, options: { flashMax?: number } = {}): void {
      app.post(path, async (request, reply) => {
        const viewer = await auth.formViewer(request, reply, role);
        if (!viewer) return reply;
        const { to, flash } = await act(request as PageRequest, viewer);
        reply.setCookie(FLASH_COOKIE, flash.slice(0, options.flashMax ?? FLASH_MAX_CHARS), {
          path: '/',
          httpOnly: true,
          sameSite: 'strict',
          secure: request.protocol === 'https',
          maxAge: 60,
        });
        return reply.redirect(to, 303);
      });
    },
  };
}

export type Kit = ReturnType<typeof pageKit>;
