// HTTP(S) to one AMT with digest authentication (RFC 7616: MD5, qop=auth, the nonce reused
// with a growing nc, a new challenge answered on stale=true), retries for an AMT whose NIC is
// asleep (connection refused or timing out while the host is off), and bounded responses.
import { randomBytes } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import { AMT_DEFAULTS, AMT_DEFAULT_USER, AMT_HTTPS_PORT, AMT_HTTP_PORT } from './constants.ts';
import { buildAuthorization, parseChallenge } from './digest.ts';
import type { DigestChallenge } from './digest.ts';
import { AmtAuthError, AmtConnectError, AmtProtocolError, AmtTimeoutError, AmtTlsError } from './errors.ts';

/** Where an AMT is and how to log in. `password` is only ever used for the digest hash. */
export interface AmtEndpoint {
  readonly host: string;
  /** Default: 16992 for http, 16993 for https. */
  readonly port?: number;
  /** Default 'http'. */
  readonly scheme?: 'http' | 'https';
  readonly user?: string;
  readonly password: string;
  /** Accept a self-signed certificate (most AMTs have one); off unless the machine's options say so. */
  readonly allowSelfSigned?: boolean;
  /** Extra CA certificates (PEM) to trust for this AMT. */
  readonly ca?: string | Buffer;
}

export interface TransportOptions {
  readonly connectAttempts?: number;
  readonly retryDelayMs?: number;
  readonly retryMaxDelayMs?: number;
  readonly connectTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** One request with all its attempts and the waits between them (AMT_DEFAULTS.deadlineMs). */
  readonly deadlineMs?: number;
  readonly maxResponseBytes?: number;
  /** Waits between retries; injectable so tests need not wait on real time. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Client nonces for digest; injectable for tests. */
  readonly cnonce?: () => string;
  /** Milliseconds on a monotonic clock, for the deadline; injectable with sleep. */
  readonly now?: () => number;
  readonly signal?: AbortSignal;
}

export interface PostOptions {
  readonly contentType: string;
  readonly soapAction?: string;
  /**
   * Whether sending the request twice does no harm. A request that never reached AMT
   * (connection refused, connect timeout) is always retried; one that may have reached it
   * (reset or timed out after sending) only when idempotent.
   */
  readonly idempotent: boolean;
}

export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** An answer with the header digest authentication reads. */
type RawAnswer = HttpAnswer & { readonly wwwAuthenticate: string | undefined };

/** Errors that mean the request never left: safe to retry whatever it was. */
const NOT_DELIVERED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'AMT_CONNECT_TIMEOUT', 'EADDRNOTAVAIL']);
/** Errors after which the request may or may not have been acted on. */
const MAYBE_DELIVERED = new Set(['ECONNRESET', 'EPIPE', 'AMT_RESPONSE_TIMEOUT']);
/** Certificate problems that a self-signed AMT certificate causes (OpenSSL X509_V_ERR_*). */
const SELF_SIGNED_ERRORS = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN']);

const verifiedSockets = new WeakSet<object>();

/**
 * A socket failure as the retry loop in post() sorts it, by the socket's own code (ECONNREFUSED,
 * AMT_CONNECT_TIMEOUT, ...). Not an AmtError on purpose: it never leaves this module except as
 * the `cause` of the AmtConnectError or AmtTimeoutError that post() throws in its place.
 */
class TransportFailure extends Error {
  readonly code: string;
  /** For a timeout: the per-attempt bound that was set (the deadline may have cut it shorter). */
  readonly perAttemptMs: number | undefined;
  constructor(code: string, message: string, perAttemptMs?: number) {
    super(message);
    this.code = code;
    this.perAttemptMs = perAttemptMs;
  }
}

/** When the current request must be over, on the transport's clock. */
interface Deadline {
  readonly at: number;
  readonly now: () => number;
}

export class DigestTransport {
  readonly endpoint: AmtEndpoint;
  readonly #options: TransportOptions;
  readonly #agent: HttpAgent | HttpsAgent;
  #challenge: DigestChallenge | undefined;
  #nonceCount = 0;

