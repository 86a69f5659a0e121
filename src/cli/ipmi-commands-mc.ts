// The `anvil ipmi` verbs for the BMC's own state, as ipmitool spells them: chassis policy,
// mc selftest, mc watchdog get, channel info and session info. Grouped by where they sit in
// the help (IPMI_VERBS in ipmi-commands.ts spreads each group in its place).
import type { Bmc } from '../protocols/ipmi/client/bmc.ts';
import {
  decodeChannelAccess,
  decodeChannelInfo,
  decodeSessionInfo,
  getChannelAccess,
  getChannelInfo,
  getSessionInfo,
} from '../protocols/ipmi/commands/channel.ts';
import { decodePowerRestorePolicySupport, setPowerRestorePolicy } from '../protocols/ipmi/commands/chassis.ts';
import type { PolicyRequest } from '../protocols/ipmi/commands/chassis.ts';
import { decodeSelfTestResults, decodeWatchdogTimer, getSelfTestResults, getWatchdogTimer } from '../protocols/ipmi/commands/mc.ts';
import { hexByte } from './ipmi-args.ts';
import type { IpmiVerb, OutputFlags } from './ipmi-commands.ts';
import { channelInfoLines, LAN_MEDIA, policyLines, selfTestLines, sessionInfoLines, watchdogLines } from './ipmi-format-mc.ts';

const POLICIES: Readonly<Record<string, PolicyRequest>> = { list: 'no-change', 'always-on': 'always-on', previous: 'previous', 'always-off': 'always-off' };

async function channelInfo(b: Bmc, channel: number | undefined) {
  const info = decodeChannelInfo(await b.send(getChannelInfo(channel)));
  // ipmitool reads the access settings of LAN channels only, of the channel the BMC named.
  if (!LAN_MEDIA.has(info.medium)) return { info };
  const volatile = decodeChannelAccess(await b.send(getChannelAccess(info.channel, 'volatile')));
  const nonVolatile = decodeChannelAccess(await b.send(getChannelAccess(info.channel, 'non-volatile')));
  return { info, access: { volatile, nonVolatile } };
}

export const MC_VERBS: { readonly chassis: readonly IpmiVerb[]; readonly mc: readonly IpmiVerb[]; readonly channel: readonly IpmiVerb[] } = {
  chassis: [
    {
      words: ['chassis', 'policy'],
      args: 'list|always-on|previous|always-off',
      fleet: true,
      prepare: ([text]) => {
        const policy = text === undefined ? undefined : POLICIES[text];
        if (policy === undefined) return undefined;
        return async (b) => {
          const supported = decodePowerRestorePolicySupport(await b.send(setPowerRestorePolicy(policy)));
          return { lines: policyLines(policy, supported), json: policy === 'no-change' ? { supported } : { policy, supported } };
        };
      },
    },
  ],
  mc: [
    {
      words: ['mc', 'selftest'],
      sameHelpLine: true,
      fleet: false,
      prepare: () => async (b) => {
        const r = decodeSelfTestResults(await b.send(getSelfTestResults()));
        const { lines, failed } = selfTestLines(r);
        return { lines, json: { ...r, passed: !failed }, ...(failed ? { code: 1 } : {}) };
      },
    },
    {
      words: ['mc', 'watchdog', 'get'],
      sameHelpLine: true,
      fleet: false,
      prepare: () => async (b) => {
        const w = decodeWatchdogTimer(await b.send(getWatchdogTimer()));
        return { lines: watchdogLines(w), json: w };
      },
    },
  ],
  channel: [
    {
      words: ['channel', 'info'],
      args: '[channel]',
      fleet: false,
      prepare: ([text]) => {
        const channel = text !== undefined ? hexByte(text) : undefined;
        return async (b) => {
          const r = await channelInfo(b, channel);
          return { lines: channelInfoLines(r.info, r.access), json: r };
        };
      },
    },
    {
      words: ['session', 'info'],
      args: 'active',
      fleet: false,
      prepare: ([which], flags: OutputFlags) => {
        if (which !== 'active') return undefined;
        return async (b) => {
          const s = decodeSessionInfo(await b.send(getSessionInfo()));
          return { lines: sessionInfoLines(s, flags.csv), json: s };
        };
      },
    },
  ],
};
