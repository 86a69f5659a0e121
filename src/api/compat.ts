// pxemngr's machine-facing URLs, with its trailing slashes: /localboot/, /profile/,
// /nexttest/, /upload/. Each takes the machine in the path or, without one, finds it from
// the request's source address. They take no token: machines call them from install scripts.
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Machine } from '../machines/machines.ts';
import { AnvilError, invalid, notFound } from '../common/errors.ts';
import { normalizeMac, parseMac } from '../machines/mac.ts';
import { plainAddress } from '../boot/resolver.ts';
import { MACHINE_FACING as plain, type ApiContext } from './context.ts';

interface Located {
  readonly machine: Machine;
  readonly mac: string | undefined;
}

/** The machine a request is about: from the MAC in its path, else from its source address. */
export async function locate(ctx: Pick<ApiContext, 'machines' | 'resolver'>, request: FastifyRequest, macParam: string | undefined): Promise<Located> {
  const { machines } = ctx;
  if (macParam !== undefined) {
    const mac = normalizeMac(macParam);
    const machine = await machines.byMac(mac);
    if (!machine) throw notFound('UNKNOWN_MACHINE', `no machine has MAC ${mac}; enroll it with: pxemngr addsystem NAME ${mac}`);
    return { machine, mac };
  }
  const address = plainAddress(request.ip);
  const mac = await ctx.resolver.macOf(address);
  if (!mac) {
    throw notFound(
      'UNKNOWN_ADDRESS',
      `no machine found for address ${address}: it is in no ${ctx.resolver.sourceNames.join(' or ')}; put the machine's MAC in the URL, e.g. ${request.url.replace(/\/?$/, '/')}<mac>/`,
    );
  }
  const machine = await machines.byMac(mac);
  if (!machine)
    throw notFound('UNKNOWN_MACHINE', `address ${address} has MAC ${mac}, which belongs to no machine; enroll it with: pxemngr addsystem NAME ${mac}`);
  return { machine, mac };
}

