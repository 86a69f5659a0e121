// The operator API of provisioning: the image library (upload streamed, never buffered; list,
// show, download, delete) and a machine's provision state (manage, provide, deploy, undeploy,
// abort) with its deploy's progress.
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.ts';
import { UPLOAD_FORMATS, type UploadFormat } from '../../provisioning/image-format.ts';
import { PEER_HOP_HEADER } from '../../provisioning/image-copies.ts';
import { PROVISION_VERBS } from '../../provisioning/states.ts';
import { errors, NameParams } from './schemas.ts';
import { PAGED, PageQuery, pageOf, sendPage, sliceForPage } from './pagination.ts';

const ImageView = Type.Object({
  name: Type.String(),
  format: Type.String({ description: 'how the file holds the disk content: raw, gzip or zstd' }),
  virtualSize: Type.Number({ description: 'bytes of disk content' }),
  storedSize: Type.Number({ description: 'bytes of the file in the library' }),
  diskUsage: Type.Number({ description: 'bytes the file takes on disk (du): VCL get_image_size' }),
  sha256: Type.String({ description: 'of the disk content' }),
  origin: Type.String(),
  sourceMachine: Type.Union([Type.String(), Type.Null()]),
  notes: Type.String(),
  createdAt: Type.String(),
});
const ImageParams = Type.Object({ image: Type.String() });

const DeploymentView = Type.Object({
  id: Type.Integer(),
  kind: Type.String(),
  image: Type.String(),
  state: Type.String(),
  phase: Type.Union([Type.String(), Type.Null()]),
  bytesDone: Type.Number(),
  bytesTotal: Type.Number(),
  startedAt: Type.String(),
  progressAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  deadline: Type.String(),
  device: Type.Union([Type.String(), Type.Null()]),
  requestedBy: Type.String(),
  error: Type.Union([Type.String(), Type.Null()]),
  currentimage: Type.Union([Type.String(), Type.Null()], {
    description: "a deploy's currentimage.txt as its agent reported: 'written DEVICE TYPE' or 'skipped WHY'",
  }),
});
const ProvisionView = Type.Object({
  name: Type.String(),
  provisionState: Type.String(),
  image: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  deployment: Type.Optional(DeploymentView),
});

