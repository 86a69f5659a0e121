// The legacy SOAP services amttool calls (RemoteControl, SecurityAdministration,
// NetworkAdministration; Intel AMT SDK), answered from the emulator's handler.
import { INTEL_IANA_OEM_NUMBER, PT_STATUS, SOAP_POWER_STATE, SOAP_REMOTE_COMMAND, SOAP_SPECIAL_COMMAND, SOAP_SPECIAL_COMMAND_BIT } from '../constants.ts';
import type { AmtBootDevice, AmtPowerAction, AmtPowerState, SoapService } from '../constants.ts';
import { buildSoapFault, buildSoapResponse, parseSoapRequest } from '../soap-codec.ts';
import type { SoapFields } from '../soap-codec.ts';
import type { BootConfig } from './boot-config.ts';
import type { AmtHandler, PowerChangeResult } from './handler.ts';

export interface SoapIdentity {
  readonly amtVersion: string;
  readonly hostname: string;
  readonly domain: string;
}

/** GetRemoteControlCapabilities: IDER SOL BiosReflash BiosPause; all four commands (amttool's bit names). */
const CAPABILITIES = { oemDefined: 0x17, system: 0x0f, firmware: 0 } as const;
/** The bit of each boot device: BiosSetup in OemDefinedCapabilities, the rest in SpecialCommandsSupported. */
const OEM_BIOS_SETUP = 0x08;

const COMMAND_ACTION: Readonly<Record<number, AmtPowerAction>> = {
  [SOAP_REMOTE_COMMAND.reset]: 'reset',
  [SOAP_REMOTE_COMMAND.powerup]: 'on',
  [SOAP_REMOTE_COMMAND.powerdown]: 'off',
  [SOAP_REMOTE_COMMAND.powercycle]: 'cycle',
};

const SPECIAL_DEVICE = new Map<number, AmtBootDevice | 'nop'>(
  Object.entries(SOAP_SPECIAL_COMMAND).map(([name, value]) => [value, name as AmtBootDevice | 'nop']),
);

function soapPowerState(power: AmtPowerState): number {
  switch (power) {
    case 'on':
      return SOAP_POWER_STATE.s0;
    case 'sleep':
      return SOAP_POWER_STATE.s3;
    case 'hibernate':
      return SOAP_POWER_STATE.s4;
    case 'off':
      return SOAP_POWER_STATE.s5;
    case 'unknown':
      return SOAP_POWER_STATE.off;
  }
}

const RESULT_STATUS: Readonly<Record<PowerChangeResult, number>> = {
  ok: PT_STATUS.success,
  'not-permitted': PT_STATUS.notPermitted,
  unsupported: PT_STATUS.invalidCommand,
};

export interface SoapReply {
  readonly status: number;
  readonly body: string;
}

export interface SoapContext {
  readonly handler: AmtHandler;
  readonly boot: BootConfig;
  readonly identity: SoapIdentity;
  readonly maxChars: number;
}

/** Answers one SOAP request to `service`; malformed input gets a Client fault, a failing handler a Server fault. */
export async function answerSoap(service: SoapService, xml: string, ctx: SoapContext): Promise<SoapReply> {
  try {
    return await answer(service, xml, ctx);
  } catch (error) {
    return { status: 500, body: buildSoapFault(service, 'Server', `the machine behind this AMT failed: ${(error as Error).message}`) };
  }
}

async function answer(service: SoapService, xml: string, ctx: SoapContext): Promise<SoapReply> {
  let call;
  try {
    call = parseSoapRequest(xml, ctx.maxChars);
  } catch (error) {
    return { status: 500, body: buildSoapFault(service, 'Client', (error as Error).message) };
  }
  const reply = (outputs: SoapFields): SoapReply => ({ status: 200, body: buildSoapResponse(service, call.method, outputs) });
  const key = `${service}#${call.method}`;
  switch (key) {
    case 'SecurityAdministrationService#GetCoreVersion':
      return reply([
        ['StatusCode', PT_STATUS.success],
        ['Version', ctx.identity.amtVersion],
      ]);
    case 'NetworkAdministrationService#GetHostName':
      return reply([
        ['StatusCode', PT_STATUS.success],
        ['HostName', ctx.identity.hostname],
      ]);
    case 'NetworkAdministrationService#GetDomainName':
      return reply([
        ['StatusCode', PT_STATUS.success],
        ['DomainName', ctx.identity.domain],
      ]);
    case 'RemoteControlService#GetSystemPowerState':
      return reply([
        ['Status', PT_STATUS.success],
        ['SystemPowerState', soapPowerState(await ctx.handler.getPowerState())],
      ]);
    case 'RemoteControlService#GetRemoteControlCapabilities':
      return reply([
        ['Status', PT_STATUS.success],
        ['IanaOemNumber', INTEL_IANA_OEM_NUMBER],
        ['OemDefinedCapabilities', CAPABILITIES.oemDefined | (ctx.boot.offered.has('bios') ? OEM_BIOS_SETUP : 0)],
        [
          'SpecialCommandsSupported',
          Object.entries(SOAP_SPECIAL_COMMAND_BIT).reduce((bits, [d, bit]) => bits | (ctx.boot.offered.has(d as AmtBootDevice) ? bit : 0), 0),
        ],
        ['SystemCapabilitiesSupported', CAPABILITIES.system],
        ['SystemFirmwareCapabilities', CAPABILITIES.firmware],
      ]);
    case 'RemoteControlService#RemoteControl':
      return reply([['Status', await remoteControl(call.params, ctx.handler, ctx.boot)]]);
    default:
      return { status: 500, body: buildSoapFault(service, 'Client', `unknown method ${call.method} of ${service}`) };
  }
}

const toInt = (value: string | undefined): number | undefined => (value !== undefined && /^\s*\d+\s*$/.test(value) ? Number.parseInt(value, 10) : undefined);

/** RemoteControl(Command, IanaOemNumber, SpecialCommand?, OEMparameters?) → PT_STATUS. */
async function remoteControl(params: Readonly<Record<string, string>>, handler: AmtHandler, boot: BootConfig): Promise<number> {
  const command = toInt(params['Command']);
  const action = command === undefined ? undefined : COMMAND_ACTION[command];
  if (action === undefined) return PT_STATUS.invalidCommand;
  if (toInt(params['IanaOemNumber']) !== INTEL_IANA_OEM_NUMBER) return PT_STATUS.unsupportedOemNumber;
  let device: AmtBootDevice | undefined = boot.pending;
  if (params['SpecialCommand'] !== undefined) {
    const special = SPECIAL_DEVICE.get(toInt(params['SpecialCommand']) ?? -1);
    if (special === undefined) return PT_STATUS.invalidSpecialCommand;
    device = special === 'nop' ? undefined : special;
    if (device !== undefined && !boot.offered.has(device)) return PT_STATUS.unsupportedBootOption;
  }
  const result = await handler.setPowerState(action, device);
  if (result === 'ok' && action !== 'off') boot.consume();
  return RESULT_STATUS[result];
}
