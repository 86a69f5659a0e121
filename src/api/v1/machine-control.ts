// The operator API for a machine's controller: driver and driver_info (secrets masked in
// every answer), power, boot device, the event log, and breaking a stale lock. Each change
// runs as a task holding the machine's lock; a locked machine answers 409 naming the holder.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.ts';
import { MAX_POWER_TIMEOUT_MS } from '../../conductor/machine-control.ts';
import { errors, NameParams } from './schemas.ts';
import { PAGED, PageQuery, pageOf, sendPage } from './pagination.ts';

const Device = Type.Union([Type.Literal('pxe'), Type.Literal('disk'), Type.Literal('cdrom'), Type.Literal('bios'), Type.Literal('safe')]);
const Target = Type.Union([Type.Literal('on'), Type.Literal('off'), Type.Literal('soft-off'), Type.Literal('reboot')]);

const DriverView = Type.Object({
  name: Type.String(),
  driver: Type.String(),
  driverInfo: Type.Record(Type.String(), Type.Unknown(), { description: 'passwords and keys shown as ******' }),
  powerState: Type.String(),
  maintenance: Type.Boolean(),
  maintenanceReason: Type.Union([Type.String(), Type.Null()]),
  reservation: Type.Union([Type.String(), Type.Null()], { description: "who holds the machine's lock" }),
  properties: Type.Record(Type.String(), Type.Unknown(), { description: "how anvil reaches the machine's OS" }),
});
const PowerView = Type.Object({ name: Type.String(), powerState: Type.String() });
const BootView = Type.Object({
  name: Type.String(),
  device: Type.Union([Device, Type.Null()]),
  persistent: Type.Boolean(),
  uefi: Type.Optional(Type.Boolean()),
  supported: Type.Optional(Type.Array(Type.String())),
});
/** How a change reaches the controller when several anvil processes share PostgreSQL. */
const ON_OWNER =
  "Runs on the machine's owner conductor: any anvil process answers the same, handing the change to the owner through the database when it is not it. 503 OWNER_UNAVAILABLE: the owner did not take it up in time (it did not run); 503 WORK_INTERRUPTED: the owner died while running it (it may or may not have reached the controller, and is not run again); 503 OWNER_NO_ANSWER: it is still running on the owner.";
const Event = Type.Object({ id: Type.Integer(), at: Type.String(), kind: Type.String(), message: Type.String() });

export async function machineControlRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { control, machines } = ctx;
  const who = (request: { caller?: { name: string } | undefined }) => `operator '${request.caller?.name ?? 'api'}'`;

  app.get(
    '/machines/:name/driver',
    {
      schema: {
        summary: "A machine's driver, driver_info (secrets masked), maintenance and lock",
        tags: ['power'],
        params: NameParams,
        response: { 200: DriverView, ...errors },
      },
    },
    async (request) => control.show(request.params.name),
  );

  app.patch(
    '/machines/:name',
    {
      schema: {
        summary:
          "Set a machine's driver and driver_info; fields merge in (null removes one) unless replace is true. Validated, never contacting the controller.",
        tags: ['power'],
        params: NameParams,
        body: Type.Object(
          {
            driver: Type.Optional(Type.String({ description: 'ipmi, amt, redfish, manual or fake' })),
            driver_info: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]))),
            replace: Type.Optional(Type.Boolean()),
            properties: Type.Optional(
              Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Null()]), {
                description: "how anvil reaches the machine's OS: address, ssh_port, ssh_user, login_home; null removes one",
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: DriverView, ...errors },
      },
    },
    async (request) => {
      if (request.body.properties) await ctx.properties.set(await machines.find(request.params.name), request.body.properties);
      return control.configure(
        request.params.name,
        { driver: request.body.driver, driverInfo: request.body.driver_info, replace: request.body.replace },
        who(request),
      );
    },
  );

  app.get(
    '/machines/:name/power',
    {
      schema: {
        summary: 'Read the power state from the controller (and record it)',
        tags: ['power'],
        params: NameParams,
        response: { 200: PowerView, ...errors },
      },
    },
    async (request) => control.powerState(request.params.name),
  );

  app.put(
    '/machines/:name/power',
    {
      schema: {
        summary: 'Power on, off, soft-off or reboot, and wait for the new state',
        description: ON_OWNER,
        tags: ['power'],
        params: NameParams,
        body: Type.Object(
          {
            target: Target,
            timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: MAX_POWER_TIMEOUT_MS / 1000, description: 'seconds to wait (default 60)' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: PowerView, ...errors },
      },
    },
    async (request) =>
      control.setPower(
        request.params.name,
        request.body.target,
        { timeoutMs: request.body.timeout === undefined ? undefined : Math.round(request.body.timeout * 1000) },
        who(request),
      ),
  );

  app.get(
    '/machines/:name/boot-device',
    {
      schema: {
        summary: 'The boot device the machine will use, and the ones it supports',
        tags: ['power'],
        params: NameParams,
        response: { 200: BootView, ...errors },
      },
    },
    async (request) => {
      const boot = await control.bootDevice(request.params.name);
      return { ...boot, supported: [...boot.supported] };
    },
  );

  app.put(
    '/machines/:name/boot-device',
    {
      schema: {
        summary: 'Set the boot device: for the next boot only, or persistent; UEFI or BIOS',
        description: ON_OWNER,
        tags: ['power'],
        params: NameParams,
        body: Type.Object({ device: Device, persistent: Type.Optional(Type.Boolean()), uefi: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: BootView, ...errors },
      },
    },
    async (request) =>
      control.setBootDevice(
        request.params.name,
        request.body.device,
        { persistent: request.body.persistent === true, uefi: request.body.uefi === true },
        who(request),
      ),
  );

  app.get(
    '/machines/:name/events',
    {
      schema: {
        summary: 'Power changes, maintenance and controller failures, newest first',
        description: PAGED,
        tags: ['power'],
        params: NameParams,
        querystring: PageQuery,
        response: { 200: Type.Array(Event), ...errors },
      },
    },
    async (request, reply) => {
      const page = pageOf(request.query);
      return sendPage(request, reply, page, await control.events(request.params.name, page.limit + 1, page.offset)).map(({ machine_id: _m, ...e }) => e);
    },
  );

  app.delete(
    '/machines/:name/lock',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Break a lock left by a crashed process',
        tags: ['power'],
        params: NameParams,
        response: { 200: Type.Object({ name: Type.String(), released: Type.Union([Type.String(), Type.Null()]) }), ...errors },
      },
    },
    async (request) => {
      const machine = await machines.find(request.params.name);
      return { name: machine.name, released: await control.locks.breakLock(machine) };
    },
  );
}
