// The operator API, /api/v1: machines, next boot and boot log, profiles, tests and runs,
// versions, tokens. Reads need the viewer role, changes operator, tokens admin.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { readFile } from 'node:fs/promises';
import type { ApiContext } from '../context.ts';
import { formatProblem } from '../../common/template-dir.ts';
import { notFound } from '../../common/errors.ts';
import { machineControlRoutes } from './machine-control.ts';
import { provisioningRoutes } from './provisioning.ts';
import { vclRoutes } from './vcl.ts';
import { conductorRoutes } from './conductors.ts';
import { errors, NameParams } from './schemas.ts';
import { PAGED, PageQuery, pageOf, sendPage, sliceForPage } from './pagination.ts';

const Error = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }) }, { $id: 'Error' });
const RunParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

const MachineSummary = Type.Object({
  name: Type.String(),
  macs: Type.Array(Type.String()),
  nextProfile: Type.String(),
  nextOnce: Type.Boolean(),
  lastBoot: Type.Optional(Type.Object({ at: Type.String(), profile: Type.String() })),
  version: Type.Union([Type.String(), Type.Null()]),
  powerState: Type.String(),
  driver: Type.String(),
});

const Run = Type.Object({
  id: Type.Integer(),
  machine_id: Type.Integer(),
  test: Type.String(),
  state: Type.String(),
  requested_at: Type.String(),
  sent_at: Type.Union([Type.String(), Type.Null()]),
  finished_at: Type.Union([Type.String(), Type.Null()]),
  infos: Type.Integer(),
  warnings: Type.Integer(),
  errors: Type.Integer(),
  version: Type.Union([Type.String(), Type.Null()]),
  upload_bytes: Type.Union([Type.Number(), Type.Null()]),
  error_reason: Type.Union([Type.String(), Type.Null()]),
});

const BootLogEntry = Type.Object({
  id: Type.Integer(),
  at: Type.String(),
  kind: Type.String(),
  profile: Type.String(),
  reason: Type.String(),
  loader: Type.Union([Type.String(), Type.Null()]),
  arch: Type.Union([Type.String(), Type.Null()]),
  address: Type.Union([Type.String(), Type.Null()]),
});

const DiscoveredMachine = Type.Object({
  mac: Type.String(),
  arch: Type.Union([Type.String(), Type.Null()]),
  loader: Type.Union([Type.String(), Type.Null()]),
  address: Type.Union([Type.String(), Type.Null()]),
  first_seen: Type.String(),
  last_seen: Type.String(),
  boots: Type.Integer(),
});

const SyncReport = Type.Object({
  added: Type.Array(Type.String()),
  kept: Type.Array(Type.String()),
  removed: Type.Array(Type.String()),
  problems: Type.Array(Type.String()),
});

