// The login steps of a Session, one small function per state (IPMI v2.0 §13.14 figure 13-3):
// RMCP+: auth caps → cipher suites → open session → RAKP1/2 → RAKP3/4 → set privilege.
// IPMI 1.5 (§22.16–22.17): [presence ping] → auth caps → challenge → activate → set privilege.
import {
  completionCodeText,
  AppCmd,
  AuthType,
  ConfidentialityAlgorithm,
  IntegrityAlgorithm,
  NetFn,
  PayloadType,
  RmcpPlusStatus,
  ChallengeCode,
  SetPrivilegeCode,
  AuthAlgorithm,
  privilegeWord,
} from '../constants.ts';
import { CIPHER_SUITES, CIPHER_SUITE_RECORD_CHUNK, decodeCipherSuiteRecords, findCipherSuite } from '../cipher-suites.ts';
import type { CipherSuite } from '../cipher-suites.ts';
import { deriveSessionKeys, secretKey } from '../crypto.ts';
import type { SessionKeys } from '../crypto.ts';
import { IpmiAuthenticationError, IpmiError } from '../errors.ts';
import { decodeSession20, encodeSession20 } from '../session20.ts';
import {
  decodeOpenSessionResponse,
  decodeRakp2,
  decodeRakp4,
  encodeOpenSessionRequest,
  encodeRakp1,
  encodeRakp3,
  rakp3AuthCode,
  ROLE_NAME_ONLY_LOOKUP,
  sessionIntegrityKey,
  verifyRakp2,
  verifyRakp4,
  RAKP_RANDOM_LENGTH,
} from '../rakp.ts';
import type { OpenSessionResponse, RakpExchange } from '../rakp.ts';
import { password16 } from '../session15.ts';
import type { Session15AuthType } from '../session15.ts';
import { IpmiLoginError, IpmiSessionError, IpmiTimeoutError, rmcpStatusReason } from './errors.ts';
import { FALLBACK_CIPHER_SUITE, PREFERRED_CIPHER_SUITES } from './options.ts';
import type { Session, Wire } from './session.ts';
import type { CommandRequest } from '../commands/request.ts';
import {
  CURRENT_CHANNEL,
  decodeActivateSessionResponse,
  decodeAuthCapabilities,
  decodeCipherSuitesResponse,
  decodeSessionChallenge,
  encodeActivateSessionRequest,
  encodeAuthCapabilitiesRequest,
  encodeCipherSuitesRequest,
  encodeSessionChallengeRequest,
} from '../session-commands.ts';
import type { AuthCapabilities } from '../session-commands.ts';

/** List indexes 0..63 (§22.15): a hard bound on the pre-session loop. */
const MAX_CIPHER_LIST_INDEX = 0x3f;
/** Activate Session travels with session sequence number 0 (§22.17). */
const ACTIVATE_SEQUENCE = 0;

function req(name: string, cmd: number, data: number[] | Uint8Array): CommandRequest {
  return { name, netFn: NetFn.APP, cmd, data: Uint8Array.from(data), idempotent: true };
}

/** Auth caps, asking for IPMI 2.0 data first and plain 1.5 data if the BMC refuses (0xCC, as pyghmi). */
async function authCaps(s: Session, extended: boolean): Promise<AuthCapabilities> {
  s.setState({ kind: 'auth-caps' });
  const ask = (ext: boolean) =>
    s.ipmi(
      req(
        'Get Channel Authentication Capabilities',
        AppCmd.GET_CHANNEL_AUTH_CAPABILITIES,
        encodeAuthCapabilitiesRequest({ channel: CURRENT_CHANNEL, extended: ext, privilege: s.privilege }),
      ),
      'pre-1.5',
    );
  let res = await ask(extended);
  if (extended && res.completionCode !== 0) res = await ask(false);
  if (res.completionCode !== 0) throw new IpmiSessionError(s.host, `Get Channel Authentication Capabilities failed: ${completionCodeText(res.completionCode)}`);
  return decodeAuthCapabilities(res.data);
}