export async function compatRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { nextBoot, testing } = ctx;

  const localboot = async (request: FastifyRequest<{ Params: { mac?: string } }>) => {
    const { machine } = await locate(ctx, request, request.params.mac);
    await nextBoot.localBoot(machine, 'localboot callback');
    return `${machine.name}: next boot is local\n`;
  };
  app.get('/localboot/', plain, localboot);
  app.get('/localboot/:mac/', plain, localboot);

  const profile = async (request: FastifyRequest<{ Params: { mac?: string } }>) => {
    const { machine } = await locate(ctx, request, request.params.mac);
    return machine.next_profile;
  };
  app.get('/profile/', plain, profile);
  app.get('/profile/:mac/', plain, profile);

  const nexttest = async (request: FastifyRequest<{ Params: { mac?: string } }>, reply: FastifyReply) => {
    const { machine, mac } = await locate(ctx, request, request.params.mac);
    const macs = mac ? [mac] : await ctx.machines.macsOf(machine.id);
    const next = await testing.nextScript(machine, { server: ctx.baseUrl(request), mac: macs[0] });
    request.log.info({ machine: machine.name, test: next.testname, run: next.run?.id }, 'test script sent');
    // For agents that want to know without parsing the script; pxemngr's clients ignore them.
    reply.header('x-anvil-test', next.testname);
    if (next.run) reply.header('x-anvil-run', String(next.run.id));
    return next.script;
  };
  app.get('/nexttest/', plain, nexttest);
  app.get('/nexttest/:mac/', plain, nexttest);

  // Uploads also arrive as a raw body (busybox wget --post-file, curl --data-binary), streamed.
  // busybox wget --post-file labels its body as a form, so form parsing is off in this scope.
  app.removeContentTypeParser(['application/x-www-form-urlencoded', 'text/plain']);
  for (const type of ['application/octet-stream', 'text/plain', 'application/x-www-form-urlencoded']) {
    app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
  }
  const upload = async (request: FastifyRequest<{ Params: { run?: string } }>) => {
    let runId: number;
    if (request.params.run !== undefined && /^\d{1,12}$/.test(request.params.run)) {
      runId = Number(request.params.run);
    } else if (request.params.run !== undefined) {
      // /upload/<mac>/, as /nexttest/<mac>/: the run that machine was sent last.
      if (!parseMac(request.params.run)) {
        throw invalid(
          'INVALID_RUN_ID',
          `'${request.params.run}' is neither a run id nor a MAC; upload to /upload/<run-id>/ (the number the test script got as {{ log }}), /upload/<mac>/ or /upload/`,
        );
      }
      const { machine } = await locate(ctx, request, request.params.run);
      runId = (await testing.latestSent(machine)).id;
    } else {
      const { machine } = await locate(ctx, request, undefined);
      runId = (await testing.latestSent(machine)).id;
    }
    await testing.get(runId);
    const temp = await testing.uploadTempPath();
    let bytes = 0;
    const limit = ctx.uploadLimit;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, callback) {
        bytes += chunk.length;
        if (bytes > limit) callback(tooLarge(limit));
        else callback(null, chunk);
      },
    });
    try {
      if (request.isMultipart()) {
        const part = await request.file();
        if (!part) throw invalid('UPLOAD_MISSING_FILE', 'the upload has no file; send it as the multipart field "file": curl -F "file=@OUTPUT" URL');
        if (part.fieldname !== 'file')
          throw invalid('UPLOAD_WRONG_FIELD', `the upload's file is in field "${part.fieldname}"; send it as "file": curl -F "file=@OUTPUT" URL`);
        await pipeline(part.file, counter, createWriteStream(temp, { mode: 0o640 }));
        if (part.file.truncated) throw tooLarge(limit);
      } else if (request.body && typeof (request.body as NodeJS.ReadableStream).pipe === 'function') {
        await pipeline(request.body as NodeJS.ReadableStream, counter, createWriteStream(temp, { mode: 0o640 }));
      } else {
        throw invalid('UPLOAD_MISSING_FILE', 'send the result as multipart/form-data with the field "file" (curl -F "file=@OUTPUT" URL) or as a raw body');
      }
    } catch (error) {
      await rm(temp, { force: true });
      if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge(limit);
      throw clientMultipartError(error) ?? error;
    }
    const run = await testing.fileUpload(runId, temp, bytes);
    request.log.info({ run: run.id, machine: run.machine, bytes, errors: run.errors }, 'test result uploaded');
    return `run ${run.id} (${run.test} on ${run.machine}): ${count(run.infos, 'info', 'info')}, ${count(run.warnings, 'warning')}, ${count(run.errors, 'error')}\n`;
  };
  app.post('/upload/', plain, upload);
  app.post('/upload/:run/', plain, upload);
}

function tooLarge(limit: number): AnvilError {
  return new AnvilError(
    'UPLOAD_TOO_LARGE',
    'too-large',
    `the upload is larger than the limit of ${limit} bytes; nothing was stored (the server's --upload-limit sets it)`,
  );
}

/**
 * The client's mistakes busboy reports as plain Errors (no code): a body that ends before its
 * closing boundary (a killed curl, a dropped connection) and a Content-Type without a boundary.
 */
function clientMultipartError(error: unknown): AnvilError | undefined {
  const message = error instanceof Error ? error.message : '';
  const code = (error as { code?: string }).code;
  if (/boundary not found/i.test(message))
    return invalid(
      'UPLOAD_NO_BOUNDARY',
      'the multipart upload has no boundary in its Content-Type; nothing was stored. Send it with curl -F "file=@OUTPUT" URL, which sets one, or send the file as a raw body',
    );
  if (/unexpected end of multipart data/i.test(message) || code === 'FST_MP_PREMATURE_CLOSE')
    return invalid('UPLOAD_TRUNCATED', 'the multipart body ends before its closing boundary (the upload was cut short); nothing was stored. Send it again');
  return undefined;
}

/** '1 error', '2 errors'. */
const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
