// HTTP boot: /boot/<mac> (and /boot.ipxe?mac=) answers iPXE with the machine's next-boot
// profile as a script; /tftp/<path> streams boot artifacts (kernels, initrds, images) from
// the TFTP root with HEAD and Range support, never buffered whole.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalid, notFound } from '../common/errors.ts';
import { normalizeMac } from '../boot/mac.ts';
import { plainAddress } from '../boot/resolver.ts';
import { localBootScript, toIpxe, unknownMachineScript } from '../boot/boot-script.ts';
import { profileVariables, staticBootFiles } from '../boot/boot-files.ts';
import { LOCAL_PROFILE } from '../boot/profiles.ts';
import type { TftpFile } from '../protocols/tftp/index.ts';
import { TftpAccessDeniedError } from '../protocols/tftp/index.ts';
import type { ServerContext } from './server.ts';

/** How long an unknown machine waits before asking again. */
export const UNKNOWN_RETRY_SECONDS = 30;
/**
 * Bytes read from disk per chunk when streaming an artifact. A stream holds about two chunks
 * while its socket drains, so this sets the memory of many downloads at once: with a thousand
 * machines (bench/boot-storm.ts), 256 KiB peaked at 901 MiB resident, 64 KiB at 495 MiB, for
 * the same CPU per GiB served.
 */
export const ARTIFACT_CHUNK = 64 * 1024;

const plain = { config: { plainErrors: true }, schema: { hide: true } } as const;

interface BootQuery {
  mac?: string;
  arch?: string;
  platform?: string;
}

export async function bootRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const { machines, profiles, paths } = ctx.services;

  const boot = async (request: FastifyRequest<{ Params: { mac?: string }; Querystring: BootQuery }>, reply: FastifyReply) => {
    const macText = request.params.mac ?? request.query.mac;
    if (!macText) throw invalid('MAC_REQUIRED', 'name the machine: /boot/<mac> or /boot.ipxe?mac=<mac> (iPXE: ${net0/mac})');
    const mac = normalizeMac(macText);
    const server = ctx.baseUrl(request);
    const arch = [request.query.platform, request.query.arch].filter(Boolean).join(' ') || undefined;
    const info = { loader: 'iPXE', arch, address: plainAddress(request.ip) };
    reply.type('text/plain; charset=utf-8');
    const machine = await machines.byMac(mac);
    if (!machine) {
      await machines.discover(mac, info);
      request.log.info({ mac, arch }, 'unknown machine asked to boot; listed as discovered');
      const fallback = await machines.defaultProfile();
      if (fallback !== LOCAL_PROFILE) {
        return toIpxe(await profiles.render(fallback, profileVariables(undefined, mac, fallback, server)), mac, server);
      }
      return unknownMachineScript(mac, server, UNKNOWN_RETRY_SECONDS);
    }
    const served = await machines.serveBoot(machine, info);
    request.log.info({ machine: machine.name, profile: served.profile, loader: 'iPXE', arch }, 'boot served');
    if (served.profile === LOCAL_PROFILE && !(await profiles.available()).includes(LOCAL_PROFILE)) return localBootScript(machine.name);
    return toIpxe(await profiles.render(served.profile, profileVariables(machine, mac, served.profile, server)), machine.name, server);
  };
  app.get('/boot/:mac', plain, boot);
  app.get('/boot.ipxe', plain, boot);

  const files = staticBootFiles(paths.tftpRoot);
  const artifact = async (request: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply) => {
    const path = request.params['*'];
    let file: TftpFile | undefined;
    try {
      file = await files.open(path, { address: plainAddress(request.ip), port: 0 });
    } catch (error) {
      if (error instanceof TftpAccessDeniedError) throw invalid('PATH_REFUSED', `refused path '${path}': ${error.message}`);
      throw error;
    }
    if (!file) throw notFound('NO_SUCH_ARTIFACT', `no file '${path}' in the TFTP root ${paths.tftpRoot}`);
    return sendRange(request, reply, file);
  };
  app.get('/tftp/*', plain, artifact);
}

/** Sends a file, or the one byte range asked for, streaming it in chunks. */
function sendRange(request: FastifyRequest, reply: FastifyReply, file: TftpFile): FastifyReply {
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
