// An emulated Intel AMT: one HTTP(S) server answering WS-Management on /wsman and the
// legacy SOAP services amttool calls, behind HTTP digest authentication (RFC 7616) with
// stale-nonce handling. Power and boot go to an AmtHandler (in memory by default).
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { AMT_DEFAULT_USER, AMT_DIGEST_REALM, AMT_HTTP_PORT, EMULATOR_MAX_BODY_BYTES, SOAP_SERVICES, WSMAN_PATH } from '../constants.ts';
import type { AmtBootDevice, SoapService } from '../constants.ts';
import { buildChallenge, parseAuthorization, verifyAuthorization } from '../digest.ts';
import { SOAP_CONTENT_TYPE } from '../soap-codec.ts';
import { BootConfig } from './boot-config.ts';
import { MemoryAmtHandler } from './handler.ts';
import type { AmtHandler } from './handler.ts';
import { answerSoap } from './soap-service.ts';
import { answerWsman } from './wsman-service.ts';

export type AmtProtocol = 'wsman' | 'soap';

export const EMULATOR_DEFAULTS = {
  address: '127.0.0.1',
  port: AMT_HTTP_PORT,
  user: AMT_DEFAULT_USER,
  amtVersion: '8.1.20',
  hostname: 'amt-emulator',
  domain: 'localdomain',
  /** How long a nonce stays fresh; older ones are answered 401 stale=true (RFC 7616 §3.3). */
  nonceLifetimeMs: 5 * 60_000,
  /** Nonces remembered at once; the oldest are forgotten first. */
  maxNonces: 1024,
} as const;

export interface AmtEmulatorOptions {
  readonly password: string;
  readonly user?: string;
  readonly address?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly handler?: AmtHandler;
  /** Serve HTTPS with this key and certificate (PEM) instead of HTTP. */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** Which faces to serve; an AMT before 6.0 had only SOAP, one from 9.0 on only WS-Man. */
  readonly protocols?: readonly AmtProtocol[];
  /** Boot devices the emulated BIOS offers (AMT_BootCapabilities, SpecialCommandsSupported); all by default. */
  readonly bootDevices?: readonly AmtBootDevice[];
  readonly amtVersion?: string;
  readonly hostname?: string;
  readonly domain?: string;
  readonly nonceLifetimeMs?: number;
  readonly now?: () => number;
  /** One line per request: method, path, status. Never credentials. */
  readonly log?: (line: string) => void;
}

export interface EmulatorStats {
  requests: number;
  unauthorized: number;
  faults: number;
  badRequests: number;
}

type AuthResult = 'ok' | 'challenge' | 'stale' | 'bad-uri';

export class AmtEmulator {
  readonly handler: AmtHandler;
  readonly boot: BootConfig;
  readonly stats: EmulatorStats = { requests: 0, unauthorized: 0, faults: 0, badRequests: 0 };
  readonly #options: AmtEmulatorOptions;
  readonly #server: Server;
  readonly #nonces = new Map<string, { issued: number; lastNc: number }>();
  readonly #enumerations = new Map<string, string[]>();
  readonly #protocols: ReadonlySet<AmtProtocol>;
  readonly #now: () => number;

  constructor(options: AmtEmulatorOptions) {
    this.#options = options;
    this.handler = options.handler ?? new MemoryAmtHandler();
    this.boot = new BootConfig(options.bootDevices);
    this.#protocols = new Set(options.protocols ?? ['wsman', 'soap']);
    this.#now = options.now ?? Date.now;
    const listener = (req: IncomingMessage, res: ServerResponse): void => {
      this.#serve(req, res).catch(() => {
        // A handler failure must never take the server down: answer 500 and go on.
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    };
    this.#server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, listener) : createHttpServer(listener);
  }

