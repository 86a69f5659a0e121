// The deploy agent's URLs (protocol v1, src/provisioning/agent-protocol.ts): hello, progress,
// result, and the image it streams. They take no user token: each request carries its
// deploy's agent token (X-Anvil-Token), and anything else — no token, a wrong one, one of a
// deploy that has ended — is answered 403 and changes nothing.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AGENT_BODY_LIMIT, AgentMessageError, formatAgentMessage, parseAgentMessage } from '../provisioning/agent-protocol.ts';
import { PEER_HOP_HEADER } from '../provisioning/image-copies.ts';
import { MachineLockedError } from '../conductor/locks.ts';
import { invalid } from '../common/errors.ts';
import { MACHINE_FACING, type ApiContext } from './context.ts';

export const AGENT_TOKEN_HEADER = 'x-anvil-token';
/** How long an agent that found its machine busy waits before saying hello again. */
export const BUSY_RETRY_S = 3;

const tokenOf = (request: FastifyRequest): string | undefined => {
  const value = request.headers[AGENT_TOKEN_HEADER];
  return typeof value === 'string' ? value.trim() : undefined;
};

function messageOf(request: FastifyRequest) {
  try {
    return parseAgentMessage(typeof request.body === 'string' ? request.body : '');
  } catch (error) {
    if (error instanceof AgentMessageError) throw invalid(error.code, `the agent's message is not understood: ${error.message}`);
    throw error;
  }
}

export async function agentRoutes(app: FastifyInstance, ctx: Pick<ApiContext, 'provisioner' | 'baseUrl'>): Promise<void> {
  const { provisioner } = ctx;
  // A capture's disk arrives as a chunked zstd stream of unknown length: streamed, never parsed.
  await app.register(async (upload) => {
    upload.removeAllContentTypeParsers();
    upload.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    upload.put('/agent/v1/capture', MACHINE_FACING, async (request, reply) => {
      const answer = await provisioner.captureUpload(tokenOf(request), request.body as Readable);
      request.log.info({ answer: answer.trim().replace(/\n/g, ' ') }, 'capture upload received');
      return reply.type('text/plain; charset=utf-8').send(answer);
    });
  });
  // busybox wget labels --post-data as a form: every body here is the agent's key=value text.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: AGENT_BODY_LIMIT }, (_request, body, done) => done(null, body));
  const text = 'text/plain; charset=utf-8';

  app.post('/agent/v1/hello', MACHINE_FACING, async (request, reply) => {
    try {
      return reply.type(text).send(await provisioner.hello(tokenOf(request), messageOf(request), ctx.baseUrl(request)));
    } catch (error) {
      // Another step holds the machine for a moment (the deploy is still being started).
      if (error instanceof MachineLockedError) return reply.type(text).send(formatAgentMessage({ action: 'wait', retry: BUSY_RETRY_S }));
      throw error;
    }
  });

  app.post('/agent/v1/progress', MACHINE_FACING, async (request, reply) => {
    await provisioner.progress(tokenOf(request), messageOf(request));
    return reply.type(text).send(formatAgentMessage({ action: 'continue' }));
  });

  app.post('/agent/v1/result', MACHINE_FACING, async (request, reply) => reply.type(text).send(await provisioner.result(tokenOf(request), messageOf(request))));

  // The BMC fetches the agent ISO (virtual media); the token is in the path, since a BMC sends no headers of ours.
  app.get<{ Params: { token: string } }>('/agent/v1/media/:token/agent.iso', MACHINE_FACING, async (request, reply) => {
    const media = await provisioner.agentMedia(request.params.token);
    request.log.info({ bytes: media.size }, 'a BMC is fetching the agent ISO');
    return reply.type('application/octet-stream').header('content-length', String(media.size)).send(createReadStream(media.path));
  });

  app.get('/agent/v1/image', MACHINE_FACING, async (request, reply) => {
    const token = tokenOf(request);
    // In a cluster the image may be another process's: it is asked with the agent's own token.
    const via = {
      path: '/agent/v1/image',
      headers: token ? { [AGENT_TOKEN_HEADER]: token } : ({} as Record<string, string>),
      fromPeer: request.headers[PEER_HOP_HEADER] !== undefined,
    };
    const image = await provisioner.imageFor(token, via);
    request.log.info({ bytes: image.size, format: image.format, ...(image.from ? { from: image.from } : {}) }, 'agent is fetching its image');
    return reply.type('application/octet-stream').header('content-length', String(image.size)).send(image.stream);
  });
}
