// Reads an uploaded test result the way pxemngr did: lines beginning 'I: ', 'W: ', 'E: '
// are kept and counted, a 'V: ' line gives the machine's version. Uploads may be huge,
// binary or not UTF-8: the file is streamed, invalid bytes become U+FFFD, NUL bytes are
// dropped (PostgreSQL text cannot hold them), and only so many lines are kept.
import { createReadStream } from 'node:fs';
import type { LineKind } from '../store/schema.ts';

export const PARSE_LIMITS = {
  /** Lines of each upload kept in the database (all are counted). */
  maxStoredLines: 10_000,
  /** Characters kept of one line. */
  maxLineLength: 2_000,
} as const;

export interface ParsedLine {
  readonly lineNo: number;
  readonly kind: LineKind;
  readonly text: string;
}

export interface ParsedResult {
  infos: number;
  warnings: number;
  errors: number;
  /** The last 'V: ' line's value. */
  version: string | undefined;
  lines: ParsedLine[];
  /** Lines matched but not stored because of maxStoredLines. */
  dropped: number;
}

const MARKER = /^([IWEV]): (.*)$/;

export function emptyResult(): ParsedResult {
  return { infos: 0, warnings: 0, errors: 0, version: undefined, lines: [], dropped: 0 };
}

/** Adds one line of text (without its newline) to a result. */
export function parseLine(result: ParsedResult, lineNo: number, raw: string): void {
  const match = MARKER.exec(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
  if (!match) return;
  const kind = match[1] as LineKind;
  const text = match[2]!.replaceAll('\u0000', '').slice(0, PARSE_LIMITS.maxLineLength);
  if (kind === 'I') result.infos++;
  else if (kind === 'W') result.warnings++;
  else if (kind === 'E') result.errors++;
  else if (text.trim() !== '') result.version = text.trim().slice(0, 200);
  if (result.lines.length < PARSE_LIMITS.maxStoredLines) result.lines.push({ lineNo, kind, text });
  else result.dropped++;
}

export function parseText(text: string): ParsedResult {
  const result = emptyResult();
  text.split('\n').forEach((line, i) => parseLine(result, i + 1, line));
  return result;
}

export async function parseFile(path: string): Promise<ParsedResult> {
  const result = emptyResult();
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let pending = '';
  let lineNo = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    pending += decoder.decode(chunk as Buffer, { stream: true });
    let start = 0;
    for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n', start)) {
      parseLine(result, ++lineNo, pending.slice(start, nl));
      start = nl + 1;
    }
    pending = pending.slice(start);
    // A "line" of megabytes without a newline is not a result line; don't hold it all.
    if (pending.length > PARSE_LIMITS.maxLineLength * 4) pending = pending.slice(0, PARSE_LIMITS.maxLineLength * 4);
  }
  pending += decoder.decode();
  if (pending !== '') parseLine(result, ++lineNo, pending);
  return result;
}