  /** Starts listening; resolves to the bound address and port. */
  async listen(): Promise<{ address: string; port: number }> {
    const { address = EMULATOR_DEFAULTS.address, port = EMULATOR_DEFAULTS.port } = this.#options;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, address, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const bound = this.#server.address() as AddressInfo;
    return { address: bound.address, port: bound.port };
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  /** Forgets every nonce, so the next authenticated request is answered stale=true (for tests of re-auth). */
  expireNonces(): void {
    for (const entry of this.#nonces.values()) entry.issued = -Infinity;
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = this.#route(path);
    if (route === undefined) return this.#plain(req, res, 404, 'not found');
    if (req.method !== 'POST') return this.#plain(req, res, 405, 'only POST is served here');

    const auth = this.#authenticate(req);
    if (auth === 'bad-uri') return this.#plain(req, res, 400, 'digest uri does not match the request');
    if (auth !== 'ok') {
      this.stats.unauthorized++;
      req.resume();
      res.writeHead(401, {
        'www-authenticate': buildChallenge({ realm: AMT_DIGEST_REALM, nonce: this.#issueNonce(), stale: auth === 'stale' }),
        'content-type': 'text/plain',
        connection: 'close',
      });
      res.end('unauthorized\n');
      this.#log(req, 401);
      return;
    }

    const body = await readBody(req, EMULATOR_MAX_BODY_BYTES);
    if (body === undefined) return this.#plain(req, res, 413, `request body over ${EMULATOR_MAX_BODY_BYTES} bytes`);

    const reply =
      route === 'wsman'
        ? await answerWsman(body, {
            handler: this.handler,
            boot: this.boot,
            amtVersion: this.#options.amtVersion ?? EMULATOR_DEFAULTS.amtVersion,
            hostname: this.#options.hostname ?? EMULATOR_DEFAULTS.hostname,
            domain: this.#options.domain ?? EMULATOR_DEFAULTS.domain,
            maxChars: EMULATOR_MAX_BODY_BYTES,
            messageId: () => `uuid:${randomUUID()}`,
            enumerations: this.#enumerations,
          })
        : await answerSoap(route, body, {
            handler: this.handler,
            boot: this.boot,
            maxChars: EMULATOR_MAX_BODY_BYTES,
            identity: {
              amtVersion: this.#options.amtVersion ?? EMULATOR_DEFAULTS.amtVersion,
              hostname: this.#options.hostname ?? EMULATOR_DEFAULTS.hostname,
              domain: this.#options.domain ?? EMULATOR_DEFAULTS.domain,
            },
          });
    if (reply.status !== 200) this.stats.faults++;
    res.writeHead(reply.status, { 'content-type': route === 'wsman' ? 'application/soap+xml;charset=UTF-8' : SOAP_CONTENT_TYPE });
    res.end(reply.body);
    this.#log(req, reply.status);
  }

  #route(path: string): 'wsman' | SoapService | undefined {
    if (path === WSMAN_PATH) return this.#protocols.has('wsman') ? 'wsman' : undefined;
    if (!this.#protocols.has('soap')) return undefined;
    const service = Object.values(SOAP_SERVICES).find((s) => path === `/${s}`);
    return service;
  }

  #authenticate(req: IncomingMessage): AuthResult {
    const credentials = parseAuthorization(req.headers.authorization);
    if (credentials === undefined) return 'challenge';
    const user = this.#options.user ?? EMULATOR_DEFAULTS.user;
    if (credentials.username !== user || credentials.realm !== AMT_DIGEST_REALM) return 'challenge';
    if (!verifyAuthorization(credentials, this.#options.password, req.method ?? 'POST')) return 'challenge';
    // RFC 7616 §3.4.6: the digest must be for this request's URI.
    if (credentials.uri !== req.url) return 'bad-uri';
    const entry = this.#nonces.get(credentials.nonce);
    const lifetime = this.#options.nonceLifetimeMs ?? EMULATOR_DEFAULTS.nonceLifetimeMs;
    if (entry === undefined || this.#now() - entry.issued > lifetime) return 'stale';
    // A nonce count that does not grow is a replay (RFC 7616 §3.4).
    const nc = credentials.nc === undefined ? entry.lastNc + 1 : Number.parseInt(credentials.nc, 16);
    if (!Number.isFinite(nc) || nc <= entry.lastNc) return 'stale';
    entry.lastNc = nc;
    return 'ok';
  }

  #issueNonce(): string {
    if (this.#nonces.size >= EMULATOR_DEFAULTS.maxNonces) {
      const oldest = this.#nonces.keys().next().value;
      if (oldest !== undefined) this.#nonces.delete(oldest);
    }
    const nonce = randomBytes(16).toString('hex');
    this.#nonces.set(nonce, { issued: this.#now(), lastNc: 0 });
    return nonce;
  }

  #plain(req: IncomingMessage, res: ServerResponse, status: number, message: string): void {
    if (status === 400 || status === 413) this.stats.badRequests++;
    // Drain what the client sent so a keep-alive connection stays usable, but never buffer it.
    req.resume();
    res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
    res.end(`${message}\n`);
    this.#log(req, status);
  }

  #log(req: IncomingMessage, status: number): void {
    this.#options.log?.(`${req.method ?? '?'} ${req.url ?? '?'} ${status}`);
  }
}

/** The request body as text, or undefined when it exceeds `limit` bytes. */
async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  // Past the limit the rest is read and dropped, so the answer can still be sent on this socket.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? undefined : Buffer.concat(chunks).toString('utf8');
}