export async function apiRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { machines, nextBoot, discovered, profiles, testing, tokens, clock } = ctx;
  app.addSchema(Error);
  await machineControlRoutes(scope, ctx);
  await provisioningRoutes(scope, ctx);
  await vclRoutes(scope, ctx);
  await conductorRoutes(scope, ctx);

  app.get(
    '/health',
    {
      schema: {
        summary: 'Liveness: answers when the server and its database do',
        description: 'A 503 STORE_UNREACHABLE while the database is away, saying which server and what to do.',
        tags: ['server'],
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok') }), ...errors },
      },
      config: { access: 'public' },
    },
    async () => {
      await ctx.checkDatabase();
      await profiles.available();
      return { status: 'ok' as const };
    },
  );

  app.get(
    '/machines',
    {
      schema: {
        summary: 'Every machine, with MACs, next boot and last boot, in name order',
        description: PAGED,
        tags: ['machines'],
        querystring: PageQuery,
        response: { 200: Type.Array(MachineSummary), ...errors },
      },
    },
    async (request, reply) => {
      const page = pageOf(request.query);
      // Read in SQL, one row past the page, as the fleet page reads its pages.
      const { machines: rows } = await nextBoot.fleetPage({ limit: page.limit + 1, offset: page.offset });
      return sendPage(request, reply, page, rows);
    },
  );

  app.post(
    '/machines',
    {
      schema: {
        summary: 'Enroll a machine (or add MACs to one): pxemngr addsystem',
        tags: ['machines'],
        body: Type.Object({ name: Type.String(), macs: Type.Array(Type.String(), { minItems: 1 }) }),
        response: { 201: Type.Object({ name: Type.String(), created: Type.Boolean(), added: Type.Array(Type.String()) }), ...errors },
      },
    },
    async (request, reply) => {
      const result = await machines.add(request.body.name, request.body.macs);
      return reply.status(201).send({ name: result.machine.name, created: result.created, added: result.added });
    },
  );

  app.get(
    '/machines/:name',
    {
      schema: {
        summary: 'One machine',
        tags: ['machines'],
        params: NameParams,
        response: { 200: Type.Intersect([MachineSummary, Type.Object({ bootLog: Type.Array(BootLogEntry) })]), ...errors },
      },
    },
    async (request) => {
      const machine = await machines.find(request.params.name);
      const [summary] = await nextBoot.fleet(machine.id);
      return { ...summary!, bootLog: await nextBoot.log(machine.id, 50) };
    },
  );

  app.delete(
    '/machines/:name',
    {
      schema: { summary: 'Delete a machine: pxemngr delsystem', tags: ['machines'], params: NameParams, response: { 204: Type.Null(), ...errors } },
    },
    async (request, reply) => {
      const machine = await machines.find(request.params.name);
      await machines.remove(machine.name);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/discovered',
    {
      schema: {
        summary: 'Machines seen booting that anvil does not know, newest first; enroll one with POST /machines',
        description: PAGED,
        tags: ['machines'],
        querystring: PageQuery,
        response: { 200: Type.Array(DiscoveredMachine), ...errors },
      },
    },
    async (request, reply) => {
      const page = pageOf(request.query);
      return sendPage(request, reply, page, await discovered.list(page.limit + 1, page.offset));
    },
  );

  app.delete(
    '/discovered/:mac',
    {
      schema: {
        summary: 'Forget a discovered machine (it comes back if it boots again)',
        tags: ['machines'],
        params: Type.Object({ mac: Type.String() }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      if (!(await discovered.forget(request.params.mac)))
        throw notFound('UNKNOWN_DISCOVERED', `MAC ${request.params.mac} is not among the discovered machines (GET /api/v1/discovered lists them)`);
      return reply.status(204).send(null);
    },
  );

  app.put(
    '/machines/:name/next-boot',
    {
      schema: {
        summary: "Set the profile a machine boots next ('default': unknown machines): pxemngr nextboot",
        tags: ['boot'],
        params: NameParams,
        body: Type.Object({ profile: Type.String(), once: Type.Optional(Type.Boolean({ description: 'boot it once, then local' })) }),
        response: { 200: Type.Object({ name: Type.String(), profile: Type.String(), once: Type.Boolean() }), ...errors },
      },
    },
    async (request) => {
      await nextBoot.set(request.params.name, request.body.profile, {
        once: request.body.once === true,
        reason: `operator (${request.caller?.name ?? 'api'})`,
      });
      return { name: request.params.name, profile: request.body.profile, once: request.body.once === true };
    },
  );

  app.get(
    '/machines/:name/boot-log',
    {
      schema: {
        summary: 'Next-boot changes and boots served, newest first',
        description: PAGED,
        tags: ['boot'],
        params: NameParams,
        querystring: PageQuery,
        response: { 200: Type.Array(BootLogEntry), ...errors },
      },
    },
    async (request, reply) => {
      const page = pageOf(request.query);
      return sendPage(request, reply, page, await nextBoot.log((await machines.find(request.params.name)).id, page.limit + 1, page.offset));
    },
  );

  app.get(
    '/machines/:name/runs',
    {
      schema: {
        summary: 'Test runs of a machine, newest first: pxemngr dpytest',
        description: PAGED,
        tags: ['tests'],
        params: NameParams,
        querystring: PageQuery,
        response: { 200: Type.Array(Run), ...errors },
      },
    },
    async (request, reply) => {
      const page = pageOf(request.query);
      return sendPage(request, reply, page, await testing.runsOf((await machines.find(request.params.name)).id, page.limit + 1, page.offset));
    },
  );

  app.post(
    '/machines/:name/runs',
    {
      schema: {
        summary: 'Queue tests for a machine: pxemngr nexttest',
        tags: ['tests'],
        params: NameParams,
        body: Type.Object({ tests: Type.Array(Type.String(), { minItems: 1 }) }),
        response: { 201: Type.Array(Run), ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await testing.queue(await machines.find(request.params.name), request.body.tests)),
  );

  app.get(
    '/runs/:id',
    {
      schema: {
        summary: 'A test run with its parsed I/W/E/V lines',
        tags: ['tests'],
        params: RunParams,
        response: {
          200: Type.Intersect([
            Run,
            Type.Object({ machine: Type.String(), lines: Type.Array(Type.Object({ line_no: Type.Integer(), kind: Type.String(), text: Type.String() })) }),
          ]),
          ...errors,
        },
      },
    },
    async (request) => ({ ...(await testing.get(request.params.id)), lines: await testing.lines(request.params.id) }),
  );

  app.get(
    '/runs/:id/log',
    { schema: { summary: 'The raw uploaded result', tags: ['tests'], params: RunParams, produces: ['text/plain'] } },
    async (request, reply) => {
      const run = await testing.get(request.params.id);
      if (!run.upload_path) throw notFound('NO_UPLOAD', `test run ${run.id} has no uploaded result (state ${run.state})`);
      return reply.type('text/plain; charset=utf-8').send(await readFile(testing.uploadPath(run.id)));
    },
  );

  app.get('/profiles', { schema: { summary: 'Available boot profiles', tags: ['boot'], response: { 200: Type.Array(Type.String()), ...errors } } }, async () =>
    profiles.available(),
  );
  app.post(
    '/profiles/sync',
    { schema: { summary: 'Record the *.prof files: pxemngr syncbootnames', tags: ['boot'], response: { 200: SyncReport, ...errors } } },
    async () => {
      const report = await profiles.sync(clock().toISOString());
      return { ...report, problems: report.problems.map(formatProblem) };
    },
  );
  app.get('/tests', { schema: { summary: 'Available test scripts', tags: ['tests'], response: { 200: Type.Array(Type.String()), ...errors } } }, async () =>
    testing.available(),
  );
  app.post(
    '/tests/sync',
    { schema: { summary: 'Record the *.test files: pxemngr synctestnames', tags: ['tests'], response: { 200: SyncReport, ...errors } } },
    async () => {
      const report = await testing.sync();
      return { ...report, problems: report.problems.map(formatProblem) };
    },
  );

  app.get(
    '/versions',
    {
      schema: {
        summary: "Versions reported by machines' V: lines",
        tags: ['tests'],
        response: {
          200: Type.Array(Type.Object({ machine: Type.String(), version: Type.String(), first_seen: Type.String(), last_seen: Type.String() })),
          ...errors,
        },
      },
    },
    async () => testing.versions(),
  );

  const TokenOut = Type.Object({
    id: Type.Integer(),
    name: Type.String(),
    role: Type.String(),
    created_at: Type.String(),
    last_used_at: Type.Union([Type.String(), Type.Null()]),
  });
  app.get(
    '/tokens',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'API tokens (never their secrets)',
        description: PAGED,
        tags: ['tokens'],
        querystring: PageQuery,
        response: { 200: Type.Array(TokenOut), ...errors },
      },
    },
    async (request, reply) => {
      const page = pageOf(request.query);
      return sendPage(request, reply, page, sliceForPage(await tokens.list(), page)).map(({ hash: _hash, ...rest }) => rest);
    },
  );
  app.post(
    '/tokens',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Make a token; its secret is shown once',
        tags: ['tokens'],
        body: Type.Object({
          role: Type.Union([Type.Literal('viewer'), Type.Literal('operator'), Type.Literal('admin')]),
          name: Type.Optional(Type.String({ maxLength: 100 })),
        }),
        response: { 201: Type.Intersect([TokenOut, Type.Object({ token: Type.String() })]), ...errors },
      },
    },
    async (request, reply) => {
      const { token, record } = await tokens.create(request.body.role, request.body.name);
      const { hash: _hash, ...rest } = record;
      return reply.status(201).send({ ...rest, token });
    },
  );
  app.delete(
    '/tokens/:id',
    {
      config: { access: 'admin' },
      schema: { summary: 'Revoke a token', tags: ['tokens'], params: Type.Object({ id: Type.Integer() }), response: { 204: Type.Null(), ...errors } },
    },
    async (request, reply) => {
      await tokens.revoke(request.params.id);
      return reply.status(204).send(null);
    },
  );
}

export type MachineSummaryType = Static<typeof MachineSummary>;