  constructor(endpoint: AmtEndpoint, options: TransportOptions = {}) {
    this.endpoint = endpoint;
    this.#options = options;
    this.#agent = this.scheme === 'https' ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  }

  get scheme(): 'http' | 'https' {
    return this.endpoint.scheme ?? (this.endpoint.port === AMT_HTTPS_PORT ? 'https' : 'http');
  }
  get port(): number {
    return this.endpoint.port ?? (this.scheme === 'https' ? AMT_HTTPS_PORT : AMT_HTTP_PORT);
  }
  get user(): string {
    return this.endpoint.user ?? AMT_DEFAULT_USER;
  }
  /** host:port as messages name the machine. */
  get label(): string {
    return `${this.endpoint.host}:${this.port}`;
  }
  url(path: string): string {
    const host = this.endpoint.host.includes(':') ? `[${this.endpoint.host}]` : this.endpoint.host;
    return `${this.scheme}://${host}:${this.port}${path}`;
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.#agent.destroy();
  }

  /**
   * POSTs `body`, authenticating with digest; retries per PostOptions.idempotent, all within
   * the deadline (an attempt is cut short to end by then). Any status but 401 is returned.
   */
  async post(path: string, body: string, options: PostOptions): Promise<HttpAnswer> {
    const attempts = this.#options.connectAttempts ?? AMT_DEFAULTS.connectAttempts;
    const deadlineMs = this.#options.deadlineMs ?? AMT_DEFAULTS.deadlineMs;
    const now = this.#options.now ?? (() => performance.now());
    const started = now();
    const deadline = { at: started + deadlineMs, now };
    let wait = this.#options.retryDelayMs ?? AMT_DEFAULTS.retryDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#authenticated(path, body, options, deadline);
      } catch (error) {
        if (!(error instanceof TransportFailure)) throw error;
        const retryable = NOT_DELIVERED.has(error.code) || (options.idempotent && MAYBE_DELIVERED.has(error.code));
        const elapsedMs = now() - started;
        const outOfTime = elapsedMs + wait >= deadlineMs;
        if (!retryable || attempt >= attempts || outOfTime) {
          const tried = {
            attempts: attempt,
            elapsedMs,
            ...(error.perAttemptMs === undefined ? {} : { perAttemptMs: error.perAttemptMs }),
            // The deadline is named when it, not the attempt count or idempotency, stopped the retries.
            ...(retryable && attempt < attempts ? { deadlineMs } : {}),
          };
          if (error.code === 'AMT_RESPONSE_TIMEOUT') throw new AmtTimeoutError(this.label, tried);
          throw new AmtConnectError(this.label, tried, error);
        }
        const sleep = this.#options.sleep ?? ((ms: number, signal?: AbortSignal) => delay(ms, undefined, signal ? { signal } : {}));
        await sleep(wait, this.#options.signal);
        wait = Math.min(wait * 2, this.#options.retryMaxDelayMs ?? AMT_DEFAULTS.retryMaxDelayMs);
      }
    }
  }

  /** One exchange, plus at most one more after a 401 that carried a fresh (or stale) challenge. */
  async #authenticated(path: string, body: string, options: PostOptions, deadline: Deadline): Promise<HttpAnswer> {
    let sentCredentials = false;
    for (let round = 0; round < 2; round++) {
      const authorization = this.#authorization(path);
      sentCredentials = authorization !== undefined;
      const answer = await this.#send(path, body, options, authorization, deadline);
      if (answer.status !== 401) return answer;
      const challenge = parseChallenge(answer.wwwAuthenticate);
      if (challenge === undefined) throw new AmtProtocolError(`AMT ${this.label} answered 401 without a Digest challenge`, 401);
      // Right credentials on an old nonce: RFC 7616 §3.3 stale=true. Otherwise, if we already
      // answered a challenge, the user or password is wrong.
      if (sentCredentials && !challenge.stale) break;
      this.#challenge = challenge;
      this.#nonceCount = 0;
    }
    this.#challenge = undefined;
    throw new AmtAuthError(this.label, this.user);
  }

  #authorization(path: string): string | undefined {
    if (this.#challenge === undefined) return undefined;
    this.#nonceCount++;
    const cnonce = this.#options.cnonce?.() ?? randomBytes(8).toString('hex');
    return buildAuthorization({
      challenge: this.#challenge,
      username: this.user,
      password: this.endpoint.password,
      method: 'POST',
      uri: path,
      nonceCount: this.#nonceCount,
      cnonce,
    });
  }