export async function provisioningRoutes(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { images, provisioner } = ctx;
  const who = (request: { caller?: { name: string } | undefined }) => `operator '${request.caller?.name ?? 'api'}'`;

  app.get(
    '/images',
    {
      schema: {
        summary: 'The image library',
        description: PAGED,
        tags: ['images'],
        querystring: PageQuery,
        response: { 200: Type.Array(ImageView), ...errors },
      },
    },
    async (request, reply) => {
      const page = pageOf(request.query);
      return sendPage(request, reply, page, sliceForPage(await images.list(), page));
    },
  );

  app.get(
    '/images/:image',
    { schema: { summary: 'One image', tags: ['images'], params: ImageParams, response: { 200: ImageView, ...errors } } },
    async (request) => images.show(request.params.image),
  );

  // The body is the image itself, streamed to disk (curl -T FILE URL); a failed upload leaves nothing, so it is simply sent again.
  await app.register(async (upload) => {
    upload.removeAllContentTypeParsers();
    upload.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    upload.withTypeProvider<TypeBoxTypeProvider>().put(
      '/images/:image',
      {
        config: { rawBody: true },
        schema: {
          summary: 'Upload an image: the request body is the file (raw, gzip, zstd or qcow2), streamed; it is visible only once whole and verified',
          tags: ['images'],
          params: ImageParams,
          querystring: Type.Object(
            {
              sha256: Type.Optional(Type.String({ description: 'expected sha256 of the file or of its disk content' })),
              format: Type.Optional(Type.Union(UPLOAD_FORMATS.map((f) => Type.Literal(f)))),
              notes: Type.Optional(Type.String({ maxLength: 2000 })),
            },
            { additionalProperties: false },
          ),
          response: { 201: ImageView, ...errors },
        },
      },
      async (request, reply) => {
        const view = await images.import(request.body as Readable, {
          name: request.params.image,
          sha256: request.query.sha256,
          format: request.query.format as UploadFormat | undefined,
          notes: request.query.notes,
          // The request body's chunks go nowhere else.
          freeChunks: true,
        });
        request.log.info({ image: view.name, bytes: view.storedSize, format: view.format }, 'image uploaded');
        return reply.status(201).send(view);
      },
    );
  });

  app.get(
    '/images/:image/content',
    { schema: { summary: 'Download an image file as stored', tags: ['images'], params: ImageParams, produces: ['application/octet-stream'] } },
    async (request, reply) => {
      const image = await images.get(request.params.image);
      // In a cluster the file may be another process's: it is asked with the caller's own credentials.
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'cookie']) {
        const value = request.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const via = { path: `/api/v1/images/${encodeURIComponent(image.name)}/content`, headers, fromPeer: request.headers[PEER_HOP_HEADER] !== undefined };
      const content = await images.open(image, via);
      if (content.from) request.log.info({ image: image.name, from: content.from }, 'image read from the process that holds it');
      return reply
        .type('application/octet-stream')
        .header('content-length', String(image.stored_size))
        .header('x-anvil-image-format', image.format)
        .header('content-disposition', `attachment; filename="${image.file}"`)
        .send(content.stream);
    },
  );

  app.delete(
    '/images/:image',
    {
      schema: { summary: 'Delete an image (refused while a deploy uses it)', tags: ['images'], params: ImageParams, response: { 204: Type.Null(), ...errors } },
    },
    async (request, reply) => {
      await images.delete(request.params.image);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/machines/:name/provision',
    {
      schema: {
        summary: "A machine's provision state, image and current (or last) deploy with its progress",
        tags: ['provisioning'],
        params: NameParams,
        response: { 200: ProvisionView, ...errors },
      },
    },
    async (request) => provisioner.view(request.params.name),
  );

  app.put(
    '/machines/:name/provision',
    {
      schema: {
        summary:
          'Move a machine by a provision verb: manage, provide, deploy (with image), undeploy, abort. A deploy answers 202 once the machine is booting its agent.',
        description:
          "Deploy, capture, undeploy and abort run on the machine's owner conductor: any anvil process answers the same, handing the verb to the owner through the database when it is not it. 503 OWNER_UNAVAILABLE: the owner did not take it up in time (it did not run); 503 WORK_INTERRUPTED: the owner died while running it (not run again).",
        tags: ['provisioning'],
        params: NameParams,
        body: Type.Object(
          {
            target: Type.Union(PROVISION_VERBS.map((v) => Type.Literal(v))),
            image: Type.Optional(Type.String({ description: 'deploy: the image; capture: the name of the image it makes' })),
            timeout: Type.Optional(
              Type.Integer({ minimum: 1, maximum: 86400, description: 'deploy: seconds until it fails (default: the machine\u2019s, then the server\u2019s)' }),
            ),
            disk: Type.Optional(
              Type.String({
                maxLength: 64,
                description: 'deploy: the disk to write, e.g. vda (default: the smallest the image fits); capture: the disk to read',
              }),
            ),
            stall: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400, description: 'capture: seconds without progress until it fails (default 1200)' })),
            notes: Type.Optional(Type.String({ maxLength: 2000, description: 'capture: notes for the image' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: ProvisionView, 202: ProvisionView, ...errors },
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      const { target, image } = request.body;
      const by = who(request);
      switch (target) {
        case 'deploy': {
          return reply.status(202).send(await provisioner.deploy(name, { image: image ?? '', timeoutS: request.body.timeout, disk: request.body.disk }, by));
        }
        case 'capture':
          return reply
            .status(202)
            .send(
              await provisioner.capture(
                name,
                { image: image ?? '', timeoutS: request.body.timeout, stallTimeoutS: request.body.stall, disk: request.body.disk, notes: request.body.notes },
                by,
              ),
            );
        case 'manage':
          return provisioner.manage(name, by);
        case 'provide':
          return provisioner.provide(name, by);
        case 'undeploy':
          return provisioner.undeploy(name, by);
        case 'abort':
          return provisioner.abort(name, by);
      }
    },
  );

  app.get(
    '/machines/:name/deployments',
    {
      schema: {
        summary: "A machine's deploys and captures, newest first",
        tags: ['provisioning'],
        params: NameParams,
        response: { 200: Type.Array(DeploymentView), ...errors },
      },
    },
    async (request) => {
      const machine = await ctx.machines.find(request.params.name);
      return (await provisioner.deployments.list(machine.id)).map((d) => provisioner.deploymentView(d));
    },
  );
}
