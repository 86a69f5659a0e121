// QMP wire codec (QEMU Machine Protocol, docs/interop/qmp-spec.txt §2): JSON objects, one per
// line. Pure: text in, typed messages out, and commands to text. No sockets, timers or clock.
import { QmpDecodeError } from './errors.ts';

/** The longest line accepted. QEMU's largest replies (query-qmp-schema) are a few hundred KiB. */
export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;

/** qmp-spec §2.2: the server greeting sent as soon as a client connects. */
export interface QmpGreeting {
  readonly kind: 'greeting';
  readonly version: { readonly major: number; readonly minor: number; readonly micro: number; readonly package: string };
  readonly capabilities: readonly string[];
}

/** qmp-spec §2.4.1: a command's success. */
export interface QmpReturn {
  readonly kind: 'return';
  readonly id: QmpId | undefined;
  readonly value: unknown;
}

/** qmp-spec §2.4.2: a command's failure, with QEMU's error class (GenericError, CommandNotFound, ...). */
export interface QmpErrorReply {
  readonly kind: 'error';
  readonly id: QmpId | undefined;
  readonly errorClass: string;
  readonly desc: string;
}

/** qmp-spec §2.5: an asynchronous event (SHUTDOWN, POWERDOWN, RESET, STOP, ...). */
export interface QmpEvent {
  readonly kind: 'event';
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** Microseconds since the Unix epoch, as QEMU stamped it. */
  readonly timestampMicros: number;
}

export type QmpMessage = QmpGreeting | QmpReturn | QmpErrorReply | QmpEvent;

/** Commands carry an id that the reply echoes; anvil uses numbers, QEMU accepts any JSON value. */
export type QmpId = number | string;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asId(value: unknown): QmpId | undefined {
  return typeof value === 'number' || typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** Decodes one line (without its line ending) into a message. Throws QmpDecodeError. */
export function decodeMessage(line: string): QmpMessage {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new QmpDecodeError(`QMP line is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!isObject(value)) throw new QmpDecodeError('QMP line is not a JSON object');

  if ('QMP' in value) {
    const qmp = value.QMP;
    if (!isObject(qmp) || !isObject(qmp.version)) throw new QmpDecodeError('QMP greeting without a version');
    const qemu = isObject(qmp.version.qemu) ? qmp.version.qemu : {};
    const capabilities = Array.isArray(qmp.capabilities) ? qmp.capabilities.filter((c): c is string => typeof c === 'string') : [];
    return {
      kind: 'greeting',
      version: {
        major: num(qemu.major),
        minor: num(qemu.minor),
        micro: num(qemu.micro),
        package: typeof qmp.version.package === 'string' ? qmp.version.package : '',
      },
      capabilities,
    };
  }
  if ('return' in value) return { kind: 'return', id: asId(value.id), value: value.return };
  if ('error' in value) {
    const error = value.error;
    if (!isObject(error)) throw new QmpDecodeError('QMP error reply without an error object');
    return {
      kind: 'error',
      id: asId(value.id),
      errorClass: typeof error.class === 'string' ? error.class : 'GenericError',
      desc: typeof error.desc === 'string' ? error.desc : '',
    };
  }
  if ('event' in value) {
    if (typeof value.event !== 'string') throw new QmpDecodeError('QMP event without a name');
    const ts = isObject(value.timestamp) ? value.timestamp : {};
    return {
      kind: 'event',
      event: value.event,
      data: isObject(value.data) ? value.data : {},
      timestampMicros: num(ts.seconds) * 1_000_000 + num(ts.microseconds),
    };
  }
  throw new QmpDecodeError(`QMP message of unknown kind (keys: ${Object.keys(value).slice(0, 5).join(', ')})`);
}

/** qmp-spec §2.3: one command as a line, line ending included. */
export function encodeCommand(execute: string, args: Readonly<Record<string, unknown>> | undefined, id: QmpId): string {
  const command: Record<string, unknown> = { execute };
  if (args !== undefined && Object.keys(args).length > 0) command.arguments = args;
  command.id = id;
  return JSON.stringify(command) + '\n';
}

/**
 * Splits a text stream into lines. QEMU ends lines with CRLF; a partial line waits for the
 * next chunk, and one longer than the limit is an error rather than unbounded memory.
 */
export class QmpLineSplitter {
  #pending = '';
  readonly #maxLineBytes: number;

  constructor(maxLineBytes: number = DEFAULT_MAX_LINE_BYTES) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** Adds a chunk; returns the complete, non-empty lines it finished. */
  push(chunk: string): string[] {
    const text = this.#pending + chunk;
    const parts = text.split('\n');
    this.#pending = parts.pop() ?? '';
    if (this.#pending.length > this.#maxLineBytes) {
      this.#pending = '';
      throw new QmpDecodeError(`QMP line longer than ${this.#maxLineBytes} characters`);
    }
    return parts.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line)).filter((line) => line.trim() !== '');
  }
}
