// The BMC side of RMCP+ session establishment (IPMI v2.0 §13.17–§13.23): Open Session,
// RAKP1→2 and RAKP3→4, as explicit steps over a Session20 whose `state` says what it awaits.
// Retransmitted RAKP1/RAKP3 get the same answer again: consoles retry on loss.
import type { CipherSuite } from '../cipher-suites.ts';
import { PayloadType, Privilege, RmcpPlusStatus } from '../constants.ts';
import { NO_SESSION_KEYS, deriveSessionKeys } from '../crypto.ts';
import { IpmiAuthenticationError } from '../errors.ts';
import type { OpenSessionRequest, Rakp1, Rakp3 } from '../rakp.ts';
import {
  RAKP_RANDOM_LENGTH,
  ROLE_PRIVILEGE_MASK,
  encodeOpenSessionResponse,
  encodeRakp2,
  encodeRakp4,
  rakp2AuthCode,
  rakp4IntegrityCheckValue,
  sessionIntegrityKey,
  verifyRakp3,
} from '../rakp.ts';
import { encodeSession20 } from '../session20.ts';
import type { BmcUser } from './handler.ts';
import type { RemoteAddress, Session20 } from './session.ts';
import { RecentReplies, SequenceWindow } from './session.ts';

/** What the login steps need from the BMC. */
export interface LoginHost {
  readonly cipherSuites: readonly CipherSuite[];
  readonly guid: Buffer;
  readonly kg: Buffer | undefined;
  users(): readonly BmcUser[];
  random(n: number): Buffer;
  now(): number;
  /** A fresh, unused, non-zero session ID, or undefined when every slot is taken. */
  allocateSession(): number | undefined;
  register(session: Session20): void;
  destroy(session: Session20, reason: 'failed' | 'closed'): void;
  find(bmcSessionId: number): Session20 | undefined;
  findOpening(remote: RemoteAddress, consoleSessionId: number): Session20 | undefined;
  countAuthFailure(): void;
  countActivated(): void;
}

/** The first enabled suite compatible with what the console proposed (empty algorithm payloads match anything). */
export function chooseSuite(suites: readonly CipherSuite[], req: OpenSessionRequest): CipherSuite | undefined {
  return suites.find(
    (s) =>
      (req.auth === undefined || req.auth === s.auth) &&
      (req.integrity === undefined || req.integrity === s.integrity) &&
      (req.confidentiality === undefined || req.confidentiality === s.confidentiality),
  );
}

function frame(type: number, payload: Buffer): Buffer {
  return encodeSession20({ payloadType: type, sessionId: 0, sequence: 0, payload });
}

/** Open Session Request → Open Session Response (§13.17, §13.18). Returns the datagram to send. */
export function openSession(host: LoginHost, req: OpenSessionRequest, remote: RemoteAddress): Buffer {
  const again = host.findOpening(remote, req.consoleSessionId);
  if (again !== undefined && again.state === 'open-session-sent' && again.openTag === req.tag)
    return frame(PayloadType.OPEN_SESSION_RESPONSE, openResponse(again));
  const refuse = (status: number) =>
    frame(
      PayloadType.OPEN_SESSION_RESPONSE,
      encodeOpenSessionResponse({
        tag: req.tag,
        status,
        maxPrivilege: 0,
        consoleSessionId: req.consoleSessionId,
        bmcSessionId: 0,
        auth: 0,
        integrity: 0,
        confidentiality: 0,
      }),
    );
  if (req.consoleSessionId === 0) return refuse(RmcpPlusStatus.INVALID_SESSION_ID);
  const suite = chooseSuite(host.cipherSuites, req);
  if (suite === undefined) return refuse(RmcpPlusStatus.NO_CIPHER_SUITE_MATCH);
  const requested = req.requestedMaxPrivilege === Privilege.HIGHEST ? Privilege.ADMINISTRATOR : req.requestedMaxPrivilege;
  if (requested > Privilege.ADMINISTRATOR) return refuse(RmcpPlusStatus.INVALID_ROLE);
  const id = host.allocateSession();
  if (id === undefined) return refuse(RmcpPlusStatus.INSUFFICIENT_RESOURCES);
  const session: Session20 = {
    kind: 'rmcp+',
    state: 'open-session-sent',
    bmcSessionId: id,
    consoleSessionId: req.consoleSessionId,
    remote,
    suite,
    maxPrivilege: requested,
    openTag: req.tag,
    privilege: Privilege.CALLBACK,
    lastActivity: host.now(),
    window: new SequenceWindow(0),
    outboundSequence: 1,
    recent: new RecentReplies(),
  };
  host.register(session);
  return frame(PayloadType.OPEN_SESSION_RESPONSE, openResponse(session));
}

function openResponse(s: Session20): Buffer {
  return encodeOpenSessionResponse({
    tag: s.openTag,
    status: RmcpPlusStatus.OK,
    maxPrivilege: s.maxPrivilege,
    consoleSessionId: s.consoleSessionId,
    bmcSessionId: s.bmcSessionId,
    auth: s.suite.auth,
    integrity: s.suite.integrity,
    confidentiality: s.suite.confidentiality,
  });
}

