// An emulated Redfish BMC (`anvil bmc redfish`): HTTPS with a generated certificate (or plain
// HTTP for tests), sessions and Basic, ETags with If-Match, AllowableValues checked, a virtual
// CD under the Manager with InsertMedia/EjectMedia, task monitors for slow resets, and Redfish
// error bodies (DSP0266 §9.6) for every malformed request — a bad request never stops it.
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { errorBody } from '../codec.ts';
import type { Json, Resource } from '../codec.ts';
import { MemoryRedfishHandler } from './handler.ts';
import type { RedfishHandler } from './handler.ts';
import { route } from './routes.ts';
import type { EmulatorState, Reply } from './routes.ts';
import { SessionTable } from './sessions.ts';

export const EMULATOR_DEFAULTS = {
  user: 'admin',
  systemId: '1',
  managerId: 'BMC',
  sessionTimeoutS: 1800,
  maxSessions: 64,
  maxBodyBytes: 64 * 1024,
  maxLogEntries: 200,
  /** How long a request may take to arrive. */
  requestTimeoutMs: 30_000,
  /** How long an idle kept-alive connection stays open (Node's own default, named). */
  keepAliveTimeoutMs: 5_000,
} as const;

export interface RedfishEmulatorOptions {
  readonly password: string;
  readonly user?: string;
  readonly handler?: RedfishHandler;
  readonly address?: string;
  readonly port?: number;
  /** HTTPS with this certificate; plain HTTP without. */
  readonly tls?: { readonly cert: string; readonly key: string };
  readonly systemId?: string;
  readonly managerId?: string;
  /** The system's Name; the system id by default. */
  readonly name?: string;
  readonly macs?: readonly string[];
  /** Resets answer 202 with a task monitor that runs at least this long (a slow BMC); 0 answers 204 when done. */
  readonly taskDelayMs?: number;
  readonly sessionTimeoutS?: number;
  readonly maxSessions?: number;
  /** Idle kept-alive connections are closed after this long. */
  readonly keepAliveTimeoutMs?: number;
  /** Told of a handler failure (the client gets a 500 with an error body). */
  readonly onError?: (error: unknown, what: string) => void;
}

export class RedfishEmulator {
  readonly handler: RedfishHandler;
  readonly #options: RedfishEmulatorOptions;
  readonly #server: Server;
  readonly #state: EmulatorState;
  /** Requests answered with an error body, by status: what a fuzz test reads. */
  readonly errors = new Map<number, number>();

  constructor(options: RedfishEmulatorOptions) {
    this.#options = options;
    this.handler = options.handler ?? new MemoryRedfishHandler();
    const systemId = options.systemId ?? EMULATOR_DEFAULTS.systemId;
    this.#state = {
      id: {
        systemId,
        managerId: options.managerId ?? EMULATOR_DEFAULTS.managerId,
        uuid: randomUUID(),
        name: options.name ?? systemId,
        macs: options.macs ?? [],
      },
      handler: this.handler,
      sessions: new SessionTable({
        user: options.user ?? EMULATOR_DEFAULTS.user,
        password: options.password,
        timeoutMs: (options.sessionTimeoutS ?? EMULATOR_DEFAULTS.sessionTimeoutS) * 1000,
        max: options.maxSessions ?? EMULATOR_DEFAULTS.maxSessions,
      }),
      sessionTimeoutS: options.sessionTimeoutS ?? EMULATOR_DEFAULTS.sessionTimeoutS,
      taskDelayMs: options.taskDelayMs ?? 0,
      tasks: new Map(),
      nextTask: 1,
      log: [],
      nextLog: 1,
      maxLog: EMULATOR_DEFAULTS.maxLogEntries,
      onError: options.onError,
    };
    const listener = (req: IncomingMessage, res: ServerResponse) => this.#serve(req, res);
    this.#server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, listener) : createHttpServer(listener);
    this.#server.requestTimeout = EMULATOR_DEFAULTS.requestTimeoutMs;
    this.#server.headersTimeout = EMULATOR_DEFAULTS.requestTimeoutMs;
    this.#server.keepAliveTimeout = options.keepAliveTimeoutMs ?? EMULATOR_DEFAULTS.keepAliveTimeoutMs;
    // A TLS handshake that fails (a client that does not trust the certificate) is the client's business.
    this.#server.on('tlsClientError', () => {});
    this.#server.on('clientError', (_error, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  get systemId(): string {
    return this.#state.id.systemId;
  }

  async listen(): Promise<{ address: string; port: number; url: string }> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port ?? 0, this.#options.address ?? '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const { address, port } = this.#server.address() as AddressInfo;
    const host = address.includes(':') ? `[${address}]` : address;
    return { address, port, url: `${this.#options.tls ? 'https' : 'http'}://${host}:${port}` };
  }

  /** Sessions open now (for tests of logout). */
  get sessionIds(): string[] {
    return this.#state.sessions.ids;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #serve(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > EMULATOR_DEFAULTS.maxBodyBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const reply = tooLarge
        ? Promise.resolve<Reply>({
            status: 413,
            body: errorBody('Base.1.8.PayloadTooLarge', `The request body is larger than ${EMULATOR_DEFAULTS.maxBodyBytes} bytes.`),
          })
        : route(this.#state, req, Buffer.concat(chunks).toString('utf8'));
      reply
        .catch((error: unknown): Reply => {
          this.#state.onError?.(error, `${req.method} ${req.url}`);
          return {
            status: 500,
            body: errorBody('Base.1.8.InternalError', 'The request failed due to an internal service error; the service is still operational.'),
          };
        })
        .then((r) => this.#send(res, r));
    });
  }

  #send(res: ServerResponse, reply: Reply): void {
    if (reply.status >= 400) this.errors.set(reply.status, (this.errors.get(reply.status) ?? 0) + 1);
    const headers: Record<string, string | number> = { 'OData-Version': '4.0', 'Cache-Control': 'no-cache', ...reply.headers };
    if (reply.body === undefined) {
      res.writeHead(reply.status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(reply.body as Json | Resource);
    res.writeHead(reply.status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }
}
