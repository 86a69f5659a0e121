// Host lists as FreeIPMI's ipmipower takes them (-h 'node[1-100]', 'a,b,c'), extended so
// each host may carry ':port' — ranges work there too: '127.0.0.1:[30000-30999]'.
import { UsageError } from './command.ts';

/** A fleet larger than this is almost certainly a typo in a range; say so rather than allocate. */
export const MAX_HOSTS = 1_000_000;

export interface HostPort {
  readonly host: string;
  readonly port?: number;
}

/** Splits on commas that are not inside brackets. */
function splitTop(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
    if (depth < 0) throw new UsageError(`unbalanced ']' in host list '${text}'`);
  }
  if (depth !== 0) throw new UsageError(`unbalanced '[' in host list '${text}'`);
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

/** "1-3,7,09-11" → ['1','2','3','7','09','10','11'] (a leading zero keeps the width, as ipmipower does). */
function expandRange(spec: string, whole: string): string[] {
  const out: string[] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new UsageError(`bad range '[${spec}]' in host list '${whole}'`);
    const [, a = '', b = a] = m;
    const from = Number(a);
    const to = Number(b);
    if (to < from) throw new UsageError(`range ${a}-${b} runs backwards in '${whole}'`);
    if (to - from > MAX_HOSTS) throw new UsageError(`range ${a}-${b} in '${whole}' is too large`);
    const width = a.length > 1 && a.startsWith('0') ? a.length : 0;
    for (let n = from; n <= to; n++) out.push(String(n).padStart(width, '0'));
  }
  return out;
}

/** Expands every bracket group of one item (cartesian product). */
function expandItem(item: string, whole: string): string[] {
  const open = item.indexOf('[');
  if (open < 0) return [item];
  const close = item.indexOf(']', open);
  if (close < 0) throw new UsageError(`unbalanced '[' in host list '${whole}'`);
  const head = item.slice(0, open);
  const tails = expandItem(item.slice(close + 1), whole);
  const out: string[] = [];
  for (const value of expandRange(item.slice(open + 1, close), whole)) {
    for (const tail of tails) {
      out.push(head + value + tail);
      if (out.length > MAX_HOSTS) throw new UsageError(`host list '${whole}' names more than ${MAX_HOSTS} hosts`);
    }
  }
  return out;
}

function splitPort(item: string, whole: string): HostPort {
  const colon = item.lastIndexOf(':');
  // More than one colon: a bare IPv6 address, which carries no port here.
  if (colon < 0 || item.indexOf(':') !== colon) return { host: item };
  const port = Number(item.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`bad port in '${item}' (host list '${whole}')`);
  return { host: item.slice(0, colon), port };
}

/** Every host of an ipmipower-style host list, in order, duplicates removed. */
export function expandHosts(text: string): HostPort[] {
  const seen = new Set<string>();
  const out: HostPort[] = [];
  for (const item of splitTop(text)) {
    for (const expanded of expandItem(item, text)) {
      if (seen.has(expanded)) continue;
      seen.add(expanded);
      out.push(splitPort(expanded, text));
    }
  }
  if (out.length === 0) throw new UsageError(`host list '${text}' names no host`);
  return out;
}

/** How a host is named in fleet output: as the user wrote it, port included. */
export function hostLabel(h: HostPort): string {
  return h.port === undefined ? h.host : `${h.host}:${h.port}`;
}
