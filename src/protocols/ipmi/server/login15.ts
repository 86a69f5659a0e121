// The BMC side of IPMI 1.5 session establishment (IPMI v2.0 §22.16 Get Session Challenge,
// §22.17 Activate Session): a challenge under a temporary session ID, then activation
// authenticated with the user's password (MD5 or straight password) or not at all ("none").
import { ActivateSessionCode, AppCmd, AuthType, ChallengeCode, CompletionCode, NetFn, Privilege } from '../constants.ts';
import { IpmiAuthenticationError, IpmiEncodeError } from '../errors.ts';
import type { IpmiRequest } from '../message.ts';
import { decodeRequest, encodeResponse, responseTo } from '../message.ts';
import {
  CHALLENGE_LENGTH,
  decodeActivateSessionRequest,
  decodeSessionChallengeRequest,
  encodeActivateSessionResponse,
  encodeSessionChallenge,
} from '../session-commands.ts';
import type { Session15AuthType, Session15Packet } from '../session15.ts';
import { encodeSession15, session15AuthTypeFromByte, verifySession15 } from '../session15.ts';
import { commandKey } from './context.ts';
import type { BmcUser } from './handler.ts';
import type { PendingChallenge, RemoteAddress, Session15 } from './session.ts';
import { RecentReplies, SequenceWindow } from './session.ts';

/** Outstanding challenges kept at most; the oldest is dropped beyond. */
export const MAX_PENDING_CHALLENGES = 32;
/** Activate Session request data: auth type, privilege, challenge(16), initial outbound sequence(4) (§22.17). */
const ACTIVATE_SESSION_REQUEST_LENGTH = 22;
/** Get Session Challenge request data: auth type, user name(16) (§22.16). */
const CHALLENGE_REQUEST_LENGTH = 17;

/** What the IPMI 1.5 login needs from the BMC. */
export interface Login15Host {
  readonly authTypes15: readonly Session15AuthType[];
  readonly challenges: Map<number, PendingChallenge>;
  users(): readonly BmcUser[];
  random(n: number): Buffer;
  now(): number;
  idInUse(id: number): boolean;
  allocateSession(): number | undefined;
  registerSession15(session: Session15): void;
  countActivated(): void;
  countDropped(): void;
  send(packet: Buffer, to: RemoteAddress): void;
}

/** Get Session Challenge (§22.16): remember a random challenge under a temporary session ID. Returns the response message. */
export function sessionChallenge(host: Login15Host, req: Required<IpmiRequest>, remote: RemoteAddress): Buffer {
  const reply = (cc: number, data?: Buffer) => encodeResponse(responseTo(req, cc, data));
  if (req.data.length < CHALLENGE_REQUEST_LENGTH) return reply(CompletionCode.DATA_LENGTH_INVALID);
  const { authType, userName } = decodeSessionChallengeRequest(req.data);
  const type = session15AuthTypeFromByte(authType);
  if (type === undefined || !host.authTypes15.includes(type)) return reply(CompletionCode.INVALID_DATA_FIELD);
  const name = userName.toString('utf8');
  const user = host.users().find((u) => u.enabled && u.name === name && u.ipmiMessaging);
  if (user === undefined) return reply(name === '' ? ChallengeCode.NULL_USER_DISABLED : ChallengeCode.INVALID_USER_NAME);
  if (host.challenges.size >= MAX_PENDING_CHALLENGES) host.challenges.delete(host.challenges.keys().next().value as number);
  let id: number;
  do id = host.random(4).readUInt32LE(0);
  while (id === 0 || host.idInUse(id));
  const challenge = host.random(CHALLENGE_LENGTH);
  host.challenges.set(id, { temporarySessionId: id, remote, user, authType: type, challenge, created: host.now() });
  return reply(CompletionCode.OK, encodeSessionChallenge(id, challenge));
}

/** Activate Session (§22.17), sent under the temporary session ID and authenticated with the password. */
export function activateSession(host: Login15Host, p: Session15Packet, pending: PendingChallenge, remote: RemoteAddress, packet: Buffer): void {
  if (pending.activated !== undefined) {
    // A console that lost our reply sends the same request again: same answer, no second session.
    if (packet.equals(pending.activated.request) && remote.address === pending.remote.address) host.send(pending.activated.reply, remote);
    else host.countDropped();
    return;
  }
  if (remote.address !== pending.remote.address || session15AuthTypeFromByte(p.authType) !== pending.authType) return host.countDropped();
  try {
    verifySession15(p, pending.user.password);
  } catch (error) {
    // A password longer than 16 bytes cannot be used over IPMI 1.5.
    if (error instanceof IpmiEncodeError) throw new IpmiAuthenticationError('password unusable over IPMI 1.5', { cause: error });
    throw error;
  }
  const req = decodeRequest(p.message);
  if (commandKey(req.netFn, req.command) !== commandKey(NetFn.APP, AppCmd.ACTIVATE_SESSION) || req.data.length < ACTIVATE_SESSION_REQUEST_LENGTH)
    return host.countDropped();
  const a = decodeActivateSessionRequest(req.data);
  if (!a.challenge.equals(pending.challenge)) throw new IpmiAuthenticationError('Activate Session challenge does not match');
  host.challenges.delete(pending.temporarySessionId);
  const user = pending.user;
  const send = (cc: number, data?: Buffer) => {
    const reply = encodeSession15({
      authType: pending.authType,
      sequence: a.initialOutboundSequence,
      sessionId: pending.temporarySessionId,
      message: encodeResponse(responseTo(req, cc, data)),
      password: user.password,
    });
    if (cc === CompletionCode.OK) {
      pending.activated = { request: Buffer.from(packet), reply };
      host.challenges.set(pending.temporarySessionId, pending);
    }
    host.send(reply, remote);
  };
  const maxPrivilege = a.maxPrivilege === 0 ? user.privilege : a.maxPrivilege;
  if (maxPrivilege > user.privilege || maxPrivilege > Privilege.ADMINISTRATOR) return send(ActivateSessionCode.PRIVILEGE_EXCEEDS_LIMIT);
  const id = host.allocateSession();
  if (id === undefined) return send(ActivateSessionCode.NO_SESSION_SLOT);
  let inbound = host.random(4).readUInt32LE(0);
  if (inbound === 0) inbound = 1;
  const s: Session15 = {
    kind: 'ipmi15',
    state: 'active',
    bmcSessionId: id,
    remote,
    authType: pending.authType,
    user,
    maxPrivilege,
    privilege: Math.min(Privilege.USER, maxPrivilege),
    lastActivity: host.now(),
    window: new SequenceWindow((inbound - 1) >>> 0),
    outboundSequence: (a.initialOutboundSequence + 1) >>> 0,
    recent: new RecentReplies(),
  };
  host.registerSession15(s);
  host.countActivated();
  send(
    CompletionCode.OK,
    encodeActivateSessionResponse({
      authType: AuthType[pending.authType === 'md5' ? 'MD5' : pending.authType === 'password' ? 'PASSWORD' : 'NONE'],
      sessionId: id,
      initialInboundSequence: inbound,
      maxPrivilege,
    }),
  );
}
