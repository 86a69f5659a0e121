// Channel and session queries: Get Channel Info (IPMI v2.0 §22.24), Get Channel Access
// (§22.23) and Get Session Info (§22.20). Pure payload builders and decoders.
import { AppCmd, NetFn } from '../constants.ts';
import { at, need, request, u16le, u24le, CURRENT_CHANNEL } from './request.ts';
import type { CommandRequest } from './request.ts';

export function getChannelInfo(channel: number = CURRENT_CHANNEL): CommandRequest {
  return request('Get Channel Info', NetFn.APP, AppCmd.GET_CHANNEL_INFO, [channel & 0x0f]);
}

export type SessionSupport = 'session-less' | 'single-session' | 'multi-session' | 'session-based';
const SESSION_SUPPORT: readonly SessionSupport[] = ['session-less', 'single-session', 'multi-session', 'session-based'];

export interface ChannelInfo {
  readonly channel: number;
  /** Channel medium type (§6.5, table 6-3): 4 is 802.3 LAN. */
  readonly medium: number;
  /** Channel protocol type (§6.6, table 6-2): 1 is IPMB-1.0. */
  readonly protocol: number;
  readonly sessionSupport: SessionSupport;
  readonly activeSessions: number;
  readonly vendorId: number;
}

export function decodeChannelInfo(data: Uint8Array): ChannelInfo {
  need(data, 7, 'Get Channel Info');
  return {
    channel: at(data, 0) & 0x0f,
    medium: at(data, 1) & 0x7f,
    protocol: at(data, 2) & 0x1f,
    sessionSupport: SESSION_SUPPORT[at(data, 3) >> 6] ?? 'session-less',
    activeSessions: at(data, 3) & 0x3f,
    vendorId: u24le(data, 4),
  };
}

/** Byte 2 of Get Channel Access, bits 7:6 (§22.23): the non-volatile or the volatile (active) settings. */
const AccessSet = { 'non-volatile': 0x40, volatile: 0x80 } as const;

export function getChannelAccess(channel: number, which: keyof typeof AccessSet): CommandRequest {
  return request('Get Channel Access', NetFn.APP, AppCmd.GET_CHANNEL_ACCESS, [channel & 0x0f, AccessSet[which]]);
}

export interface ChannelAccess {
  readonly alertingDisabled: boolean;
  readonly perMessageAuthDisabled: boolean;
  readonly userLevelAuthDisabled: boolean;
  /** 0 disabled, 1 pre-boot only, 2 always available, 3 shared. */
  readonly accessMode: number;
  readonly privilegeLimit: number;
}

export function decodeChannelAccess(data: Uint8Array): ChannelAccess {
  need(data, 2, 'Get Channel Access');
  const b = at(data, 0);
  return {
    alertingDisabled: (b & 0x20) !== 0,
    perMessageAuthDisabled: (b & 0x10) !== 0,
    userLevelAuthDisabled: (b & 0x08) !== 0,
    accessMode: b & 0x07,
    privilegeLimit: at(data, 1) & 0x0f,
  };
}

/** Set Channel Access byte 2/3 bits 7:6 (§22.22): leave alone, set non-volatile, set volatile (active). */
export const AccessWrite = { 'no-change': 0x00, 'non-volatile': 0x40, volatile: 0x80 } as const;

/**
 * Set Channel Access (§22.22): the access mode and the channel's privilege limit, written into
 * the non-volatile or the volatile settings. An absolute value: resending is harmless.
 */
export function setChannelAccess(channel: number, which: 'non-volatile' | 'volatile', access: ChannelAccess): CommandRequest {
  const flags = (access.alertingDisabled ? 0x20 : 0) | (access.perMessageAuthDisabled ? 0x10 : 0) | (access.userLevelAuthDisabled ? 0x08 : 0);
  return request('Set Channel Access', NetFn.APP, AppCmd.SET_CHANNEL_ACCESS, [
    channel & 0x0f,
    AccessWrite[which] | flags | (access.accessMode & 0x07),
    AccessWrite[which] | (access.privilegeLimit & 0x0f),
  ]);
}

/** Session index byte of Get Session Info (§22.20): 0 asks for the session the request arrives on. */
export const CURRENT_SESSION = 0x00;

export function getSessionInfo(index: number = CURRENT_SESSION): CommandRequest {
  return request('Get Session Info', NetFn.APP, AppCmd.GET_SESSION_INFO, [index]);
}

export interface SessionInfo {
  readonly handle: number;
  readonly slotCount: number;
  readonly activeSessions: number;
  /** The rest is there only for an active session. */
  readonly session?: {
    readonly userId: number;
    readonly privilege: number;
    /** Bits 7:4 of byte 6: 0 IPMI 1.5, 1 IPMI 2.0/RMCP+. */
    readonly protocol: number;
    readonly channel: number;
    /** 802.3 LAN channels: the remote console's address. */
    readonly lan?: { readonly ip: string; readonly mac: string; readonly port: number };
  };
}

export function decodeSessionInfo(data: Uint8Array): SessionInfo {
  need(data, 3, 'Get Session Info');
  const head = { handle: at(data, 0), slotCount: at(data, 1) & 0x3f, activeSessions: at(data, 2) & 0x3f };
  if (data.length < 6) return head;
  const lan =
    data.length >= 18
      ? {
          ip: Array.from(data.subarray(6, 10)).join('.'),
          mac: Array.from(data.subarray(10, 16), (b) => b.toString(16).padStart(2, '0')).join(':'),
          // The byte order ipmitool reads it in (it does not swap on little-endian hosts).
          port: u16le(data, 16),
        }
      : undefined;
  return {
    ...head,
    session: {
      userId: at(data, 3) & 0x3f,
      privilege: at(data, 4) & 0x0f,
      protocol: at(data, 5) >> 4,
      channel: at(data, 5) & 0x0f,
      ...(lan ? { lan } : {}),
    },
  };
}
