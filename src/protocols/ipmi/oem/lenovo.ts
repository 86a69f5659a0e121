// Lenovo and IBM System x BMCs (IANA 19046 Lenovo, 20301 IBM, 7154 as pyghmi's oem/lookup.py
// maps them): which management controller answers — IMM or XCC — from the OEM probe
// NetFn 0x3A cmd 0xC1 that pyghmi's oem/lenovo/handler.py (has_imm / has_xcc) uses.
import { IpmiPayloadError, request } from '../commands/request.ts';
import type { Bmc } from '../client/bmc.ts';
import { GenericOemHandler } from './handler.ts';

export const LENOVO_IANA = 19046;
export const IBM_IANA = 20301;
/** The IPMI forum's number, which some ThinkServer firmware reports; pyghmi sends it to the Lenovo handler too. */
export const IPMI_FORUM_IANA = 7154;
/** Lenovo's OEM network function (IPMI v2.0 §5.1: 0x30–0x3F are OEM). */
const LENOVO_NETFN = 0x3a;
const CONTROLLER_PROBE_CMD = 0xc1;
const PROBE_LENGTH = 3;
/** Byte 2 of the probe answer: bit 0 IMM, bit 4 XCC (pyghmi has_imm / has_xcc). */
const IMM_BIT = 0x01;
const XCC_BIT = 0x10;

export type LenovoController = 'xcc' | 'imm' | 'other';

export function controllerProbe() {
  return request('Lenovo controller probe', LENOVO_NETFN, CONTROLLER_PROBE_CMD);
}

export function decodeControllerProbe(data: Uint8Array): LenovoController {
  if (data.length !== PROBE_LENGTH) throw new IpmiPayloadError(`Lenovo controller probe: ${data.length} bytes, expected ${PROBE_LENGTH}`);
  const flags = data[1] ?? 0;
  if (flags & XCC_BIT) return 'xcc';
  if (flags & IMM_BIT) return 'imm';
  return 'other';
}

export class LenovoOemHandler extends GenericOemHandler {
  override readonly name: string = 'lenovo';

  /** IMM, XCC, or another controller (ThinkServer TSM/AMI): 'other' also when the probe is refused, as pyghmi treats it. */
  async controller(bmc: Bmc): Promise<LenovoController> {
    const res = await bmc.session.requestRaw(controllerProbe());
    if (res.completionCode !== 0 || res.data.length !== PROBE_LENGTH) return 'other';
    return decodeControllerProbe(res.data);
  }

  override async details(bmc: Bmc): Promise<Record<string, string>> {
    return { controller: await this.controller(bmc) };
  }
}
