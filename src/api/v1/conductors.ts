// GET /api/v1/conductors: the anvil processes sharing the database, their heartbeats, alive or
// dead, and how many machines the hash ring over the live ones gives each.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.ts';
import { errors } from './schemas.ts';

const Conductor = Type.Object({
  id: Type.String({ description: 'host:pid:random, fixed for the life of one anvil serve' }),
  hostname: Type.String(),
  pid: Type.Integer(),
  startedAt: Type.String(),
  heartbeatAt: Type.String(),
  heartbeatAgeMs: Type.Integer({ description: 'since its last heartbeat, by this server’s clock' }),
  alive: Type.Boolean({ description: 'heartbeat younger than the dead-after timeout' }),
  machines: Type.Integer({ description: 'machines the hash ring of live conductors gives it' }),
});

export async function conductorRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/conductors',
    {
      schema: {
        summary: 'The conductors (anvil serve processes) sharing the database, their heartbeats and how many machines each owns',
        tags: ['server'],
        response: {
          200: Type.Object({
            heartbeatS: Type.Number(),
            deadAfterS: Type.Number(),
            conductors: Type.Array(Conductor),
          }),
          ...errors,
        },
      },
    },
    async () => ({
      heartbeatS: ctx.conductors.heartbeatMs / 1000,
      deadAfterS: ctx.conductors.deadAfterMs / 1000,
      conductors: (await ctx.conductors.list()).map((c) => ({ ...c, heartbeatAgeMs: Math.round(c.heartbeatAgeMs) })),
    }),
  );
}
