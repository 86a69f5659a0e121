// anvil's HTTP server: the machine-facing URLs (pxemngr's, boot scripts), the operator API
// under /api/v1 with its OpenAPI document, and the web pages, mounted side by side. Errors
// leave as `{error: {code, message}}` (JSON) or as one plain-text line for machine-facing
// routes, whose clients are wget and curl in install scripts.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import type { Services } from './compose.ts';
import { prettyStream, type LogFormat } from './log-format.ts';
import { AnvilError } from '../common/errors.ts';
import { AddressResolver, arpTable } from '../boot/resolver.ts';
import { apiAccessHook } from '../auth/caller.ts';
import { DEFAULT_UPLOAD_LIMIT, refuseRepeatedQueryKeys, type ApiContext } from '../api/context.ts';
import { compatRoutes } from '../api/compat.ts';
import { bootRoutes } from '../api/boot.ts';
import { agentRoutes } from '../api/agent.ts';
import { apiRoutes } from '../api/v1/routes.ts';
import { API_PREFIX, buildValidator, closeBodySchemas, formatSchemaErrors, jsonBodiesOnly } from '../api/v1/strict-input.ts';
import { webRoutes } from '../web/plugin.ts';
import { metricsRoute } from './metrics.ts';
import { machineConsoles } from './consoles.ts';

export { DEFAULT_UPLOAD_LIMIT } from '../api/context.ts';

/** Largest WebSocket message taken from a browser: keys typed or pasted into a console. */
export const CONSOLE_MAX_MESSAGE_BYTES = 64 * 1024;

export interface ServerOptions {
  /** Largest upload accepted, in bytes (413 beyond). */
  readonly uploadLimit?: number;
  /** The base URL machines reach anvil at; default: taken from each request's Host header. */
  readonly publicUrl?: string | undefined;
  /** Where bare machine-facing URLs look up the caller's MAC (default: the ARP table). */
  readonly resolver?: AddressResolver;
  /** false for no logs (tests), or a pino level. */
  readonly logLevel?: string | false;
  /** pretty: one readable line per record (for a terminal); json (default): pino's lines. */
  readonly logFormat?: LogFormat;
  /** Where log lines go instead of stdout (tests read them); pino's JSON lines. */
  readonly logStream?: NodeJS.WritableStream;
}

/** A request URL as logged: the token of /agent/v1/media/<token>/ replaced. */
export function maskUrlSecrets(url: string): string {
  return url.replace(/^(\/agent\/v1\/media\/)[^/?]+/, '$1******');
}

export async function buildServer(services: Services, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger:
      options.logLevel === false
        ? false
        : {
            level: options.logLevel ?? 'info',
            ...(options.logStream ? { stream: options.logStream } : options.logFormat === 'pretty' ? { stream: prettyStream() } : {}),
            // Tokens and passwords never reach a log line.
            redact: {
              paths: [
                'req.headers.authorization',
                'req.headers.cookie',
                '*.password',
                '*.*_password',
                'driver_info.*_password',
                '*.ipmi_kg',
                '*.*.ipmi_kg',
                '*.driver_info.*_password',
              ],
              censor: '******',
            },
            serializers: {
              // Fastify's own fields, with the token a BMC's virtual-media URL carries in its path masked.
              req: (request: { method: string; url: string; host?: string; ip?: string; socket?: { remotePort?: number } }) => ({
                method: request.method,
                url: maskUrlSecrets(request.url),
                host: request.host,
                remoteAddress: request.ip,
                remotePort: request.socket?.remotePort,
              }),
            },
          },
    routerOptions: { ignoreTrailingSlash: true },
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    bodyLimit: 1024 * 1024,
    // Under /api/v1 no unknown property is dropped and no body coerced (api/v1/strict-input.ts).
    schemaController: { compilersFactory: { buildValidator: buildValidator() } },
    schemaErrorFormatter: formatSchemaErrors,
  });

  services.metrics.watchHttp(app.server);
  const ctx: ApiContext = {
    ...services,
    resolver: options.resolver ?? new AddressResolver([arpTable()]),
    uploadLimit: options.uploadLimit ?? DEFAULT_UPLOAD_LIMIT,
    checkDatabase: () => services.store.ping(),
    baseUrl: (request) => options.publicUrl?.replace(/\/$/, '') ?? `${request.protocol}://${request.headers.host ?? 'localhost'}`,
  };

  app.setErrorHandler((thrown: FastifyError | AnvilError, request, reply) => {
    // The database away (PostgreSQL stopped or unreachable) is a 503 that says so, not an internal error.
    const error = services.store.away(thrown) ?? thrown;
    let status: number;
    let code: string;
    if (error instanceof AnvilError) {
      status = error.httpStatus;
      code = error.code;
    } else if ((error as FastifyError).validation) {
      status = 400;
      code = 'INVALID_REQUEST';
    } else {
      status = (error as FastifyError).statusCode ?? 500;
      code = (error as FastifyError).code ?? 'INTERNAL';
    }
    const message = status >= 500 && !(error instanceof AnvilError) ? 'internal error; see the server log' : error.message;
    if (error instanceof AnvilError && error.code === 'STORE_UNREACHABLE') request.log.warn({ code }, `request failed: ${error.message}`);
    else if (status >= 500) request.log.error({ err: error }, 'request failed');
    if (request.routeOptions.config?.plainErrors) {
      return reply.status(status).type('text/plain; charset=utf-8').send(`${message}\n`);
    }
    return reply.status(status).send({ error: { code, message } });
  });
  app.addHook('preValidation', refuseRepeatedQueryKeys);
  app.setNotFoundHandler((request, reply) => {
    reply
      .status(404)
      .send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}; the API is described at /api/v1/openapi.json` } });
  });

  await app.register(cookie);
  await app.register(formbody);
  await app.register(multipart, { limits: { fileSize: ctx.uploadLimit, files: 1, fields: 10, parts: 20 } });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'anvil',
        version: '1',
        description: 'Bare-metal provisioning and lab automation. Operator routes need `Authorization: Bearer <token>` (bin/anvil token create).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/v1/docs' });
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  metricsRoute(app, services.metrics, services.tokens);
  await app.register(async (scope) => compatRoutes(scope, ctx));
  await app.register(async (scope) => bootRoutes(scope, ctx));
  await app.register(async (scope) => agentRoutes(scope, ctx));
  await app.register(
    async (scope) => {
      // Before the body is read or validated, on every route of the scope (caller.ts); then JSON only.
      scope.addHook('onRequest', apiAccessHook(services.tokens));
      scope.addHook('onRequest', jsonBodiesOnly);
      scope.addHook('onRoute', closeBodySchemas);
      await apiRoutes(scope, ctx);
    },
    { prefix: API_PREFIX },
  );
  // Only the web scope has WebSocket routes (the machines' consoles).
  await app.register(websocket, { options: { maxPayload: CONSOLE_MAX_MESSAGE_BYTES } });
  await app.register(async (scope) =>
    webRoutes(
      scope,
      { ...services, databaseAway: (error) => services.store.away(error) },
      { consoles: machineConsoles(services.control, services.paths.data) },
    ),
  );
  return app;
}
