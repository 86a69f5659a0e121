// A client of the legacy AMT SOAP services (AMT 1.0-8.x), speaking what amttool speaks:
// RemoteControlService, SecurityAdministrationService, NetworkAdministrationService.
import {
  INTEL_IANA_OEM_NUMBER,
  PT_STATUS,
  SOAP_OEM_PARAMETERS_BIOS,
  SOAP_REMOTE_COMMAND,
  SOAP_SERVICES,
  SOAP_SPECIAL_COMMAND,
  powerStateFromSoap,
  ptStatusMessage,
} from './constants.ts';
import type { AmtBootDevice, AmtPowerState, SoapRemoteCommand, SoapService } from './constants.ts';
import { AmtFailure, AmtProtocolError, AmtUnsupportedError } from './errors.ts';
import { SOAP_CONTENT_TYPE, buildSoapRequest, parseSoapResponse, soapAction } from './soap-codec.ts';
import type { SoapFields } from './soap-codec.ts';
import { DigestTransport } from './transport.ts';
import type { AmtEndpoint, TransportOptions } from './transport.ts';

export interface RemoteControlCapabilities {
  readonly ianaOemNumber: number;
  readonly oemDefinedCapabilities: number;
  readonly specialCommandsSupported: number;
  readonly systemCapabilitiesSupported: number;
  readonly systemFirmwareCapabilities: number;
}

export class SoapClient {
  readonly transport: DigestTransport;

  constructor(endpoint: AmtEndpoint, options: TransportOptions = {}) {
    this.transport = new DigestTransport(endpoint, options);
  }

  close(): void {
    this.transport.close();
  }

  /**
   * Calls `method` and returns its outputs in order; the first is the PT_STATUS, which must be 0
   * (for RemoteControl the caller decides, see remoteControl).
   */
  async call(
    service: SoapService,
    method: string,
    params: SoapFields,
    idempotent: boolean,
  ): Promise<{ status: number; outputs: Record<string, string>; order: readonly string[] }> {
    const answer = await this.transport.post(`/${service}`, buildSoapRequest(service, method, params), {
      contentType: SOAP_CONTENT_TYPE,
      soapAction: soapAction(service, method),
      idempotent,
    });
    if (answer.status === 404)
      throw new AmtUnsupportedError(`AMT ${this.transport.label} has no ${service} (HTTP 404); AMT 9 and later have only WS-Management`);
    let parsed;
    try {
      parsed = parseSoapResponse(answer.body);
    } catch (error) {
      throw new AmtProtocolError(
        `AMT ${this.transport.label} answered ${method} with HTTP ${answer.status} and no valid SOAP: ${(error as Error).message}`,
        answer.status,
        { cause: error },
      );
    }
    if (parsed.kind === 'fault') throw new AmtFailure(this.transport.label, method, { faultCode: parsed.faultcode, reason: parsed.faultstring });
    const first = parsed.order[0];
    const status = first === undefined ? Number.NaN : Number.parseInt(parsed.fields[first] ?? '', 10);
    if (!Number.isInteger(status)) throw new AmtProtocolError(`AMT ${this.transport.label} answered ${method} without a status`, answer.status);
    return { status, outputs: { ...parsed.fields }, order: parsed.order };
  }

  async #query(service: SoapService, method: string, field: string): Promise<string> {
    const { status, outputs } = await this.call(service, method, [], true);
    if (status !== PT_STATUS.success) throw new AmtFailure(this.transport.label, method, { returnValue: status, reason: ptStatusMessage(status) });
    const value = outputs[field];
    if (value === undefined) throw new AmtProtocolError(`AMT ${this.transport.label} answered ${method} without ${field}`);
    return value;
  }

  /** AMT firmware version, e.g. "6.2.14" (SecurityAdministration GetCoreVersion). */
  getCoreVersion(): Promise<string> {
    return this.#query(SOAP_SERVICES.securityAdministration, 'GetCoreVersion', 'Version');
  }
  getHostName(): Promise<string> {
    return this.#query(SOAP_SERVICES.networkAdministration, 'GetHostName', 'HostName');
  }
  getDomainName(): Promise<string> {
    return this.#query(SOAP_SERVICES.networkAdministration, 'GetDomainName', 'DomainName');
  }

  /** SystemPowerState: the ACPI S-state in its low nibble. */
  async getSystemPowerState(): Promise<{ state: AmtPowerState; raw: number }> {
    const raw = Number.parseInt(await this.#query(SOAP_SERVICES.remoteControl, 'GetSystemPowerState', 'SystemPowerState'), 10);
    if (!Number.isInteger(raw)) throw new AmtProtocolError(`AMT ${this.transport.label} sent a SystemPowerState that is not a number`);
    return { state: powerStateFromSoap(raw), raw };
  }

  async getRemoteControlCapabilities(): Promise<RemoteControlCapabilities> {
    const { status, outputs } = await this.call(SOAP_SERVICES.remoteControl, 'GetRemoteControlCapabilities', [], true);
    if (status !== PT_STATUS.success)
      throw new AmtFailure(this.transport.label, 'GetRemoteControlCapabilities', { returnValue: status, reason: ptStatusMessage(status) });
    const n = (name: string): number => Number.parseInt(outputs[name] ?? '0', 10) || 0;
    return {
      ianaOemNumber: n('IanaOemNumber'),
      oemDefinedCapabilities: n('OemDefinedCapabilities'),
      specialCommandsSupported: n('SpecialCommandsSupported'),
      systemCapabilitiesSupported: n('SystemCapabilitiesSupported'),
      systemFirmwareCapabilities: n('SystemFirmwareCapabilities'),
    };
  }

  /**
   * RemoteControl(Command, IanaOemNumber 343, SpecialCommand, OEMparameters), exactly as
   * amttool builds it. Resolves to the PT_STATUS; throws AmtFailure when it is not 0.
   */
  async remoteControl(command: SoapRemoteCommand, bootDevice?: AmtBootDevice): Promise<number> {
    const params: Array<readonly [string, number]> = [
      ['Command', SOAP_REMOTE_COMMAND[command]],
      ['IanaOemNumber', INTEL_IANA_OEM_NUMBER],
    ];
    if (bootDevice !== undefined) {
      params.push(['SpecialCommand', SOAP_SPECIAL_COMMAND[bootDevice]]);
      if (bootDevice === 'bios') params.push(['OEMparameters', SOAP_OEM_PARAMETERS_BIOS]);
    }
    // powerup and powerdown are idempotent; reset and powercycle are not resent once they may have arrived.
    const idempotent = command === 'powerup' || command === 'powerdown';
    const { status } = await this.call(SOAP_SERVICES.remoteControl, 'RemoteControl', params, idempotent);
    if (status !== PT_STATUS.success)
      throw new AmtFailure(this.transport.label, `RemoteControl ${command}`, { returnValue: status, reason: ptStatusMessage(status) });
    return status;
  }
}
