// HTTP Digest access authentication as AMT speaks it: MD5, qop=auth (RFC 7616 §3.3-3.5,
// compatible with RFC 2617 clients such as LWP, which amttool uses). Pure: nonces and
// cnonces are passed in by the client or server that owns randomness.
import { createHash, timingSafeEqual } from 'node:crypto';

export interface DigestChallenge {
  readonly realm: string;
  readonly nonce: string;
  readonly qop: string | undefined;
  readonly opaque: string | undefined;
  readonly algorithm: string | undefined;
  /** RFC 7616 §3.3: the nonce expired but the credentials were right; retry with the new nonce. */
  readonly stale: boolean;
}

export interface DigestCredentials {
  readonly username: string;
  readonly realm: string;
  readonly nonce: string;
  readonly uri: string;
  readonly response: string;
  readonly qop: string | undefined;
  readonly nc: string | undefined;
  readonly cnonce: string | undefined;
  readonly opaque: string | undefined;
  readonly algorithm: string | undefined;
}

const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');

/** Parses `key=token, key="quoted \" string"` auth-params (RFC 7235 §2.1). Unknown keys kept, lower-cased. */
export function parseAuthParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ' ' || text[i] === ',' || text[i] === '\t')) i++;
    const keyStart = i;
    while (i < n && text[i] !== '=' && text[i] !== ',' && text[i] !== ' ') i++;
    const key = text.slice(keyStart, i).toLowerCase();
    while (i < n && text[i] === ' ') i++;
    if (text[i] !== '=') {
      if (key) params.set(key, '');
      continue;
    }
    i++;
    while (i < n && text[i] === ' ') i++;
    let value = '';
    if (text[i] === '"') {
      i++;
      while (i < n && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < n) i++;
        value += text[i];
        i++;
      }
      i++;
    } else {
      const start = i;
      while (i < n && text[i] !== ',') i++;
      value = text.slice(start, i).trim();
    }
    if (key) params.set(key, value);
  }
  return params;
}

/** The Digest challenge in a WWW-Authenticate header, or undefined when it offers no Digest. */
export function parseChallenge(header: string | undefined): DigestChallenge | undefined {
  if (!header) return undefined;
  const match = /^\s*Digest\s+(.*)$/is.exec(header);
  if (!match) return undefined;
  const params = parseAuthParams(match[1] ?? '');
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  if (realm === undefined || nonce === undefined || nonce === '') return undefined;
  return {
    realm,
    nonce,
    qop: params.get('qop'),
    opaque: params.get('opaque'),
    algorithm: params.get('algorithm'),
    stale: (params.get('stale') ?? '').toLowerCase() === 'true',
  };
}

/** The response hash (RFC 7616 §3.4.1; MD5 only, as AMT offers). */
export function digestResponse(input: {
  username: string;
  password: string;
  realm: string;
  method: string;
  uri: string;
  nonce: string;
  qop: string | undefined;
  nc: string | undefined;
  cnonce: string | undefined;
}): string {
  const ha1 = md5(`${input.username}:${input.realm}:${input.password}`);
  const ha2 = md5(`${input.method}:${input.uri}`);
  if (input.qop === 'auth') return md5(`${ha1}:${input.nonce}:${input.nc}:${input.cnonce}:auth:${ha2}`);
  return md5(`${ha1}:${input.nonce}:${ha2}`);
}

/** Whether the challenge offers qop=auth (the only qop anvil uses; auth-int is not needed for SOAP over TLS or not). */
export function offersQopAuth(challenge: DigestChallenge): boolean {
  return challenge.qop !== undefined && challenge.qop.split(',').some((q) => q.trim().toLowerCase() === 'auth');
}

/** 8 hex digits, as nc must be (RFC 7616 §3.4). */
export function formatNonceCount(count: number): string {
  return count.toString(16).padStart(8, '0');
}

const quote = (value: string): string => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The Authorization header value answering `challenge` for one request. */
export function buildAuthorization(input: {
  challenge: DigestChallenge;
  username: string;
  password: string;
  method: string;
  uri: string;
  nonceCount: number;
  cnonce: string;
}): string {
  const { challenge } = input;
  const qop = offersQopAuth(challenge) ? 'auth' : undefined;
  const nc = qop ? formatNonceCount(input.nonceCount) : undefined;
  const cnonce = qop ? input.cnonce : undefined;
  const response = digestResponse({
    username: input.username,
    password: input.password,
    realm: challenge.realm,
    method: input.method,
    uri: input.uri,
    nonce: challenge.nonce,
    qop,
    nc,
    cnonce,
  });
  const parts = [
    `username=${quote(input.username)}`,
    `realm=${quote(challenge.realm)}`,
    `nonce=${quote(challenge.nonce)}`,
    `uri=${quote(input.uri)}`,
    `algorithm=MD5`,
    `response=${quote(response)}`,
  ];
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${quote(cnonce ?? '')}`);
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`);
  return `Digest ${parts.join(', ')}`;
}

/** The WWW-Authenticate header value a server sends (RFC 7616 §3.3). */
export function buildChallenge(input: { realm: string; nonce: string; opaque?: string; stale?: boolean }): string {
  const parts = [`realm=${quote(input.realm)}`, `nonce=${quote(input.nonce)}`, `qop="auth"`, 'algorithm=MD5'];
  if (input.opaque !== undefined) parts.push(`opaque=${quote(input.opaque)}`);
  if (input.stale) parts.push('stale=true');
  return `Digest ${parts.join(', ')}`;
}

/** The Digest credentials of an Authorization header, or undefined when absent or incomplete. */
export function parseAuthorization(header: string | undefined): DigestCredentials | undefined {
  if (!header) return undefined;
  const match = /^\s*Digest\s+(.*)$/is.exec(header);
  if (!match) return undefined;
  const p = parseAuthParams(match[1] ?? '');
  const username = p.get('username');
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  const uri = p.get('uri');
  const response = p.get('response');
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) return undefined;
  return {
    username,
    realm,
    nonce,
    uri,
    response,
    qop: p.get('qop'),
    nc: p.get('nc'),
    cnonce: p.get('cnonce'),
    opaque: p.get('opaque'),
    algorithm: p.get('algorithm'),
  };
}

/** Whether the credentials prove knowledge of `password` for this method (constant-time compare). */
export function verifyAuthorization(credentials: DigestCredentials, password: string, method: string): boolean {
  if (credentials.algorithm !== undefined && credentials.algorithm.toUpperCase() !== 'MD5') return false;
  if (credentials.qop !== undefined && (credentials.qop !== 'auth' || !credentials.nc || credentials.cnonce === undefined)) return false;
  const expected = digestResponse({
    username: credentials.username,
    password,
    realm: credentials.realm,
    method,
    uri: credentials.uri,
    nonce: credentials.nonce,
    qop: credentials.qop,
    nc: credentials.nc,
    cnonce: credentials.cnonce,
  });
  const got = Buffer.from(credentials.response.toLowerCase(), 'utf8');
  const want = Buffer.from(expected, 'utf8');
  return got.length === want.length && timingSafeEqual(got, want);
}
