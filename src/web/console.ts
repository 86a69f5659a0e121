// A machine's console in the browser: the page (/machines/:name/console, a <pre> that static/
// console.js fills) and its WebSocket (/machines/:name/console/ws) bridging to the console the
// composition root knows how to reach (a lab VM's shared serial console, IPMI SOL). Operators only; the
// Origin must be this host, since a WebSocket is neither covered by SameSite nor by the CSP of
// the page that opens it. One browser session per machine at a time, as `ipmi sol activate`
// has one SOL session: a second is refused unless it asks to take over (?takeover=1), and the
// one taken over is told who took it.
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { identify, type Caller } from '../auth/caller.ts';
import type { WebSessions } from '../auth/sessions.ts';
import { roleAllows, type Tokens } from '../auth/tokens.ts';
import type { Liquid } from 'liquidjs';
import type { PageAuth } from '../auth/web-session.ts';
import { AnvilError } from '../common/errors.ts';
import type { Machines } from '../machines/machines.ts';

/** Where a machine's console comes from; the composition root decides (lab share, SOL, …). */
export interface ConsoleSource {
  /**
   * A byte stream to and from the machine's console. Throws a typed error when the machine has
   * no console anvil can reach (NO_CONSOLE) or it cannot be reached now.
   */
  open(machine: string, options: { readonly takeover: boolean; readonly who: string }): Promise<Duplex>;
}

/** Close codes the page understands (4000–4999 are the application's, RFC 6455 §7.4.2). */
export const CONSOLE_CLOSE = {
  /** Another browser holds the console and this one did not ask to take over. */
  inUse: 4409,
  /** Another browser took the console over. */
  takenOver: 4001,
  /** The console could not be opened, or it ended. */
  unavailable: 4502,
  ended: 4000,
} as const;

/** A close reason is at most 123 bytes (RFC 6455 §5.5). */
const MAX_REASON_BYTES = 123;

/**
 * Ends socket saying why: the whole message as a text frame (console bytes are binary frames),
 * then the code with the message cut to what a close frame holds.
 */
export function endWith(socket: WebSocket, code: number, message: string): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ status: message }));
  let short = message;
  while (Buffer.byteLength(short) > MAX_REASON_BYTES) short = short.slice(0, -1);
  socket.close(code, short);
}