  #send(path: string, body: string, options: PostOptions, authorization: string | undefined, deadline: Deadline): Promise<RawAnswer> {
    const connectLimit = this.#options.connectTimeoutMs ?? AMT_DEFAULTS.connectTimeoutMs;
    const requestLimit = this.#options.requestTimeoutMs ?? AMT_DEFAULTS.requestTimeoutMs;
    const left = Math.max(1, Math.ceil(deadline.at - deadline.now()));
    const connectTimeout = Math.min(connectLimit, left);
    const requestTimeout = Math.min(requestLimit, left);
    const maxBytes = this.#options.maxResponseBytes ?? AMT_DEFAULTS.maxResponseBytes;
    const payload = Buffer.from(body, 'utf8');
    const headers: Record<string, string | number> = { 'content-type': options.contentType, 'content-length': payload.length };
    if (options.soapAction !== undefined) headers['soapaction'] = options.soapAction;
    if (authorization !== undefined) headers['authorization'] = authorization;
    const https = this.scheme === 'https';
    const allowSelfSigned = this.endpoint.allowSelfSigned === true;

    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | undefined, value?: RawAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        clearTimeout(requestTimer);
        if (error) reject(error);
        else resolve(value!);
      };
      const common = {
        host: this.endpoint.host,
        port: this.port,
        path,
        method: 'POST',
        headers,
        agent: this.#agent,
        ...(this.#options.signal ? { signal: this.#options.signal } : {}),
      };
      const req: ClientRequest = https
        ? httpsRequest({ ...common, rejectUnauthorized: !allowSelfSigned, ...(this.endpoint.ca ? { ca: this.endpoint.ca } : {}) })
        : httpRequest(common);
      const connectTimer = setTimeout(
        () => req.destroy(new TransportFailure('AMT_CONNECT_TIMEOUT', `no connection within ${connectTimeout} ms`, connectLimit)),
        connectTimeout,
      );
      const requestTimer = setTimeout(
        () => req.destroy(new TransportFailure('AMT_RESPONSE_TIMEOUT', `no answer within ${requestTimeout} ms`, requestLimit)),
        requestTimeout,
      );
      req.on('socket', (socket) => this.#checkConnection(req, socket, () => clearTimeout(connectTimer)));
      req.on('error', (error: Error & { code?: string }) => finish(this.#failure(error)));
      req.on('response', (res: IncomingMessage) => {
        clearTimeout(connectTimer);
        this.#readAnswer(res, maxBytes, finish);
      });
      req.end(payload);
    });
  }

  /** Stops the connect timer once connected; over HTTPS, once the handshake is done and the certificate is accepted. */
  #checkConnection(req: ClientRequest, socket: Socket, connected: () => void): void {
    if (this.scheme === 'https') {
      const tls = socket as TLSSocket;
      const check = (): void => {
        connected();
        // With allowSelfSigned, verification is done here: only a self-signed chain is forgiven.
        if (this.endpoint.allowSelfSigned === true && !tls.authorized) {
          const reason = String(tls.authorizationError ?? '');
          if (!SELF_SIGNED_ERRORS.has(reason)) req.destroy(new AmtTlsError(this.label, `certificate not accepted (${reason})`));
        }
      };
      // A kept-alive socket was checked when it was made; a new one is checked once its handshake ends.
      if (verifiedSockets.has(tls)) connected();
      else
        tls.once('secureConnect', () => {
          verifiedSockets.add(tls);
          check();
        });
    } else if ((socket as { connecting?: boolean }).connecting) {
      socket.once('connect', connected);
    } else {
      connected();
    }
  }

  /** A request's error as the retry loop sees it: a TLS failure, an abort, or a TransportFailure with the socket's code. */
  #failure(error: Error & { code?: string }): Error {
    if (error instanceof TransportFailure || error instanceof AmtTlsError) return error;
    const code = error.code ?? '';
    if (code.startsWith('ERR_TLS') || /CERT|SSL|self.signed/i.test(code) || /certificate/i.test(error.message)) {
      const hint = this.endpoint.allowSelfSigned === true ? '' : '; set allowSelfSigned for an AMT with a self-signed certificate';
      return new AmtTlsError(this.label, `${error.message}${hint}`, error);
    }
    if (error.name === 'AbortError') return error;
    return new TransportFailure(code || 'ECONNRESET', error.message);
  }

  /** Reads a response of at most maxBytes. */
  #readAnswer(res: IncomingMessage, maxBytes: number, finish: (error: Error | undefined, value?: RawAnswer) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        res.destroy();
        finish(new AmtProtocolError(`AMT ${this.label} sent a response over ${maxBytes} bytes`, res.statusCode));
        return;
      }
      chunks.push(chunk);
    });
    res.on('error', (error: Error & { code?: string }) => finish(new TransportFailure(error.code ?? 'ECONNRESET', error.message)));
    res.on('end', () =>
      finish(undefined, {
        status: res.statusCode ?? 0,
        contentType: String(res.headers['content-type'] ?? ''),
        body: Buffer.concat(chunks).toString('utf8'),
        wwwAuthenticate: res.headers['www-authenticate'],
      }),
    );
  }
}
