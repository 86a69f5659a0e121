// The optional native data pump (native/tftp_pump.c): a transfer's DATA/ACK phase on a
// thread of its own, outside the event loop. On node:dgram every datagram pays a 64 KiB
// allocation and copy per receive, an address object, a JS callback and a send request, which
// cost more than the TFTP work itself; the pump pays one recvfrom and one sendmsg. It is built
// by scripts/install (npm run build:native); without it the JS engine (transfer.ts) serves alone.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { TftpConfigError } from './errors.ts';

/** Who runs the DATA/ACK phase: the JS reference engine, the native pump, or the pump when it is built. */
export type TftpEngine = 'js' | 'native' | 'auto';
export const TFTP_ENGINES: readonly TftpEngine[] = ['js', 'native', 'auto'];
/** Environment variable that picks the engine when the server's options do not. */
export const TFTP_ENGINE_ENV = 'ANVIL_TFTP_ENGINE';

/** Slots of the live counters a pump writes into its Float64Array (native/tftp_pump.h, enum pump_stat). */
export const PumpStat = {
  dataPacketsSent: 0,
  bytesSent: 1,
  retransmissions: 2,
  duplicateAcks: 3,
  errorsSent: 4,
  malformedDropped: 5,
  strayDropped: 6,
} as const;
export const PUMP_STAT_COUNT = 7;

/** How a pump ended (native/tftp_pump.h, enum pump_outcome). */
export const PumpOutcome = {
  COMPLETED: 0,
  TIMEOUT: 1,
  CLIENT_ERROR: 2,
  READ_ERROR: 3,
  SOCKET_ERROR: 4,
  ABORTED: 5,
  SUPERSEDED: 6,
} as const;

export type PumpStartOptions = {
  readonly clientAddress: string;
  readonly clientPort: number;
  /** The listener's address: the transfer socket binds it, port 0, so a multi-homed server answers from the address asked. */
  readonly localAddress: string;
  /** The OACK, sent first and retransmitted until ACK 0; without it DATA 1 is sent first. */
  readonly firstPacket: Buffer | undefined;
  /** The file in memory, kept referenced by the pump until it ends; or else `fd`. */
  readonly content?: Buffer;
  /** A file descriptor the pump preads; it must stay open until onDone. */
  readonly fd?: number;
  readonly blockSize: number;
  readonly windowSize: number;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  /** How long after a send to poll for the answer before sleeping; 0 never (constants.ts, DEFAULT_BUSY_POLL_MICROSECONDS). */
  readonly busyPollMicroseconds: number;
  readonly socketBufferBytes: number;
  /** PUMP_STAT_COUNT slots the pump's thread keeps current (see PumpStat). */
  readonly stats: Float64Array;
  /** Called once, on the JS thread, after the pump's thread has been joined and its socket closed. */
  readonly onDone: (outcome: number, clientCode: number, clientMessage: string, errorText: string) => void;
};

/** What start() returns: only good for cancel(). */
export type PumpHandle = { readonly __pumpHandle: never };

export interface NativePump {
  /** Opens the transfer's socket and starts its thread; throws (having sent nothing) when it cannot. */
  start(options: PumpStartOptions): PumpHandle;
  /** Stops the pump: with a message the client gets it in an ERROR, without it nothing. onDone follows. */
  cancel(handle: PumpHandle, message?: string): void;
}

const ADDON = fileURLToPath(new URL('./native/build/Release/tftp_pump.node', import.meta.url));

let loaded: { readonly pump: NativePump | undefined; readonly problem: string } | undefined;

/** The native pump, or undefined when it is not built or does not load (nativePumpProblem says why). */
export function loadNativePump(): NativePump | undefined {
  if (loaded === undefined) {
    try {
      loaded = { pump: createRequire(import.meta.url)(ADDON) as NativePump, problem: '' };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const problem = code === 'MODULE_NOT_FOUND' ? `${ADDON} is not built` : `${ADDON} does not load: ${(error as Error).message}`;
      loaded = { pump: undefined, problem };
    }
  }
  return loaded.pump;
}

export function nativePumpProblem(): string {
  loadNativePump();
  return loaded?.problem ?? '';
}

/**
 * The pump a server should use: undefined for the JS engine. `native` insists on the pump;
 * `auto` takes it when built, unless the caller injected its own sockets or clock, which only
 * the JS engine can honour.
 */
export function choosePump(engine: TftpEngine | undefined, injectedIo: boolean): NativePump | undefined {
  const chosen = engine ?? engineFromEnvironment();
  checkEngine(chosen, 'the TFTP server option engine');
  if (chosen === 'js') return undefined;
  const pump = loadNativePump();
  if (chosen === 'native' && pump === undefined) {
    throw new TftpConfigError(`the native TFTP engine is not available: ${nativePumpProblem()}; build it with npm run build:native, or choose engine js`);
  }
  return chosen === 'auto' && injectedIo ? undefined : pump;
}

function engineFromEnvironment(): TftpEngine {
  const value = process.env[TFTP_ENGINE_ENV];
  if (value === undefined || value === '') return 'auto';
  checkEngine(value, TFTP_ENGINE_ENV);
  return value;
}

function checkEngine(value: string, what: string): asserts value is TftpEngine {
  if (!(TFTP_ENGINES as readonly string[]).includes(value)) {
    throw new TftpConfigError(`${what} must be one of ${TFTP_ENGINES.join(', ')}, not ${JSON.stringify(value)}`);
  }
}