/** The suites the BMC lists before a session, or undefined when it does not answer (ipmi_sim never does). */
async function listCipherSuites(s: Session): Promise<number[] | undefined> {
  s.setState({ kind: 'cipher-suites' });
  const records: number[] = [];
  for (let index = 0; index <= MAX_CIPHER_LIST_INDEX; index++) {
    let res;
    try {
      res = await s.ipmi(
        req(
          'Get Channel Cipher Suites',
          AppCmd.GET_CHANNEL_CIPHER_SUITES,
          encodeCipherSuitesRequest({ channel: CURRENT_CHANNEL, payloadType: PayloadType.IPMI, listIndex: index }),
        ),
        'pre-2.0',
        1,
      );
    } catch (error) {
      if (error instanceof IpmiTimeoutError) return undefined;
      throw error;
    }
    if (res.completionCode !== 0 || res.data.length < 1) return undefined;
    const { chunk } = decodeCipherSuitesResponse(res.data);
    records.push(...chunk);
    if (chunk.length < CIPHER_SUITE_RECORD_CHUNK) break;
  }
  try {
    return decodeCipherSuiteRecords(Uint8Array.from(records)).map((r) => r.id);
  } catch {
    return undefined;
  }
}

function chooseSuite(offered: number[] | undefined): CipherSuite {
  const candidates = offered === undefined ? [FALLBACK_CIPHER_SUITE] : PREFERRED_CIPHER_SUITES.filter((id) => offered.includes(id));
  const suite = CIPHER_SUITES.get(candidates[0] ?? FALLBACK_CIPHER_SUITE);
  return suite ?? CIPHER_SUITES.get(FALLBACK_CIPHER_SUITE)!;
}

/**
 * The algorithms the BMC granted must form a suite we run, and must not drop a protection
 * we asked for: pyghmi's BMC grants suite 3 when asked for 17 (fine: still authenticated
 * and encrypted), but a BMC answering "integrity none" to a suite-3 request is refused.
 */
function checkGranted(s: Session, proposed: CipherSuite, auth: number, integrity: number, confidentiality: number): CipherSuite {
  const granted = findCipherSuite(auth, integrity, confidentiality);
  if (!granted)
    throw new IpmiSessionError(
      s.host,
      `the BMC granted algorithms auth ${auth}/integrity ${integrity}/confidentiality ${confidentiality}, which form no cipher suite this client runs`,
    );
  const weaker = (p: number, g: number, none: number) => p !== none && g === none;
  if (
    weaker(proposed.auth, granted.auth, AuthAlgorithm.NONE) ||
    weaker(proposed.integrity, granted.integrity, IntegrityAlgorithm.NONE) ||
    weaker(proposed.confidentiality, granted.confidentiality, ConfidentialityAlgorithm.NONE)
  ) {
    throw new IpmiSessionError(s.host, `asked for cipher suite ${proposed.id} but the BMC granted the weaker suite ${granted.id}; refusing the downgrade`);
  }
  return granted;
}

/** RMCP+ login (§13.14–13.23). A RAKP timeout restarts the whole login: BMCs reject a repeated RAKP1/3. */
export async function login20(s: Session): Promise<Wire> {
  const caps = await authCaps(s, true);
  // Only a BMC that sent the extended data can say it lacks IPMI 2.0; one that refused the
  // extended request (0xCC) gets the RMCP+ login tried anyway, as pyghmi does.
  if (caps.extended && !caps.ipmi20) {
    throw new IpmiSessionError(s.host, 'the BMC does not offer IPMI 2.0 (RMCP+); use the lan interface (-I lan)');
  }
  const wanted = s.target.cipherSuite;
  let proposed =
    typeof wanted === 'number'
      ? CIPHER_SUITES.get(wanted)
      : wanted === 'list'
        ? chooseSuite(await listCipherSuites(s))
        : CIPHER_SUITES.get(PREFERRED_CIPHER_SUITES[0]!);
  if (!proposed)
    throw new IpmiSessionError(s.host, `cipher suite ${s.target.cipherSuite} is not supported (supported: ${[...CIPHER_SUITES.keys()].join(', ')})`);
  let lastTimeout: Error | undefined;
  for (let attempt = 0; attempt < s.policy.loginAttempts; attempt++) {
    try {
      return await handshake(s, proposed);
    } catch (error) {
      if (error instanceof NoSuiteMatch && typeof wanted !== 'number' && proposed.id !== FALLBACK_CIPHER_SUITE) {
        // pyghmi's rule: a BMC that refuses 17 gets a second proposal of suite 3.
        proposed = CIPHER_SUITES.get(FALLBACK_CIPHER_SUITE)!;
        attempt--;
        continue;
      }
      if (error instanceof NoSuiteMatch) throw new IpmiSessionError(s.host, error.message);
      if (!(error instanceof IpmiTimeoutError)) throw error;
      lastTimeout = error;
    }
  }
  throw lastTimeout ?? new IpmiTimeoutError(s.host, 'RMCP+ login', s.policy.loginAttempts);
}

