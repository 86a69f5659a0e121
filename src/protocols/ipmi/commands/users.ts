// User account commands: access, names and passwords (IPMI v2.0 §22.26–22.30).
import { AppCmd, NetFn } from '../constants.ts';
import { CURRENT_CHANNEL } from './request.ts';
import { at, need, padded, request, unpad } from './request.ts';
import type { CommandRequest } from './request.ts';

/** Privilege levels, §6.8 Table 6-4 (also the "privilege limit" of a user). */
export const Privilege = {
  callback: 1,
  user: 2,
  operator: 3,
  administrator: 4,
  oem: 5,
  'no-access': 0x0f,
} as const;
export type PrivilegeName = keyof typeof Privilege;

export function privilegeName(level: number): PrivilegeName | undefined {
  return (Object.keys(Privilege) as PrivilegeName[]).find((name) => Privilege[name] === level);
}

export interface UserAccess {
  readonly maxUsers: number;
  readonly enabledUsers: number;
  readonly fixedNames: number;
  readonly callbackOnly: boolean;
  readonly linkAuth: boolean;
  readonly ipmiMessaging: boolean;
  /** The raw 4-bit limit; privilegeName() spells it (0 is "reserved", printed as Unknown by ipmitool). */
  readonly privilegeLimit: number;
}

export function getUserAccess(uid: number, channel = CURRENT_CHANNEL): CommandRequest {
  return request('Get User Access', NetFn.APP, AppCmd.GET_USER_ACCESS, [channel & 0x0f, uid & 0x3f]);
}

export function decodeUserAccess(data: Uint8Array): UserAccess {
  need(data, 4, 'Get User Access');
  const access = at(data, 3);
  return {
    maxUsers: at(data, 0) & 0x3f,
    enabledUsers: at(data, 1) & 0x3f,
    fixedNames: at(data, 2) & 0x3f,
    callbackOnly: (access & 0x40) !== 0,
    linkAuth: (access & 0x20) !== 0,
    ipmiMessaging: (access & 0x10) !== 0,
    privilegeLimit: access & 0x0f,
  };
}

export interface SetUserAccessOptions {
  readonly channel?: number;
  readonly callbackOnly?: boolean;
  readonly linkAuth?: boolean;
  readonly ipmiMessaging?: boolean;
  readonly privilege: PrivilegeName;
}

/** §22.26: bit 7 of byte 1 says "change the bits that follow". */
export function setUserAccess(uid: number, options: SetUserAccessOptions): CommandRequest {
  const flags = 0x80 | (options.callbackOnly ? 0x40 : 0) | (options.linkAuth ? 0x20 : 0) | ((options.ipmiMessaging ?? true) ? 0x10 : 0);
  return request('Set User Access', NetFn.APP, AppCmd.SET_USER_ACCESS, [
    flags | ((options.channel ?? CURRENT_CHANNEL) & 0x0f),
    uid & 0x3f,
    Privilege[options.privilege],
    0,
  ]);
}

/**
 * Set User Access with byte 1 bit 7 clear (§22.26): only the privilege limit changes, the
 * callback/link/messaging bits stay as they are (ipmitool's `user priv`). `level` is 1..5 or
 * 0x0F (no access).
 */
export function setUserPrivilege(uid: number, level: number, channel = CURRENT_CHANNEL): CommandRequest {
  if (!((level >= 1 && level <= 5) || level === Privilege['no-access'])) throw new RangeError(`privilege limit ${level} is not 1..5 or 15`);
  return request('Set User Access', NetFn.APP, AppCmd.SET_USER_ACCESS, [channel & 0x0f, uid & 0x3f, level, 0]);
}

const NAME_LENGTH = 16;

export function getUserName(uid: number): CommandRequest {
  return request('Get User Name', NetFn.APP, AppCmd.GET_USER_NAME, [uid & 0x3f]);
}

export function decodeUserName(data: Uint8Array): string {
  need(data, NAME_LENGTH, 'Get User Name');
  return unpad(data.subarray(0, NAME_LENGTH));
}

export function setUserName(uid: number, name: string): CommandRequest {
  return request('Set User Name', NetFn.APP, AppCmd.SET_USER_NAME, [uid & 0x3f, ...padded(name, NAME_LENGTH, 'user name')]);
}

/** Set User Password operations, §22.30 Table 22-32 byte 2. */
export const PasswordOp = { disable: 0, enable: 1, set: 2, test: 3 } as const;
export type PasswordOperation = keyof typeof PasswordOp;

const SHORT_PASSWORD = 16;
const LONG_PASSWORD = 20;
/** Byte 1 bit 7: the password field is 20 bytes (IPMI 2.0 only). */
const LONG_PASSWORD_FLAG = 0x80;

/** Completion codes of Set User Password "test" (§22.30): the password did not match, or had the wrong size. */
export const PASSWORD_TEST_FAILED = 0x80;
export const PASSWORD_WRONG_SIZE = 0x81;

/**
 * Disable/enable need no password; set/test carry it in a 16-byte field, or a 20-byte
 * field for longer passwords (as pyghmi does). Its bytes never reach an error message.
 */
export function setUserPassword(uid: number, op: PasswordOperation, password = ''): CommandRequest {
  const long = new TextEncoder().encode(password).length > SHORT_PASSWORD;
  const head = [(uid & 0x3f) | (long ? LONG_PASSWORD_FLAG : 0), PasswordOp[op]];
  const body = op === 'set' || op === 'test' ? padded(password, long ? LONG_PASSWORD : SHORT_PASSWORD, 'password') : [];
  return request('Set User Password', NetFn.APP, AppCmd.SET_USER_PASSWORD, [...head, ...body]);
}
