// The command API of one BMC (pyghmi's Command): power, boot device, identity, users,
// LAN configuration and raw requests over a Session. Sensors, SEL and FRU are in
// inventory.ts. Each call says whether it may be resent (see commands/request.ts).
import {
  chassisControl,
  decodeBootFlags,
  decodeChassisStatus,
  decodeSystemBootOptions,
  encodeBootFlags,
  getChassisStatus,
  getSystemBootOptions,
  setSystemBootOptions,
  BootParam,
  KEEP_BOOT_FLAGS_PAST_TIMEOUT,
  chassisIdentify,
} from '../commands/chassis.ts';
import type { BootDeviceName, BootFlags, BootOptionsResponse, ChassisStatus, PowerAction } from '../commands/chassis.ts';
import { bmcReset, decodeDeviceId, decodeGuid, getDeviceId, getSystemGuid } from '../commands/device.ts';
import type { DeviceId, ResetKind } from '../commands/device.ts';
import {
  decodeUserAccess,
  decodeUserName,
  getUserAccess,
  getUserName,
  setUserAccess,
  setUserName,
  setUserPassword,
  PASSWORD_TEST_FAILED,
  PASSWORD_WRONG_SIZE,
} from '../commands/users.ts';
import type { SetUserAccessOptions, UserAccess } from '../commands/users.ts';
import { decodeLanConfig, getLanConfig, setLanConfig } from '../commands/lan.ts';
import { request } from '../commands/request.ts';
import type { CommandRequest } from '../commands/request.ts';
import { AppCmd, CompletionCode, NetFn } from '../constants.ts';
import { IpmiCommandError, IpmiUncertainError } from './errors.ts';
import type { RawResponse, Session } from './session.ts';
import { Inventory } from './inventory.ts';
import { oemHandler } from '../oem/lookup.ts';
import type { GenericOemHandler } from '../oem/handler.ts';

/** Power-state polls of setPower({wait}) and their spacing (pyghmi polls up to 300 times). */
export const DEFAULT_POWER_WAIT_MS = 300_000;
export const DEFAULT_POWER_POLL_MS = 1000;

export type PowerState = 'on' | 'off';

export interface SetPowerOptions {
  /** Wait until the machine reaches the state (on/off/soft only); true uses DEFAULT_POWER_WAIT_MS. */
  readonly wait?: boolean | number;
}

export interface SetPowerResult {
  readonly state: PowerState | 'unknown';
  /** False when the machine already was in the requested state, so nothing was sent. */
  readonly changed: boolean;
}

/** The state each action leads to, where one is known. */
const TARGET: Partial<Record<PowerAction, PowerState>> = { on: 'on', off: 'off', soft: 'off' };

export class Bmc {
  readonly session: Session;
  readonly inventory: Inventory;

  constructor(session: Session) {
    this.session = session;
    this.inventory = new Inventory(session);
  }

  get host(): string {
    return this.session.host;
  }

  send(req: CommandRequest): Promise<Uint8Array> {
    return this.session.request(req);
  }

  /** Any command; the completion code is returned, not thrown (ipmitool raw prints it). */
  raw(netFn: number, cmd: number, data: ArrayLike<number> = [], idempotent = false): Promise<RawResponse> {
    return this.session.requestRaw(request('raw command', netFn, cmd, data, idempotent));
  }

  async deviceId(): Promise<DeviceId> {
    const cached = this.session.cache.get('deviceId') as DeviceId | undefined;
    if (cached) return cached;
    const id = decodeDeviceId(await this.send(getDeviceId()));
    this.session.cache.set('deviceId', id);
    return id;
  }

  /** The vendor's OEM handler, chosen by the IANA number of Get Device ID (oem/lookup.ts). */
  async oem(): Promise<GenericOemHandler> {
    return oemHandler(this);
  }

  async guid(): Promise<string> {
    return decodeGuid(await this.send(getSystemGuid()));
  }

  async chassisStatus(): Promise<ChassisStatus> {
    return decodeChassisStatus(await this.send(getChassisStatus()));
  }

  async getPowerState(): Promise<PowerState> {
    return (await this.chassisStatus()).powerOn ? 'on' : 'off';
  }

  /**
   * Chassis Control (§28.3), sent at most once. For on/off/soft the state is read first and
   * nothing is sent when it already holds (as pyghmi); if the answer is lost, the state is
   * read again to learn whether the command took effect instead of resending it.
   */
  async setPower(action: PowerAction, options: SetPowerOptions = {}): Promise<SetPowerResult> {
    const target = TARGET[action];
    if (target && (await this.getPowerState()) === target) return { state: target, changed: false };
    try {
      await this.send(chassisControl(action));
    } catch (error) {
      if (!(error instanceof IpmiUncertainError) || !target) throw error;
      if ((await this.getPowerState()) !== target && !options.wait) throw error;
    }
    if (!target) return { state: 'unknown', changed: true };
    if (!options.wait) return { state: target, changed: true };
    const limit = typeof options.wait === 'number' ? options.wait : DEFAULT_POWER_WAIT_MS;
    const deadline = Date.now() + limit;
    for (;;) {
      const state = await this.getPowerState();
      if (state === target) return { state, changed: true };
      if (Date.now() >= deadline) throw new IpmiUncertainError(this.host, `Chassis Control ${action}: still ${state} after ${limit} ms`);
      await new Promise((resolve) => setTimeout(resolve, DEFAULT_POWER_POLL_MS));
    }
  }