/** The BMC refused the proposed suite; login20 proposes another or says so in an IpmiSessionError. Never leaves this module. */
class NoSuiteMatch extends IpmiError {
  override readonly name: string = 'NoSuiteMatch';
}

/** One RMCP+ login attempt with the proposed suite: Open Session, RAKP 1/2, RAKP 3/4, then the privilege. */
async function handshake(s: Session, proposed: CipherSuite): Promise<Wire> {
  const transport = s.transport;
  const consoleSessionId = transport.claimSessionId(s, (max) => (s.random.bytes(4).readUInt32LE(0) % max) >>> 0);
  try {
    const { open, suite } = await openSession(s, proposed, consoleSessionId);
    const { x, rakpTag } = await rakp12(s, suite, open.bmcSessionId, consoleSessionId);
    const keys = await rakp34(s, suite, x, rakpTag);
    s.setWire({ version: '2.0', bmcSessionId: open.bmcSessionId, consoleSessionId, keys, suite });
    await setPrivilege(s);
    return s.wire!;
  } catch (error) {
    transport.releaseSessionId(consoleSessionId);
    throw error;
  }
}

/** Open Session (§13.17, §13.18): the BMC's session ID and the suite it granted (never a weaker one). */
async function openSession(s: Session, proposed: CipherSuite, consoleSessionId: number): Promise<{ open: OpenSessionResponse; suite: CipherSuite }> {
  s.setState({ kind: 'open-session', suite: proposed });
  const tag = s.random.bytes(1)[0]!;
  const open = await s.exchange(
    'RMCP+ Open Session Request',
    () =>
      encodeSession20({
        payloadType: PayloadType.OPEN_SESSION_REQUEST,
        sessionId: 0,
        sequence: 0,
        payload: encodeOpenSessionRequest({
          tag,
          requestedMaxPrivilege: s.privilege,
          consoleSessionId,
          auth: proposed.auth,
          integrity: proposed.integrity,
          confidentiality: proposed.confidentiality,
        }),
      }),
    (packet) => {
      const p = decodeSession20(packet);
      if (p.payloadType !== PayloadType.OPEN_SESSION_RESPONSE) return undefined;
      // ipmi_sim refuses a suite with just [tag, status]: still a refusal, not garbage.
      if (p.payload.length >= 2 && p.payload.length < 8 && p.payload[0] === tag && p.payload[1] !== RmcpPlusStatus.OK) {
        return { tag, status: p.payload[1]!, maxPrivilege: 0, consoleSessionId, bmcSessionId: 0, auth: 0, integrity: 0, confidentiality: 0 };
      }
      const r = decodeOpenSessionResponse(p.payload);
      return r.consoleSessionId === consoleSessionId && r.tag === tag ? r : undefined;
    },
    { attempts: s.policy.retries + 1, idempotent: true },
  );
  if (
    open.status === RmcpPlusStatus.NO_CIPHER_SUITE_MATCH ||
    open.status === RmcpPlusStatus.INVALID_AUTH_ALGORITHM ||
    open.status === RmcpPlusStatus.INVALID_INTEGRITY_ALGORITHM ||
    open.status === RmcpPlusStatus.INVALID_CONFIDENTIALITY_ALGORITHM
  ) {
    throw new NoSuiteMatch(`${rmcpStatusReason('Open Session', open.status)} for cipher suite ${proposed.id}`);
  }
  if (open.status !== RmcpPlusStatus.OK) throw new IpmiSessionError(s.host, rmcpStatusReason('Open Session', open.status));
  // ipmi_sim reports max privilege 0 here (FreeIPMI needs -W opensesspriv for it): tolerate it and let RAKP decide.
  return { open, suite: checkGranted(s, proposed, open.auth, open.integrity, open.confidentiality) };
}

