// HTTP boot: /boot/<mac> (and /boot.ipxe?mac=) answers iPXE with the machine's next-boot
// profile as a script; /tftp/<path> streams boot artifacts (kernels, initrds, images) from
// the TFTP root with HEAD and Range support, never buffered whole.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalid } from '../common/errors.ts';
import { clipped } from '../common/format.ts';
import { normalizeMac } from '../machines/mac.ts';
import { plainAddress } from '../boot/resolver.ts';
import { ARTIFACT_ROUTE, BOOT_SCRIPT_ROUTES } from '../boot/urls.ts';
import type { BootFile } from '../boot/boot-service.ts';
import { MACHINE_FACING, type ApiContext } from './context.ts';

/**
 * Bytes read from disk per chunk when streaming an artifact. A stream holds about two chunks
 * while its socket drains, so this sets the memory of many downloads at once: with a thousand
 * machines (bench/boot-storm.ts), 256 KiB peaked at 901 MiB resident, 64 KiB at 495 MiB, for
 * the same CPU per GiB served.
 */
export const ARTIFACT_CHUNK = 64 * 1024;

interface BootQuery {
  mac?: string;
  arch?: string;
  platform?: string;
}

export async function bootRoutes(app: FastifyInstance, ctx: Pick<ApiContext, 'boot' | 'baseUrl'>): Promise<void> {
  const script = async (request: FastifyRequest<{ Params: { mac?: string }; Querystring: BootQuery }>, reply: FastifyReply) => {
    const macText = request.params.mac ?? request.query.mac;
    if (!macText) throw invalid('MAC_REQUIRED', 'name the machine: /boot/<mac> or /boot.ipxe?mac=<mac> (iPXE: ${net0/mac})');
    const arch = [request.query.platform, request.query.arch].filter(Boolean).join(' ') || undefined;
    const mac = normalizeMac(macText);
    const { answer, script } = await ctx.boot.ipxeScript({ mac, arch, address: plainAddress(request.ip), server: ctx.baseUrl(request) });
    // What the client sent is logged cut short: an 8 KB arch would make every line 8 KB.
    const logged = arch === undefined ? undefined : clipped(arch);
    if (answer.kind === 'unknown') request.log.info({ mac, arch: logged }, 'unknown machine asked to boot; listed as discovered');
    else if (answer.machine)
      request.log.info(
        { machine: answer.machine.name, profile: answer.kind === 'profile' ? answer.profile : 'local', loader: 'iPXE', arch: logged },
        'boot served',
      );
    else
      request.log.info(
        { mac, arch: logged, profile: answer.kind === 'profile' ? answer.profile : 'local' },
        'unknown machine asked to boot; served the default profile',
      );
    return reply.type('text/plain; charset=utf-8').send(script);
  };
  for (const route of BOOT_SCRIPT_ROUTES) app.get(route, MACHINE_FACING, script);

  app.get(ARTIFACT_ROUTE, MACHINE_FACING, async (request: FastifyRequest<{ Params: { '*': string } }>, reply) =>
    sendRange(request, reply, await ctx.boot.artifact(request.params['*'], plainAddress(request.ip))),
  );
}

/** Sends a file, or the one byte range asked for, streaming it in chunks. */
function sendRange(request: FastifyRequest, reply: FastifyReply, file: BootFile): FastifyReply {
  const size = file.size ?? 0;
  let start = 0;
  let end = size - 1;
  const range = request.headers.range;
  reply.header('accept-ranges', 'bytes').type('application/octet-stream');
  if (range !== undefined) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (m && (m[1] !== '' || m[2] !== '')) {
      if (m[1] === '') {
        start = Math.max(0, size - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
      }
    }
    if (!m || start > end || start >= size) {
      void file.close();
      return reply.status(416).header('content-range', `bytes */${size}`).send('');
    }
    reply.status(206).header('content-range', `bytes ${start}-${end}/${size}`);
  }
  reply.header('content-length', String(end - start + 1));
  if (request.method === 'HEAD' || size === 0) {
    void file.close();
    // Written directly: Fastify would replace the length of an empty body with 0.
    reply.hijack();
    reply.raw.writeHead(reply.statusCode, reply.getHeaders() as Record<string, string>);
    reply.raw.end();
    return reply;
  }
  let position = start;
  const stream = new Readable({
    async read() {
      try {
        const want = Math.min(ARTIFACT_CHUNK, end + 1 - position);
        if (want <= 0) return void this.push(null);
        const chunk = Buffer.allocUnsafe(want);
        const got = await file.read(chunk, position);
        position += got;
        this.push(got === 0 ? null : chunk.subarray(0, got));
      } catch (error) {
        this.destroy(error as Error);
      }
    },
    destroy(error, callback) {
      file.close().then(
        () => callback(error),
        () => callback(error),
      );
    },
  });
  return reply.send(stream);
}
