// A fake anvil for the deploy agent's protocol v1 (scripts/agent/init.sh): a node:http server
// on 127.0.0.1 that answers hello with the next scripted job (deploy, capture, wait, stop),
// serves that job's image, answers progress (or 403s it) and result, and takes a capture's
// chunked PUT (zstd, decompressed and hashed on the fly: SHA-256 and XXH64, as anvil does). Every request is recorded, with its
// key=value fields, for the test to assert on; waitFor() resolves on one.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zlib, createGzip, createZstdCompress, createZstdDecompress } from 'node:zlib';
import { join } from 'node:path';
import { Xxh64 } from '../../src/provisioning/xxh64.ts';
import { tempDir } from './anvil-process.ts';

export type AfterResult = 'wait' | 'reboot' | 'poweroff';

/** An image as anvil sends it: the file served, its format, and the size and sha256 of its disk content. */
export interface AgentImage {
  readonly file: string;
  readonly format: 'raw' | 'gzip' | 'zstd';
  readonly size: number;
  readonly sha256: string;
}

export interface DeployJob {
  readonly action: 'deploy';
  readonly image: AgentImage;
  readonly device?: string;
  /** Overrides image.size in the hello answer (an image that does not fit). */
  readonly size?: number;
  readonly progressInterval?: number;
  /** Sends this many bytes of the image, then holds the rest until the agent goes away. */
  readonly holdAfter?: number;
  /** A message makes the answer to that progress report a 403 with it. */
  readonly progress?: (report: AgentRequest, n: number) => string | undefined;
  /** What anvil's answer says of the login files: login_home=, currentimage= and authorized_key= lines. */
  readonly login?: { readonly home: string; readonly currentimage: readonly string[]; readonly keys: readonly string[] };
  readonly then: AfterResult;
}

export interface CaptureJob {
  readonly action: 'capture';
  readonly size: number;
  /** Where the decompressed upload is written. */
  readonly into: string;
  readonly device?: string;
  readonly progressInterval?: number;
  readonly then: AfterResult;
}

/** Hello is answered with wait; with `until`, again and again until it says true (the test looked at the disk). */
export interface WaitJob {
  readonly action: 'wait';
  readonly retry: number;
  readonly until?: () => boolean;
}

export type AgentJob = DeployJob | CaptureJob | WaitJob | { readonly action: 'stop'; readonly message: string };

/** One request the agent made. */
export interface AgentRequest {
  readonly method: string;
  readonly path: string;
  readonly token: string | undefined;
  /** key=value lines of the body (a key may repeat). */
  readonly fields: ReadonlyMap<string, readonly string[]>;
  /** GET image: whether all of it went out; capture PUT: the body's size on the wire. */
  readonly imageComplete?: boolean;
  readonly uploadBytes?: number;
  readonly uploadSha256?: string;
  readonly uploadXxh64?: string;
  readonly at: number;
}

/** A stream end that drops what it is given. */
function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() });
}

/** The image anvil would send of a raw disk file: as it is, or compressed into `into`. */
export async function imageOf(raw: string, format: AgentImage['format'], into?: string): Promise<AgentImage> {
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  if (format === 'raw') {
    await pipeline(createReadStream(raw), tap, discard());
    return { file: raw, format, size: statSync(raw).size, sha256: hash.digest('hex') };
  }
  if (into === undefined) throw new Error(`a ${format} image needs a file to go into`);
  const compress = format === 'zstd' ? createZstdCompress({ params: { [zlib.ZSTD_c_compressionLevel]: 3 } }) : createGzip();
  await pipeline(createReadStream(raw), tap, compress, createWriteStream(into));
  return { file: into, format, size: statSync(raw).size, sha256: hash.digest('hex') };
}

/** The first value of a field, or undefined. */
export function field(request: AgentRequest, key: string): string | undefined {
  return request.fields.get(key)?.[0];
}

/**
 * A deploy agent build (ANVIL_AGENT_BUILD) of two placeholder files that anvil's boot answer can
 * point at, for tests that play the agent over HTTP themselves: nothing boots it.
 */
export function fakeAgentBuild(prefix = 'anvil-agent-'): string {
  const dir = tempDir(prefix);
  writeFileSync(join(dir, 'vmlinuz'), 'kernel');
  writeFileSync(join(dir, 'initrd.gz'), 'initrd');
  return dir;
}

/** An answer of anvil's to the agent as one object (a key given twice: its last value), for deepEqual. */
export function answerFields(text: string): Record<string, string> {
  return Object.fromEntries([...parseFields(text)].map(([key, values]) => [key, values.at(-1) ?? '']));
}

/** Parses a text/plain key=value body (protocol v1: the value runs to the end of the line). */
export function parseFields(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    fields.set(key, [...(fields.get(key) ?? []), line.slice(eq + 1).replace(/\r$/, '')]);
  }
  return fields;
}

export interface FakeAgentServerOptions {
  readonly token: string;
  readonly jobs: readonly AgentJob[];
  /** How hello is answered once the jobs are done. */
  readonly idle?: AgentJob;
  /** Default any free one. */
  readonly port?: number;
}

export class FakeAgentServer {
  readonly token: string;
  readonly requests: AgentRequest[] = [];
  readonly #server: Server;
  readonly #jobs: AgentJob[];
  readonly #idle: AgentJob;
  #job: AgentJob | undefined;
  #progress = 0;
  #listeners = new Set<() => void>();
  #release: (() => void) | undefined;