/** RAKP 1 → 2 (§13.20, §13.21), sent once (a lost one restarts the login): the exchange's values, the BMC's proof checked. */
async function rakp12(s: Session, suite: CipherSuite, bmcSessionId: number, consoleSessionId: number): Promise<{ x: RakpExchange; rakpTag: number }> {
  s.setState({ kind: 'rakp1', suite });
  const userName = Buffer.from(s.target.user, 'utf8');
  const consoleRandom = s.random.bytes(RAKP_RANDOM_LENGTH);
  const role = s.privilege | ROLE_NAME_ONLY_LOOKUP;
  const rakpTag = s.random.bytes(1)[0]!;
  const rakp2 = await s.exchange(
    'RAKP Message 1',
    () =>
      encodeSession20({
        payloadType: PayloadType.RAKP1,
        sessionId: 0,
        sequence: 0,
        payload: encodeRakp1({ tag: rakpTag, bmcSessionId, consoleRandom, role, userName }),
      }),
    (packet) => {
      const p = decodeSession20(packet);
      if (p.payloadType !== PayloadType.RAKP2) return undefined;
      const r = decodeRakp2(p.payload);
      return r.consoleSessionId === consoleSessionId ? r : undefined;
    },
    { attempts: 1, idempotent: true },
  );
  if (rakp2.status !== RmcpPlusStatus.OK) {
    const why =
      rakp2.status === RmcpPlusStatus.UNAUTHORIZED_NAME
        ? 'unknown user name'
        : rakp2.status === RmcpPlusStatus.UNAUTHORIZED_ROLE || rakp2.status === RmcpPlusStatus.INVALID_ROLE
          ? `privilege ${privilegeWord(s.privilege)} refused for this user`
          : rmcpStatusReason('RAKP2', rakp2.status);
    throw new IpmiLoginError(s.host, s.target.user, why);
  }
  const x: RakpExchange = {
    auth: suite.auth,
    consoleSessionId,
    bmcSessionId,
    consoleRandom,
    bmcRandom: rakp2.bmcRandom,
    bmcGuid: rakp2.bmcGuid,
    role,
    userName,
  };
  try {
    verifyRakp2(x, s.target.password, rakp2.keyExchangeAuthCode);
  } catch (error) {
    if (error instanceof IpmiAuthenticationError) throw new IpmiLoginError(s.host, s.target.user, "wrong password (the BMC's RAKP2 proof does not match it)");
    throw error;
  }
  return { x, rakpTag };
}

/** RAKP 3 → 4 (§13.22, §13.23): our proof sent, the BMC's integrity check verified; the session keys. */
async function rakp34(s: Session, suite: CipherSuite, x: RakpExchange, rakpTag: number): Promise<SessionKeys> {
  s.setState({ kind: 'rakp3', suite });
  const sik = sessionIntegrityKey(x, s.target.password, s.target.kg);
  // One HmacKey (its pad states) for the RAKP4 check and the key derivation, not one each (RAKP-none has no SIK to wrap).
  const sikKey = sik.length > 0 ? secretKey(sik) : sik;
  const rakp4 = await s.exchange(
    'RAKP Message 3',
    () =>
      encodeSession20({
        payloadType: PayloadType.RAKP3,
        sessionId: 0,
        sequence: 0,
        payload: encodeRakp3({ tag: rakpTag, status: 0, bmcSessionId: x.bmcSessionId, keyExchangeAuthCode: rakp3AuthCode(x, s.target.password) }),
      }),
    (packet) => {
      const p = decodeSession20(packet);
      if (p.payloadType !== PayloadType.RAKP4) return undefined;
      const r = decodeRakp4(p.payload);
      return r.consoleSessionId === x.consoleSessionId ? r : undefined;
    },
    { attempts: 1, idempotent: true },
  );
  if (rakp4.status !== RmcpPlusStatus.OK) throw new IpmiLoginError(s.host, s.target.user, rmcpStatusReason('RAKP4', rakp4.status));
  try {
    verifyRakp4(x, sikKey, rakp4.integrityCheckValue);
  } catch (error) {
    if (error instanceof IpmiAuthenticationError) throw new IpmiLoginError(s.host, s.target.user, "the BMC's RAKP4 check does not match (wrong Kg?)");
    throw error;
  }
  return deriveSessionKeys(suite.auth, sikKey, suite.integrity, suite.confidentiality);
}

