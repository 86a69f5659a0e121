// Apache VCL's provisioning interface under /api/v1/vcl/, by VCL's own names, for a VCL site's
// provisioning module written as a thin HTTP wrapper (examples/vcl/). Each answer carries
// `result` as VCL's subroutines return it (1/0, READY/RELOAD/POST_LOAD, MB) beside the details.
// load and capture answer 202 once started; the wrapper follows GET /machines/{name}/provision
// until the machine is no longer deploying or capturing, as VCL's load and capture wait.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.ts';
import { errors } from './schemas.ts';

const Machine = Type.Object({ machine: Type.String({ description: 'machine name or MAC' }) }, { additionalProperties: false });
const MachineImage = Type.Object({ machine: Type.String(), image: Type.String() }, { additionalProperties: false });

export async function vclRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { vcl, provisioner } = ctx;
  const who = (request: { caller?: { name: string } | undefined }) => `VCL via token '${request.caller?.name ?? 'api'}'`;
  const tags = ['vcl'];

  app.get(
    '/vcl/node_status/:machine',
    {
      schema: {
        summary: 'node_status: READY, RELOAD (with every reason) or POST_LOAD, and ping, ssh, rpower, nodeset, nodetype, currentimage',
        tags,
        params: Machine,
        querystring: Type.Object({ post_load: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const status = await vcl.nodeStatus(request.params.machine, { postLoad: request.query.post_load === true });
      return { result: status.status, ...status };
    },
  );

  app.post(
    '/vcl/load',
    { schema: { summary: 'load: deploy the image (202 once the machine boots its agent; follow GET /machines/{name}/provision)', tags, body: MachineImage } },
    async (request, reply) => reply.status(202).send(await provisioner.deploy(request.body.machine, { image: request.body.image }, who(request))),
  );

  app.post(
    '/vcl/capture',
    { schema: { summary: "capture: save the machine's disk as a new image (202 once started)", tags, body: MachineImage } },
    async (request, reply) => reply.status(202).send(await provisioner.capture(request.body.machine, { image: request.body.image }, who(request))),
  );

  for (const verb of ['power_on', 'power_off', 'power_reset'] as const) {
    app.post(
      `/vcl/${verb}`,
      { schema: { summary: `${verb}: through the driver, a few tries with back-off, then a wait for the state`, tags, body: Machine } },
      async (request) => {
        const state =
          verb === 'power_reset'
            ? await vcl.powerReset(request.body.machine, who(request))
            : await vcl.power(request.body.machine, verb === 'power_on' ? 'on' : 'off', who(request));
        return { result: state === (verb === 'power_off' ? 'off' : 'on') ? 1 : 0, powerState: state };
      },
    );
  }

  app.get(
    '/vcl/get_current_image/:machine',
    { schema: { summary: "get_current_image: line 1 of the machine's currentimage.txt, read over SSH", tags, params: Machine } },
    async (request) => {
      const image = await vcl.getCurrentImage(request.params.machine);
      return { result: image, currentimage: image };
    },
  );

  app.get(
    '/vcl/get_image_size/:image',
    {
      schema: {
        summary: "get_image_size: the image's disk usage in the library, in MB (and bytes)",
        tags,
        params: Type.Object({ image: Type.String() }),
        response: { 200: Type.Object({ result: Type.Integer(), megabytes: Type.Integer(), bytes: Type.Integer() }), ...errors },
      },
    },
    async (request) => {
      const bytes = await vcl.getImageSize(request.params.image);
      const megabytes = Math.floor(bytes / 1024 / 1024);
      return { result: megabytes, megabytes, bytes };
    },
  );
}
