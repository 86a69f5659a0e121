// HTTP(S) to one Redfish service (DSP0266 §8 "Service requests", §13 "Security details"):
// sessions through SessionService with X-Auth-Token (logged out on close), HTTP Basic when
// the service has no session service, TLS verified by default (a CA bundle or one pinned
// certificate; turning it off is explicit and warned), 503 retried after its Retry-After, and
// a deadline on every call so a BMC that stalls never holds its caller.
import { X509Certificate } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { PeerCertificate, SecureContext } from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import { asResource, errorMessages, isObject, link, parseJson, parseRetryAfter } from './codec.ts';
import type { Json } from './codec.ts';
import { DEFAULT_SESSIONS_PATH, REDFISH_DEFAULTS, SERVICE_ROOT } from './constants.ts';
import { REDFISH_ERROR_CODES, RedfishAuthError, RedfishError, RedfishHttpError } from './errors.ts';

/** Where a Redfish service is and how to log in. */
export interface RedfishEndpoint {
  /** https://host[:port] (or http:// for a lab emulator); a path after it is ignored. */
  readonly url: string;
  readonly username?: string;
  /** Only ever sent in the session request body or the Basic header; never in a message. */
  readonly password?: string;
  /** Verify the certificate (default true). false is explicit and warned once per client. */
  readonly verify?: boolean;
  /** PEM CA certificates to trust instead of the system's. */
  readonly ca?: string | Buffer;
  /** The PEM certificate the service must present, exactly (pinned; its name is not checked). */
  readonly pinnedCertificate?: string | Buffer;
}

export interface TransportOptions {
  readonly requestTimeoutMs?: number;
  readonly callTimeoutMs?: number;
  readonly busyRetries?: number;
  readonly busyDelayMs?: number;
  readonly maxRetryAfterMs?: number;
  readonly maxResponseBytes?: number;
  /** 'session' (default) falls back to Basic when the service has no sessions; 'basic' never makes one. */
  readonly auth?: 'session' | 'basic';
  /** Told once when TLS verification is off. Default: process.emitWarning. */
  readonly warn?: (message: string) => void;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<unknown>;
  readonly now?: () => number;
}

export interface RequestOptions {
  readonly body?: Json;
  /** The ETag the resource must still have (If-Match, DSP0266 §8.4 "ETags"). */
  readonly ifMatch?: string;
  /** For the service root, which needs no credentials. */
  readonly anonymous?: boolean;
  readonly signal?: AbortSignal;
}

export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The parsed body; undefined when it was empty. */
  readonly body: Json | undefined;
}

/** TLS contexts by trust anchor (see REDFISH_DEFAULTS.maxTlsContexts); the oldest goes first. */
const tlsContexts = new Map<string, SecureContext>();

/** The one TLS context for a CA bundle (or pinned certificate): made once, shared by every transport that trusts it. */
function secureContextFor(ca: string | Buffer, partialChain: boolean): SecureContext {
  const key = `${partialChain ? 'pinned' : 'ca'}\n${typeof ca === 'string' ? ca : ca.toString('latin1')}`;
  let context = tlsContexts.get(key);
  if (context === undefined) {
    context = createSecureContext({ ca, ...(partialChain ? { allowPartialTrustChain: true } : {}) });
    if (tlsContexts.size >= REDFISH_DEFAULTS.maxTlsContexts) tlsContexts.delete(tlsContexts.keys().next().value as string);
    tlsContexts.set(key, context);
  }
  return context;
}

/** Socket errors that mean the service was never reached. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'ECONNRESET', 'EPIPE']);

/**
 * A signal that aborts after `ms` or with `parent`, and a dispose() that clears its timer and
 * its listener on the parent. Not AbortSignal.timeout: a timeout signal that has listeners
 * (http.request adds one) is kept alive until it fires, and with it the request, its socket and
 * its answer — for a whole call deadline (minutes) after a poll that took milliseconds.
 */
function deadline(ms: number, parent?: AbortSignal): { readonly signal: AbortSignal; readonly dispose: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException('The operation timed out.', 'TimeoutError')), Math.max(1, ms));
  timer.unref();
  const onParent = (): void => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener('abort', onParent, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParent);
    },
  };
}