/** Set Session Privilege Level (§22.18): sessions start at User level. */
async function setPrivilege(s: Session): Promise<void> {
  s.setState({ kind: 'set-privilege', privilege: s.privilege });
  const res = await s.ipmi(req('Set Session Privilege Level', AppCmd.SET_SESSION_PRIVILEGE_LEVEL, [s.privilege]), 'session');
  if (res.completionCode === SetPrivilegeCode.NOT_AVAILABLE_FOR_USER || res.completionCode === SetPrivilegeCode.EXCEEDS_LIMIT) {
    throw new IpmiLoginError(s.host, s.target.user, `privilege ${privilegeWord(s.privilege)} is above this user's limit; ask for less (-L OPERATOR)`);
  }
  if (res.completionCode !== 0) throw new IpmiSessionError(s.host, `Set Session Privilege Level failed (completion code 0x${res.completionCode.toString(16)})`);
}

const AUTH_BITS: Record<Session15AuthType, number> = { none: 1 << AuthType.NONE, md5: 1 << AuthType.MD5, password: 1 << AuthType.PASSWORD };
const AUTH_BYTE: Record<Session15AuthType, number> = { none: AuthType.NONE, md5: AuthType.MD5, password: AuthType.PASSWORD };

/** IPMI 1.5 login (§22.13, §22.16, §22.17). */
export async function login15(s: Session): Promise<Wire> {
  const caps = await authCaps(s, false);
  const offered = caps.authTypes;
  const wanted = s.target.authType;
  const authType: Session15AuthType | undefined = wanted ?? (['md5', 'password'] as const).find((t) => (offered & AUTH_BITS[t]) !== 0);
  if (!authType || (offered & AUTH_BITS[authType]) === 0) {
    throw new IpmiSessionError(
      s.host,
      `the BMC offers no IPMI 1.5 authentication type this client uses${wanted ? ` (asked for ${wanted})` : ''} (MD5 or straight password)`,
    );
  }
  s.setState({ kind: 'challenge', authType });
  const challenge = await s.ipmi(
    req('Get Session Challenge', AppCmd.GET_SESSION_CHALLENGE, encodeSessionChallengeRequest(AUTH_BYTE[authType], Buffer.from(s.target.user, 'utf8'))),
    'pre-1.5',
  );
  if (challenge.completionCode === ChallengeCode.INVALID_USER_NAME || challenge.completionCode === ChallengeCode.NULL_USER_DISABLED)
    throw new IpmiLoginError(s.host, s.target.user, 'unknown user name');
  if (challenge.completionCode !== 0) throw new IpmiSessionError(s.host, `Get Session Challenge failed: ${completionCodeText(challenge.completionCode)}`);
  const { temporarySessionId, challenge: challengeString } = decodeSessionChallenge(challenge.data);
  password16(s.target.password); // throws IpmiEncodeError for a password IPMI 1.5 cannot carry
  s.setState({ kind: 'activate', authType });
  const initialOutbound = s.random.bytes(4).readUInt32LE(0) || 1;
  const activateData = encodeActivateSessionRequest({
    authType: AUTH_BYTE[authType],
    maxPrivilege: s.privilege,
    challenge: challengeString,
    initialOutboundSequence: initialOutbound,
  });
  // Activate Session is sent under the temporary session ID with sequence 0 (§22.17).
  s.setWire({ version: '1.5', sessionId: temporarySessionId, authType });
  let activated;
  try {
    activated = await s.ipmi(req('Activate Session', AppCmd.ACTIVATE_SESSION, activateData), 'session', s.policy.retries + 1, ACTIVATE_SEQUENCE);
  } catch (error) {
    // The BMC answered the challenge, so it is reachable: silence now means it dropped a
    // packet whose authcode it could not verify, i.e. a wrong password.
    if (error instanceof IpmiTimeoutError)
      throw new IpmiLoginError(s.host, s.target.user, 'the BMC ignored Activate Session, which it does when the password is wrong');
    throw error;
  }
  if (activated.completionCode !== 0)
    throw new IpmiLoginError(s.host, s.target.user, `Activate Session refused: ${completionCodeText(activated.completionCode)}`);
  const { sessionId, initialInboundSequence } = decodeActivateSessionResponse(activated.data);
  s.setWire({ version: '1.5', sessionId, authType });
  s.startSequence(initialInboundSequence || 1);
  await setPrivilege(s);
  return s.wire!;
}