  async identify(seconds: number | 'force'): Promise<void> {
    await this.send(chassisIdentify(seconds));
  }

  async getBootDevice(): Promise<BootFlags> {
    const res = decodeSystemBootOptions(await this.send(getSystemBootOptions(BootParam.bootFlags)));
    return decodeBootFlags(res.data);
  }

  /**
   * Sets boot flags (§28.12 param 5) after param 3 tells the BMC to keep them past its 60 s
   * timeout (pyghmi's order). A BMC that does not know param 3 (0x80/0xC1/0xCC) is tolerated.
   */
  async setBootDevice(device: BootDeviceName, options: { persistent?: boolean; efi?: boolean; clearCmos?: boolean } = {}): Promise<void> {
    try {
      await this.send(setSystemBootOptions(BootParam.bootFlagValidBitClearing, KEEP_BOOT_FLAGS_PAST_TIMEOUT));
    } catch (error) {
      if (!(error instanceof IpmiCommandError)) throw error;
    }
    await this.send(setSystemBootOptions(BootParam.bootFlags, encodeBootFlags(device, options)));
  }

  /** Raw boot option parameter (ipmitool chassis bootparam get N). */
  async getBootParam(param: number): Promise<BootOptionsResponse> {
    return decodeSystemBootOptions(await this.send(getSystemBootOptions(param)));
  }

  async bmcReset(kind: ResetKind): Promise<void> {
    await this.send(bmcReset(kind));
  }

  // Users (§22.26–22.30)

  async userAccess(uid: number, channel?: number): Promise<UserAccess> {
    return decodeUserAccess(await this.send(getUserAccess(uid, channel)));
  }

  async userName(uid: number): Promise<string> {
    try {
      return decodeUserName(await this.send(getUserName(uid)));
    } catch (error) {
      // An unused slot has no name: some BMCs say "not present" rather than returning zeros.
      if (
        error instanceof IpmiCommandError &&
        (error.completionCode === CompletionCode.NOT_PRESENT || error.completionCode === CompletionCode.INVALID_DATA_FIELD)
      )
        return '';
      throw error;
    }
  }

  /** Every user slot of the channel: id, name and access, as ipmitool user list. */
  async listUsers(channel?: number): Promise<{ id: number; name: string; access: UserAccess }[]> {
    const first = await this.userAccess(1, channel);
    const out = [{ id: 1, name: await this.userName(1), access: first }];
    for (let id = 2; id <= first.maxUsers; id++) out.push({ id, name: await this.userName(id), access: await this.userAccess(id, channel) });
    return out;
  }

  async setUserName(uid: number, name: string): Promise<void> {
    await this.send(setUserName(uid, name));
  }

  async setUserAccess(uid: number, options: SetUserAccessOptions): Promise<void> {
    await this.send(setUserAccess(uid, options));
  }

  async setUserPassword(uid: number, password: string): Promise<void> {
    await this.send(setUserPassword(uid, 'set', password));
  }

  async enableUser(uid: number, enable: boolean): Promise<void> {
    await this.send(setUserPassword(uid, enable ? 'enable' : 'disable'));
  }

  /** Set User Password "test" (§22.30): true when the password matches. */
  async testUserPassword(uid: number, password: string): Promise<boolean> {
    const res = await this.session.requestRaw(setUserPassword(uid, 'test', password));
    if (res.completionCode === CompletionCode.OK) return true;
    if (res.completionCode === PASSWORD_TEST_FAILED || res.completionCode === PASSWORD_WRONG_SIZE) return false;
    throw new IpmiCommandError(this.host, 'Set User Password (test)', NetFn.APP, AppCmd.SET_USER_PASSWORD, res.completionCode);
  }

  // LAN configuration (§23)

  async lanParam(param: number, channel?: number, set = 0, block = 0): Promise<Uint8Array> {
    return decodeLanConfig(await this.send(getLanConfig(param, channel, set, block)));
  }

  /** Parameter value, or undefined when the BMC does not support it (0x80). */
  async lanParamOptional(param: number, channel?: number): Promise<Uint8Array | undefined> {
    const res = await this.session.requestRaw(getLanConfig(param, channel));
    if (res.completionCode !== CompletionCode.OK) return undefined;
    return decodeLanConfig(res.data);
  }

  async setLanParam(param: number, value: ArrayLike<number>, channel?: number): Promise<void> {
    await this.send(setLanConfig(param, value, channel));
  }
}
