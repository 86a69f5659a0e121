// The two commands a console sends before any session exists: Get Channel Authentication
// Capabilities (IPMI v2.0 §22.13) and Get Channel Cipher Suites (§22.15). Answering the
// second matters: ipmitool waits 10 s for it when a BMC stays silent (ipmitool issue #199).
import { cipherSuiteChunk, encodeCipherSuiteRecords } from '../cipher-suites.ts';
import { AuthType, CompletionCode, PayloadType } from '../constants.ts';
import { decodeAuthCapabilitiesRequest, decodeCipherSuitesRequest, encodeAuthCapabilities, encodeCipherSuitesResponse } from '../session-commands.ts';
import type { Session15AuthType } from '../session15.ts';
import type { CommandContext, CommandReply } from './context.ts';
import { fail, ok } from './context.ts';

const LAN_CHANNEL = 1;
const CURRENT_CHANNEL = 0x0e;

const authTypeBit: Record<Session15AuthType, number> = { none: 1 << AuthType.NONE, md5: 1 << AuthType.MD5, password: 1 << AuthType.PASSWORD };

export function channelAuthCapabilities(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 2) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const req = decodeAuthCapabilitiesRequest(ctx.data);
  if (req.channel !== LAN_CHANNEL && req.channel !== CURRENT_CHANNEL) return fail(CompletionCode.INVALID_DATA_FIELD);
  const users = ctx.bmc.handler.users();
  return ok(
    encodeAuthCapabilities({
      channel: LAN_CHANNEL,
      authTypes: ctx.bmc.authTypes15.reduce((mask, t) => mask | authTypeBit[t], 0),
      extended: req.extended,
      kgSet: ctx.bmc.kg !== undefined,
      perMessageAuthDisabled: false,
      userLevelAuthDisabled: false,
      nonNullUsers: users.some((u) => u.enabled && u.name !== ''),
      nullUsers: users.some((u) => u.enabled && u.name === '' && u.password.length > 0),
      anonymousLogin: false,
      ipmi20: ctx.bmc.cipherSuites.length > 0,
      ipmi15: ctx.bmc.authTypes15.length > 0,
      oemIana: 0,
      oemAux: 0,
    }),
  );
}

export function channelCipherSuites(ctx: CommandContext): CommandReply {
  if (ctx.data.length < 3) return fail(CompletionCode.DATA_LENGTH_INVALID);
  const req = decodeCipherSuitesRequest(ctx.data);
  if (req.channel !== LAN_CHANNEL && req.channel !== CURRENT_CHANNEL) return fail(CompletionCode.INVALID_DATA_FIELD);
  if (req.payloadType !== PayloadType.IPMI && req.payloadType !== PayloadType.SOL) return fail(CompletionCode.INVALID_DATA_FIELD);
  const records = encodeCipherSuiteRecords(ctx.bmc.cipherSuites);
  return ok(encodeCipherSuitesResponse(LAN_CHANNEL, cipherSuiteChunk(records, req.listIndex)));
}