/** RAKP1 → RAKP2 (§13.20, §13.21). Returns the datagram to send, or undefined to stay silent. */
export function rakp1(host: LoginHost, m: Rakp1, remote: RemoteAddress): Buffer | undefined {
  const s = host.find(m.bmcSessionId);
  if (s === undefined || s.remote.address !== remote.address) return undefined;
  if (
    s.state === 'rakp2-sent' &&
    s.rakp2 !== undefined &&
    s.exchange !== undefined &&
    Buffer.compare(Buffer.from(s.exchange.consoleRandom), m.consoleRandom) === 0
  )
    return s.rakp2;
  if (s.state !== 'open-session-sent') return undefined;
  const refuse = (status: number) => {
    host.destroy(s, 'failed');
    return frame(
      PayloadType.RAKP2,
      encodeRakp2({
        tag: m.tag,
        status,
        consoleSessionId: s.consoleSessionId,
        bmcRandom: Buffer.alloc(0),
        bmcGuid: Buffer.alloc(0),
        keyExchangeAuthCode: Buffer.alloc(0),
      }),
    );
  };
  const name = m.userName.toString('utf8');
  const user = host.users().find((u) => u.enabled && u.name === name && u.ipmiMessaging);
  if (user === undefined) return refuse(RmcpPlusStatus.UNAUTHORIZED_NAME);
  const priv = m.role & ROLE_PRIVILEGE_MASK;
  if (priv < Privilege.CALLBACK || priv > Privilege.ADMINISTRATOR) return refuse(RmcpPlusStatus.INVALID_ROLE);
  // Status 9 rather than 0x0A: clients (pyghmi) retry at a lower privilege on 9 (reference/ipmi.md §1.3).
  if (priv > user.privilege || priv > s.maxPrivilege) return refuse(RmcpPlusStatus.INVALID_ROLE);
  const exchange = {
    auth: s.suite.auth,
    consoleSessionId: s.consoleSessionId,
    bmcSessionId: s.bmcSessionId,
    consoleRandom: m.consoleRandom,
    bmcRandom: host.random(RAKP_RANDOM_LENGTH),
    bmcGuid: host.guid,
    role: m.role,
    userName: m.userName,
  };
  s.user = user;
  s.exchange = exchange;
  s.state = 'rakp2-sent';
  s.lastActivity = host.now();
  s.rakp2 = frame(
    PayloadType.RAKP2,
    encodeRakp2({
      tag: m.tag,
      status: RmcpPlusStatus.OK,
      consoleSessionId: s.consoleSessionId,
      bmcRandom: exchange.bmcRandom,
      bmcGuid: host.guid,
      keyExchangeAuthCode: rakp2AuthCode(exchange, user.password),
    }),
  );
  return s.rakp2;
}

/** RAKP3 → RAKP4 (§13.22, §13.23): verifies the console, derives SIK/K1/K2 and activates the session. */
export function rakp3(host: LoginHost, m: Rakp3, remote: RemoteAddress): Buffer | undefined {
  const s = host.find(m.bmcSessionId);
  if (s === undefined || s.remote.address !== remote.address) return undefined;
  if (s.state === 'active' && s.rakp4 !== undefined) return s.rakp4;
  if (s.state !== 'rakp2-sent' || s.exchange === undefined || s.user === undefined) return undefined;
  if (m.status !== RmcpPlusStatus.OK) {
    host.destroy(s, 'failed');
    return undefined;
  }
  const x = s.exchange;
  try {
    verifyRakp3(x, s.user.password, m.keyExchangeAuthCode);
  } catch (error) {
    if (!(error instanceof IpmiAuthenticationError)) throw error;
    host.countAuthFailure();
    host.destroy(s, 'failed');
    return frame(
      PayloadType.RAKP4,
      encodeRakp4({
        tag: m.tag,
        status: RmcpPlusStatus.INVALID_INTEGRITY_CHECK_VALUE,
        consoleSessionId: s.consoleSessionId,
        integrityCheckValue: Buffer.alloc(0),
      }),
    );
  }
  const sik = sessionIntegrityKey(x, s.user.password, host.kg);
  s.keys = s.suite.auth === 0 ? NO_SESSION_KEYS : deriveSessionKeys(s.suite.auth, sik, s.suite.integrity, s.suite.confidentiality);
  // The session starts at User (or the requested role, if lower) and is raised by Set Session Privilege Level (§22.18).
  const role = x.role & ROLE_PRIVILEGE_MASK;
  s.maxPrivilegeGranted = Math.min(role, s.user.privilege, s.maxPrivilege);
  s.privilege = Math.min(Privilege.USER, s.maxPrivilegeGranted);
  s.state = 'active';
  s.lastActivity = host.now();
  host.countActivated();
  s.rakp4 = frame(
    PayloadType.RAKP4,
    encodeRakp4({ tag: m.tag, status: RmcpPlusStatus.OK, consoleSessionId: s.consoleSessionId, integrityCheckValue: rakp4IntegrityCheckValue(x, sik) }),
  );
  return s.rakp4;
}