/** True when the browser said where the socket was opened from, and it is this host. */
export function originIsHost(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (typeof origin !== 'string') return false;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

interface Holder {
  readonly socket: WebSocket;
  readonly who: string;
  /** The console it opened, once open. */
  stream?: Duplex;
}

/** The one browser console session of each machine. */
export class ConsoleSessions {
  readonly #held = new Map<string, Holder>();

  /** Who holds machine's console, if anyone. */
  holder(machine: string): string | undefined {
    return this.#held.get(machine)?.who;
  }

  /**
   * Takes the console for socket; false when held and not taken over. Taking over ends the
   * holder's console and resolves once it is closed, so that its ending (an IPMI Deactivate
   * Payload) cannot reach the controller after the new console is open.
   */
  claim(machine: string, socket: WebSocket, who: string, takeover: boolean): false | Promise<void> {
    const held = this.#held.get(machine);
    if (held && !takeover) return false;
    this.#held.set(machine, { socket, who });
    if (!held) return Promise.resolve();
    endWith(held.socket, CONSOLE_CLOSE.takenOver, `${who} took over this console`);
    const stream = held.stream;
    if (!stream || stream.closed) return Promise.resolve();
    const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
    stream.destroy();
    return closed;
  }

  /** Records the console socket opened; false when socket no longer holds the machine's console. */
  attach(machine: string, socket: WebSocket, stream: Duplex): boolean {
    const held = this.#held.get(machine);
    if (held?.socket !== socket) return false;
    held.stream = stream;
    return true;
  }

  release(machine: string, socket: WebSocket): void {
    if (this.#held.get(machine)?.socket === socket) this.#held.delete(machine);
  }
}

async function operatorOf(tokens: Tokens, webSessions: WebSessions, request: FastifyRequest, reply: FastifyReply): Promise<Caller | undefined> {
  const caller = await identify(tokens, request, webSessions);
  if (!caller) {
    await reply.status(401).type('text/plain; charset=utf-8').send('sign in first: this console needs an operator session');
    return undefined;
  }
  if (!roleAllows(caller.role, 'operator')) {
    await reply
      .status(403)
      .type('text/plain; charset=utf-8')
      .send(`the console needs the operator role; you are signed in as '${caller.name}' (${caller.role})`);
    return undefined;
  }
  if (!originIsHost(request)) {
    await reply.status(403).type('text/plain; charset=utf-8').send('this console socket was not opened from an anvil page of this host');
    return undefined;
  }
  return caller;
}

/** The WebSocket route; the page itself is registered with the other pages. */
export function consoleSocketRoute(
  app: FastifyInstance,
  tokens: Tokens,
  webSessions: WebSessions,
  source: ConsoleSource,
  sessions = new ConsoleSessions(),
): void {
  const callers = new WeakMap<FastifyRequest, Caller>();
  app.get<{ Params: { name: string }; Querystring: { takeover?: string } }>(
    '/machines/:name/console/ws',
    {
      websocket: true,
      preValidation: async (request, reply) => {
        const caller = await operatorOf(tokens, webSessions, request, reply);
        if (caller) callers.set(request, caller);
      },
    },
    (socket, request) => {
      const machine = request.params.name;
      const who = callers.get(request)?.name ?? 'someone';
      const takeover = request.query.takeover === '1';
      const claimed = sessions.claim(machine, socket, who, takeover);
      if (!claimed) {
        endWith(socket, CONSOLE_CLOSE.inUse, `${sessions.holder(machine)} has this console open; take it over to use it here`);
        return;
      }
      let stream: Duplex | undefined;
      let closed = false;
      socket.on('close', () => {
        closed = true;
        sessions.release(machine, socket);
        stream?.destroy();
      });
      // Keys typed before the console is open are dropped: there is nothing yet to type into.
      socket.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
        const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        stream?.write(bytes);
      });
      claimed
        .then(() => source.open(machine, { takeover, who }))
        .then(
          (opened) => {
            if (closed || !sessions.attach(machine, socket, opened)) {
              opened.destroy();
              return;
            }
            stream = opened;
            socket.send(JSON.stringify({ status: `connected to ${machine}'s console` }));
            opened.on('data', (chunk: Buffer) => socket.send(chunk, { binary: true }));
            opened.on('end', () => endWith(socket, CONSOLE_CLOSE.ended, 'the console ended'));
            opened.on('error', () => endWith(socket, CONSOLE_CLOSE.unavailable, 'the console connection failed'));
            opened.on('close', () => endWith(socket, CONSOLE_CLOSE.ended, 'the console ended'));
          },
          (error: unknown) => {
            const message = error instanceof AnvilError ? error.message : 'the console could not be opened; see the server log';
            if (!(error instanceof AnvilError)) request.log.error({ err: error }, 'console open failed');
            endWith(socket, CONSOLE_CLOSE.unavailable, message);
          },
        );
    },
  );
}

/** A Host header fit to name in a CSP source: a name or address and a port, nothing else. */
const PLAIN_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * The pages' CSP with this host's ws: and wss: in connect-src: CSP3 lets 'self' match a
 * same-origin WebSocket, older browsers (Safari before 15.4) do not.
 */
export function consoleCsp(pageCsp: string, host: string | undefined): string {
  if (!host || !PLAIN_HOST.test(host)) return pageCsp;
  return pageCsp.replace("connect-src 'self'", `connect-src 'self' ws://${host} wss://${host}`);
}

/** The console page: operators only (a viewer gets 403, no session the sign-in page). */
export function consolePage(
  app: FastifyInstance,
  views: Liquid,
  auth: PageAuth,
  machines: Pick<Machines, 'find'>,
  options: { readonly pageCsp: string; readonly script: string },
): void {
  app.get<{ Params: { name: string } }>('/machines/:name/console', async (request, reply) => {
    const viewer = await auth.viewer(request, reply, 'operator');
    if (!viewer) return reply;
    const machine = await machines.find(request.params.name);
    reply.header('content-security-policy', consoleCsp(options.pageCsp, request.headers.host));
    return reply
      .type('text/html; charset=utf-8')
      .send(await views.renderFile('console', { title: `Console of ${machine.name}`, nav: 'fleet', viewer, machine: machine.name, script: options.script }));
  });
}