export class RedfishTransport {
  readonly endpoint: RedfishEndpoint;
  /** scheme://host:port, as messages name the service. */
  readonly origin: string;
  readonly #url: URL;
  readonly #options: TransportOptions;
  readonly #agent: HttpAgent | HttpsAgent;
  #auth: { kind: 'none' } | { kind: 'basic' } | { kind: 'session'; token: string; location: string | undefined } = { kind: 'none' };
  #login: Promise<void> | undefined;
  #root: Json | undefined;

  constructor(endpoint: RedfishEndpoint, options: TransportOptions = {}) {
    let url: URL;
    try {
      url = new URL(endpoint.url);
    } catch {
      throw new RedfishError(REDFISH_ERROR_CODES.invalid, `'${endpoint.url}' is not a Redfish service URL; give https://host[:port]`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new RedfishError(REDFISH_ERROR_CODES.invalid, `'${endpoint.url}' is not http:// or https://; Redfish runs over HTTPS`);
    this.endpoint = endpoint;
    this.#url = url;
    this.origin = url.origin;
    this.#options = options;
    this.#agent =
      url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 4, ...this.#tlsOptions() }) : new HttpAgent({ keepAlive: true, maxSockets: 4 });
  }

  #tlsOptions() {
    const { pinnedCertificate, ca, verify } = this.endpoint;
    if (pinnedCertificate !== undefined) {
      const pinned = new X509Certificate(pinnedCertificate).fingerprint256;
      // The pinned certificate is the only trust anchor, even when it is not self-signed.
      return {
        secureContext: secureContextFor(pinnedCertificate, true),
        checkServerIdentity: (_host: string, cert: PeerCertificate) =>
          cert.fingerprint256 === pinned ? undefined : Object.assign(new Error('the certificate is not the pinned one'), { code: 'CERT_NOT_PINNED' }),
      };
    }
    if (verify === false) {
      const warn = this.#options.warn ?? ((m: string) => process.emitWarning(m, 'RedfishTlsWarning'));
      warn(`TLS verification is off for Redfish ${this.origin}: anyone on the path can pose as the BMC and read its credentials`);
      return { rejectUnauthorized: false };
    }
    return ca !== undefined ? { secureContext: secureContextFor(ca, false) } : {};
  }

  /** How the client is logged in: 'session', 'basic', or 'none' yet. */
  get authKind(): 'none' | 'basic' | 'session' {
    return this.#auth.kind;
  }

  /** A request path of this service; absolute URLs (task monitors) must be on its origin. */
  path(target: string): string {
    if (/^https?:\/\//i.test(target)) {
      const url = new URL(target);
      if (url.origin !== this.origin)
        throw new RedfishError(REDFISH_ERROR_CODES.protocol, `Redfish ${this.origin} pointed to ${url.origin}, another service; anvil does not follow it`);
      return url.pathname + url.search;
    }
    if (!target.startsWith('/')) throw new RedfishError(REDFISH_ERROR_CODES.invalid, `'${target}' is not a Redfish path; paths start with ${SERVICE_ROOT}`);
    return target;
  }

  /** One call with its retries, within the call deadline; an error status throws with the service's messages. */
  async request(method: string, target: string, options: RequestOptions = {}): Promise<Answer> {
    const path = this.path(target);
    const callMs = this.#options.callTimeoutMs ?? REDFISH_DEFAULTS.callTimeoutMs;
    const call = deadline(callMs, options.signal);
    try {
      return await this.#call(method, path, options, call.signal, callMs);
    } finally {
      call.dispose();
    }
  }

  async #call(method: string, path: string, options: RequestOptions, signal: AbortSignal, callMs: number): Promise<Answer> {
    const now = this.#options.now ?? Date.now;
    const started = now();
    let busy = 0;
    let renewed = false;
    for (;;) {
      if (!options.anonymous) await this.#ensureLogin(signal);
      const answer = await this.#exchange(method, path, options, signal, callMs);
      if (answer.status === 401 && this.#auth.kind === 'session' && !renewed && !options.anonymous) {
        // The session expired (SessionTimeout): log in again, once.
        renewed = true;
        this.#auth = { kind: 'none' };
        continue;
      }
      if (answer.status === 503 && busy < (this.#options.busyRetries ?? REDFISH_DEFAULTS.busyRetries)) {
        busy += 1;
        const wait = Math.min(
          parseRetryAfter(answer.headers['retry-after'], now()) ?? this.#options.busyDelayMs ?? REDFISH_DEFAULTS.busyDelayMs,
          this.#options.maxRetryAfterMs ?? REDFISH_DEFAULTS.maxRetryAfterMs,
        );
        if (now() - started + wait >= callMs) throw this.#statusError(method, path, answer);
        await this.#sleep(wait, signal);
        continue;
      }
      if (answer.status >= 400) throw this.#statusError(method, path, answer);
      return answer;
    }
  }

  #statusError(method: string, path: string, answer: Answer): RedfishHttpError {
    const messages = errorMessages(answer.body);
    if (answer.status === 401 || answer.status === 403) return new RedfishAuthError(this.#label(), method, path, answer.status, messages);
    return new RedfishHttpError(REDFISH_ERROR_CODES.http, this.#label(), method, path, answer.status, messages);
  }

  #label(): string {
    return this.endpoint.username ? `${this.origin} (user '${this.endpoint.username}')` : this.origin;
  }

  async #sleep(ms: number, signal: AbortSignal): Promise<void> {
    try {
      await (this.#options.sleep ? this.#options.sleep(ms, signal) : delay(ms, undefined, { signal }));
    } catch (error) {
      if (signal.aborted)
        throw new RedfishError(REDFISH_ERROR_CODES.timeout, `Redfish ${this.origin} did not finish within the call deadline`, { cause: error });
      throw error;
    }
  }

  /** The service root, read once without credentials. */
  async serviceRoot(signal?: AbortSignal): Promise<Json> {
    if (this.#root === undefined) {
      const body = (await this.request('GET', `${SERVICE_ROOT}/`, { anonymous: true, ...(signal ? { signal } : {}) })).body;
      this.#root = asResource(body, `Redfish ${this.origin} service root ${SERVICE_ROOT}/`);
    }
    return this.#root;
  }

  #ensureLogin(signal: AbortSignal): Promise<void> {
    if (this.#auth.kind !== 'none') return Promise.resolve();
    if (this.endpoint.username === undefined) {
      this.#auth = { kind: 'basic' };
      return Promise.resolve();
    }
    this.#login ??= this.#logIn(signal).finally(() => {
      this.#login = undefined;
    });
    return this.#login;
  }

  /** DSP0266 §13.3.4 "Session login": POST the credentials, keep X-Auth-Token and the session's Location. */
  async #logIn(signal: AbortSignal): Promise<void> {
    if (this.#options.auth === 'basic') {
      this.#auth = { kind: 'basic' };
      return;
    }
    const root = await this.serviceRoot(signal);
    const links = isObject(root) && isObject(root.Links) ? root.Links : undefined;
    const sessions = (links && link(links, 'Sessions')) ?? (isObject(root) && link(root, 'SessionService') ? DEFAULT_SESSIONS_PATH : undefined);
    if (sessions === undefined) {
      this.#auth = { kind: 'basic' };
      return;
    }
    const body = { UserName: this.endpoint.username ?? '', Password: this.endpoint.password ?? '' };
    const callMs = this.#options.callTimeoutMs ?? REDFISH_DEFAULTS.callTimeoutMs;
    const answer = await this.#exchange('POST', this.path(sessions), { body, anonymous: true }, signal, callMs);
    if (answer.status === 401 || answer.status === 403) throw this.#statusError('POST', sessions, answer);
    const token = answer.headers['x-auth-token'];
    if (answer.status >= 400 || !token) {
      // No session service to speak of (404, 405, 501, or no token): Basic on every request.
      this.#auth = { kind: 'basic' };
      return;
    }
    const bodyId = isObject(answer.body) && typeof answer.body['@odata.id'] === 'string' ? answer.body['@odata.id'] : undefined;
    this.#auth = { kind: 'session', token, location: answer.headers.location ?? bodyId };
  }

  #headers(options: RequestOptions, body: string | undefined): OutgoingHttpHeaders {
    const headers: OutgoingHttpHeaders = { accept: 'application/json', 'odata-version': '4.0' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json; charset=utf-8';
      headers['content-length'] = Buffer.byteLength(body);
    }
    if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
    if (options.anonymous) return headers;
    if (this.#auth.kind === 'session') headers['x-auth-token'] = this.#auth.token;
    else if (this.#auth.kind === 'basic' && this.endpoint.username !== undefined)
      headers.authorization = `Basic ${Buffer.from(`${this.endpoint.username}:${this.endpoint.password ?? ''}`).toString('base64')}`;
    return headers;
  }

  /** One HTTP exchange, bounded by the request timeout and the call's signal. */
  #exchange(method: string, path: string, options: RequestOptions, callSignal: AbortSignal, callMs: number): Promise<Answer> {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const requestMs = this.#options.requestTimeoutMs ?? REDFISH_DEFAULTS.requestTimeoutMs;
    const exchange = deadline(requestMs, callSignal);
    const { signal } = exchange;
    const maxBytes = this.#options.maxResponseBytes ?? REDFISH_DEFAULTS.maxResponseBytes;
    const send = this.#url.protocol === 'https:' ? httpsRequest : httpRequest;
    const answer = new Promise<Answer>((resolve, reject) => {
      const fail = (error: unknown) => reject(this.#socketError(method, path, error, signal.aborted, Math.min(requestMs, callMs)));
      const req = send(
        {
          hostname: this.#url.hostname.replace(/^\[|\]$/g, ''),
          port: this.#url.port || undefined,
          path,
          method,
          agent: this.#agent,
          headers: this.#headers(options, body),
          signal,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBytes) {
              res.destroy();
              reject(new RedfishError(REDFISH_ERROR_CODES.protocol, `Redfish ${this.origin} sent more than ${maxBytes} bytes for ${method} ${path}`));
            } else chunks.push(chunk);
          });
          res.on('error', fail);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8');
            const headers: Record<string, string | undefined> = {};
            for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
            try {
              const parsed = text.trim() === '' ? undefined : status >= 400 ? tryJson(text) : parseJson(text, `Redfish ${this.origin} ${method} ${path}`);
              resolve({ status, headers, body: parsed });
            } catch (error) {
              reject(error);
            }
          });
        },
      );
      req.on('error', fail);
      req.end(body);
    });
    return answer.finally(exchange.dispose);
  }

  #socketError(method: string, path: string, error: unknown, aborted: boolean, ms: number): RedfishError {
    if (error instanceof RedfishError) return error;
    const code = (error as { code?: string }).code ?? '';
    if (aborted || code === 'ABORT_ERR')
      return new RedfishError(REDFISH_ERROR_CODES.timeout, `Redfish ${this.origin} did not answer ${method} ${path} within ${ms / 1000} s; check the BMC`, {
        cause: error,
      });
    if (code === 'CERT_NOT_PINNED' || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) {
      const hint = this.endpoint.pinnedCertificate
        ? 'it is not the pinned certificate'
        : "give the BMC's CA bundle or pin its certificate (verification can be turned off, explicitly)";
      return new RedfishError(REDFISH_ERROR_CODES.tls, `Redfish ${this.origin}: the TLS certificate did not verify (${code}): ${hint}`, { cause: error });
    }
    if (CONNECT_ERRORS.has(code) || code.startsWith('E'))
      return new RedfishError(REDFISH_ERROR_CODES.connect, `cannot reach Redfish ${this.origin} (${code}); check the address and port and that the BMC is up`, {
        cause: error,
      });
    return new RedfishError(REDFISH_ERROR_CODES.connect, `Redfish ${this.origin}: ${(error as Error).message}`, { cause: error });
  }

  /** Logs the session out (DELETE of its resource) and closes kept-alive connections. */
  async close(): Promise<void> {
    const auth = this.#auth;
    this.#auth = { kind: 'none' };
    if (auth.kind === 'session' && auth.location !== undefined) {
      try {
        const callMs = Math.min(this.#options.requestTimeoutMs ?? REDFISH_DEFAULTS.requestTimeoutMs, 10_000);
        this.#auth = auth;
        const logout = deadline(callMs);
        await this.#exchange('DELETE', this.path(auth.location), {}, logout.signal, callMs).finally(logout.dispose);
      } catch {
        // The session times out on the BMC anyway.
      } finally {
        this.#auth = { kind: 'none' };
      }
    }
    this.#agent.destroy();
  }
}

function tryJson(text: string): Json | undefined {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}
