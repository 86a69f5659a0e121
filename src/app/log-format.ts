// The server's log as people read it on a terminal: one line per record — time, level,
// message, then the fields as key=value — instead of pino's JSON, which stays the format for
// files, journald and anything that is not a terminal (or when --log-format json asks).
import { Writable } from 'node:stream';

export type LogFormat = 'pretty' | 'json';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Record<number, string> = { 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[31m' };
/** pino's own fields, and Fastify's request ids, which a person does not need on each line. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'reqId', 'v']);

function field(value: unknown): string {
  if (typeof value === 'string') return /^[\w./:@,+-]*$/.test(value) && value !== '' ? value : JSON.stringify(value);
  if (value && typeof value === 'object' && 'message' in value && 'type' in value) return JSON.stringify((value as { message: string }).message);
  return JSON.stringify(value);
}

/** One JSON record as a line: '12:03:04 WARN  tftp refused tftp=x.bin client=10.0.0.5'. */
export function prettyLine(json: string, colour = false): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = Number(record.level);
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString().slice(11, 19) : '';
  const fields = Object.entries(record)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) =>
      k === 'req' || k === 'res'
        ? `${k}=${field((v as { url?: string; statusCode?: number }).url ?? (v as { statusCode?: number }).statusCode)}`
        : `${k}=${field(v)}`,
    );
  const name = LEVELS[level] ?? String(record.level);
  const shown = colour && COLOURS[level] ? `${COLOURS[level]}${name}\x1b[0m` : name;
  return `${time} ${shown} ${String(record.msg ?? '')}${fields.length ? `  ${fields.join(' ')}` : ''}`;
}

/** A stream pino writes JSON lines to, writing them pretty to `out`. */
export function prettyStream(out: NodeJS.WriteStream = process.stdout): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line !== '') out.write(`${prettyLine(line, out.isTTY === true)}\n`);
      callback();
    },
  });
}
