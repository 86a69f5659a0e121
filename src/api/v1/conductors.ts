// GET /api/v1/conductors: the anvil processes sharing the database, their heartbeats, alive or
// dead, and how many machines the hash ring over the live ones gives each. GET /api/v1/work/{id}:
// one operation handed to a machine's owner, for a requester whose wait ended before its outcome.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.ts';
import { notFound } from '../../common/errors.ts';
import { WORK_DEFAULTS } from '../../conductor/work.ts';
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

const WorkItem = Type.Object({
  id: Type.Integer(),
  machine: Type.String(),
  kind: Type.String({ description: 'power, boot-device, deploy, capture, undeploy, abort, finish' }),
  args: Type.Record(Type.String(), Type.Unknown(), { description: 'what was asked' }),
  state: Type.String({ description: 'queued → running → done | failed | interrupted' }),
  requestedBy: Type.String(),
  requestedConductor: Type.Union([Type.String(), Type.Null()], { description: 'the conductor of the process that asked (null: a command line)' }),
  conductor: Type.Union([Type.String(), Type.Null()], { description: 'the owner conductor that claimed it' }),
  createdAt: Type.String(),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  result: Type.Unknown({ description: 'the answer the operation gave, when done' }),
  error: Type.Union([Type.Object({ code: Type.String(), category: Type.String(), message: Type.String() }), Type.Null()]),
});

const parsed = (text: string | null): unknown => {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
};

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

  app.get(
    '/work/:id',
    {
      schema: {
        summary: "One operation handed to a machine's owner conductor: its state and, when finished, its outcome",
        tags: ['server'],
        params: Type.Object({ id: Type.Integer({ minimum: 1, description: 'the work item number an answer named' }) }),
        response: { 200: WorkItem, ...errors },
      },
    },
    async (request) => {
      const row = await ctx.work.get(request.params.id);
      if (!row)
        throw notFound(
          'UNKNOWN_WORK_ITEM',
          `no work item ${request.params.id}; finished items are kept ${WORK_DEFAULTS.forgetAfterMs / 3_600_000} hours, then removed (the machine's events keep what happened)`,
        );
      return {
        id: row.id,
        machine: row.machine_name,
        kind: row.kind,
        args: (parsed(row.args) ?? {}) as Record<string, unknown>,
        state: row.state,
        requestedBy: row.requested_by,
        requestedConductor: row.requested_conductor,
        conductor: row.conductor,
        createdAt: row.created_at,
        startedAt: row.started_at,
        finishedAt: row.finished_at,
        result: parsed(row.result),
        error: row.error_code ? { code: row.error_code, category: row.error_category ?? 'internal', message: row.error ?? '' } : null,
      };
    },
  );
}