  private constructor(options: FakeAgentServerOptions) {
    this.token = options.token;
    this.#jobs = [...options.jobs];
    this.#idle = options.idle ?? { action: 'stop', message: 'no more jobs' };
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(`message=${String(error)}\n`);
        else res.destroy();
      });
    });
  }

  static async start(options: FakeAgentServerOptions): Promise<FakeAgentServer> {
    const server = new FakeAgentServer(options);
    server.#server.listen(options.port ?? 0, '127.0.0.1');
    await once(server.#server, 'listening');
    return server;
  }

  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening');
    return address.port;
  }

  /** Requests to one path (e.g. 'progress', 'result', 'hello', 'image', 'capture'). */
  to(name: string): AgentRequest[] {
    return this.requests.filter((r) => r.path === `/agent/v1/${name}`);
  }

  /** Resolves with the first request to `name` (after `skip` earlier ones) that matches. */
  async waitFor(name: string, timeoutMs: number, skip = 0): Promise<AgentRequest> {
    const found = (): AgentRequest | undefined => this.to(name)[skip];
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const r = found();
        if (r === undefined) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`no request #${skip + 1} to /agent/v1/${name} within ${timeoutMs} ms; got ${this.requests.map((r) => r.path).join(', ')}`));
      }, timeoutMs);
      this.#listeners.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    this.#release?.();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #record(req: IncomingMessage, body: string, extra: Partial<AgentRequest> = {}): AgentRequest {
    const token = req.headers['x-anvil-token'];
    const request: AgentRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      token: typeof token === 'string' ? token : undefined,
      fields: parseFields(body),
      at: Date.now(),
      ...extra,
    };
    this.requests.push(request);
    for (const listener of [...this.#listeners]) listener();
    return request;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const answer = (lines: string[], status = 200): void => {
      res.writeHead(status, { 'content-type': 'text/plain' }).end(lines.map((l) => `${l}\n`).join(''));
    };
    if (req.headers['x-anvil-token'] !== this.token) {
      this.#record(req, '');
      return answer(['message=wrong token'], 403);
    }
    const base = `http://${req.headers.host ?? '127.0.0.1'}/agent/v1`;
    if (req.method === 'GET' && req.url === '/agent/v1/image') return this.#image(req, res);
    if (req.method === 'PUT' && req.url === '/agent/v1/capture') return this.#capture(req, res);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = this.#record(req, Buffer.concat(chunks).toString('utf8'));
    const job = this.#job;
    switch (req.url) {
      case '/agent/v1/hello': {
        const held = job?.action === 'wait' && job.until !== undefined && !job.until();
        if (!held) this.#job = this.#jobs.shift() ?? this.#idle;
        if (this.#job === undefined) throw new Error('no job');
        this.#progress = 0;
        return answer(helloAnswer(this.#job, base));
      }
      case '/agent/v1/progress': {
        const message = job?.action === 'deploy' ? job.progress?.(request, this.#progress++) : undefined;
        if (message !== undefined) {
          // The image is held for this: let it go once the agent had its answer.
          setTimeout(() => this.#release?.(), 2000).unref();
          return answer([`message=${message}`], 403);
        }
        return answer(['ok=1']);
      }
      case '/agent/v1/result':
        return answer([`action=${job !== undefined && 'then' in job ? job.then : 'poweroff'}`]);
      default:
        return answer([`message=no such path ${req.url}`], 404);
    }
  }

  async #image(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const job = this.#job;
    if (job?.action !== 'deploy') return void res.writeHead(404).end();
    const { file } = job.image;
    const length = statSync(file).size;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': length });
    let sent = 0;
    const hold = job.holdAfter;
    const gate = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        if (hold === undefined || sent + chunk.length <= hold) {
          sent += chunk.length;
          return callback(null, chunk);
        }
        const head = chunk.subarray(0, Math.max(0, hold - sent));
        sent += head.length;
        if (head.length > 0) gate.push(head);
        this.#release = () => callback(new Error('held'));
      },
    });
    let complete = false;
    try {
      await pipeline(createReadStream(file), gate, res);
      complete = sent === length;
    } catch {
      complete = false;
    }
    this.#record(req, '', { imageComplete: complete });
  }

  async #capture(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const job = this.#job;
    let wire = 0;
    const hash = createHash('sha256');
    const sum = await Xxh64.create();
    const count = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        wire += chunk.length;
        callback(null, chunk);
      },
    });
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        sum.update(chunk);
        callback(null, chunk);
      },
    });
    // Outside a capture job (the bench's plain-way upload) the content is only counted.
    const sink = job?.action === 'capture' ? createWriteStream(job.into) : discard();
    await pipeline(req, count, createZstdDecompress(), tap, sink);
    const sha256 = hash.digest('hex');
    const xxh64 = sum.hex();
    this.#record(req, '', { uploadBytes: wire, uploadSha256: sha256, uploadXxh64: xxh64 });
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`sha256=${sha256}\nxxh64=${xxh64}\n`);
  }
}

/** The hello answer for a job. */
function helloAnswer(job: AgentJob, base: string): string[] {
  switch (job.action) {
    case 'deploy':
      return [
        'action=deploy',
        `device=${job.device ?? '/dev/vda'}`,
        `image_url=${base}/image`,
        `format=${job.image.format}`,
        `size=${job.size ?? job.image.size}`,
        `sha256=${job.image.sha256}`,
        `progress_interval=${job.progressInterval ?? 2}`,
        ...(job.login
          ? [`login_home=${job.login.home}`, ...job.login.keys.map((k) => `authorized_key=${k}`), ...job.login.currentimage.map((l) => `currentimage=${l}`)]
          : []),
      ];
    case 'capture':
      return [
        'action=capture',
        `device=${job.device ?? '/dev/vda'}`,
        `size=${job.size}`,
        `upload_url=${base}/capture`,
        `progress_interval=${job.progressInterval ?? 2}`,
      ];
    case 'wait':
      return ['action=wait', `retry=${job.retry}`];
    case 'stop':
      return ['action=stop', `message=${job.message}`];
  }
}
