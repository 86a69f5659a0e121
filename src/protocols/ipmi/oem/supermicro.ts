// Supermicro BMCs (IANA 10876): the OEM commands of Supermicro's own documentation (FAQ
// entries for X9–X12 boards, also used by their SMCIPMITool): fan mode, NetFn 0x30 cmd 0x45,
// and the LAN interface mode, NetFn 0x30 cmd 0x70 sub 0x0C.
import { IpmiPayloadError, request } from '../commands/request.ts';
import type { Bmc } from '../client/bmc.ts';
import { GenericOemHandler } from './handler.ts';

export const SUPERMICRO_IANA = 10876;
/** Supermicro's OEM network function (IPMI v2.0 §5.1 allows 0x30–0x3F for OEM). */
const SMC_NETFN = 0x30;
const FAN_MODE_CMD = 0x45;
const FAN_MODE_GET = 0x00;
const FAN_MODE_SET = 0x01;
const OEM_CMD = 0x70;
const LAN_INTERFACE_SUB = 0x0c;
const LAN_INTERFACE_GET = 0x00;

export const FanMode = { standard: 0x00, full: 0x01, optimal: 0x02, 'heavy-io': 0x04 } as const;
export type FanModeName = keyof typeof FanMode;
export const LAN_INTERFACE_MODES = ['dedicated', 'shared', 'failover'] as const;
export type LanInterfaceMode = (typeof LAN_INTERFACE_MODES)[number];

export function getFanMode() {
  return request('Supermicro Get Fan Mode', SMC_NETFN, FAN_MODE_CMD, [FAN_MODE_GET]);
}

export function setFanMode(mode: FanModeName) {
  return request('Supermicro Set Fan Mode', SMC_NETFN, FAN_MODE_CMD, [FAN_MODE_SET, FanMode[mode]]);
}

export function getLanInterfaceMode() {
  return request('Supermicro Get LAN Interface', SMC_NETFN, OEM_CMD, [LAN_INTERFACE_SUB, LAN_INTERFACE_GET]);
}

export function decodeFanMode(data: Uint8Array): FanModeName {
  const code = data[0];
  const name = (Object.keys(FanMode) as FanModeName[]).find((k) => FanMode[k] === code);
  if (name === undefined) throw new IpmiPayloadError(`Supermicro fan mode: unknown code ${code}`);
  return name;
}

export function decodeLanInterfaceMode(data: Uint8Array): LanInterfaceMode {
  const mode = LAN_INTERFACE_MODES[data[0] ?? -1];
  if (mode === undefined) throw new IpmiPayloadError(`Supermicro LAN interface: unknown mode ${data[0]}`);
  return mode;
}

export class SupermicroOemHandler extends GenericOemHandler {
  override readonly name: string = 'supermicro';

  async fanMode(bmc: Bmc): Promise<FanModeName> {
    return decodeFanMode(await bmc.send(getFanMode()));
  }

  async setFanMode(bmc: Bmc, mode: FanModeName): Promise<void> {
    await bmc.send(setFanMode(mode));
  }

  async lanInterfaceMode(bmc: Bmc): Promise<LanInterfaceMode> {
    return decodeLanInterfaceMode(await bmc.send(getLanInterfaceMode()));
  }

  /** Fan mode and LAN interface, each left out when this board's firmware does not have the command. */
  override async details(bmc: Bmc): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const fan = await bmc.session.requestRaw(getFanMode());
    if (fan.completionCode === 0 && fan.data.length > 0) out.fanMode = decodeFanMode(fan.data);
    const lan = await bmc.session.requestRaw(getLanInterfaceMode());
    if (lan.completionCode === 0 && lan.data.length > 0) out.lanInterface = decodeLanInterfaceMode(lan.data);
    return out;
  }
}
