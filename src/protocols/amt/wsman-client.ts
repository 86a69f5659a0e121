// A WS-Management client for AMT 6+ (DMTF DSP0226): power state through
// CIM_AssociatedPowerManagementService, power changes through CIM_PowerManagementService
// (DSP1027), and the one-time boot device through CIM_BootConfigSetting/CIM_BootService (DSP1012)
// with Intel's AMT_BootSettingData for BIOS setup and safe mode.
import { randomUUID } from 'node:crypto';
import { bootSettingsFor } from './boot-settings.ts';
import {
  AMT_CLASSES,
  AMT_DEFAULTS,
  AMT_NAMES,
  BOOT_ROLE_IS_NEXT,
  CIM_CLASSES,
  INTEL_IANA_OEM_NUMBER,
  POWER_ACTION_IDEMPOTENT,
  SOAP_SPECIAL_COMMAND_BIT,
  SOAP_SYSTEM_CAPABILITY_BIT,
  WSMAN_BOOT_CAPABILITIES,
  WSMAN_BOOT_REQUESTS,
  WSMAN_NORMAL_BOOT,
  WSMAN_PATH,
  WSMAN_POWER_ACTION,
  cimResourceUri,
  powerStateFromCim,
} from './constants.ts';
import type { AmtBootDevice, AmtPowerAction, AmtPowerState, CimClass } from './constants.ts';
import { AmtFailure, AmtProtocolError, AmtUnsupportedError } from './errors.ts';
import type { RemoteControlCapabilities } from './soap-client.ts';
import { DigestTransport } from './transport.ts';
import type { AmtEndpoint, TransportOptions } from './transport.ts';
import {
  buildEnumerate,
  buildGet,
  buildIdentify,
  buildInvoke,
  buildPull,
  buildPut,
  instanceXml,
  parseAnswer,
  parseEnumerationBody,
  parseGetBody,
  parseIdentifyBody,
  parseInvokeBody,
  parsePutBody,
} from './wsman-codec.ts';
import type { CimInstance, InvokeParameter, WsmanRequest } from './wsman-codec.ts';
import type { XmlNode } from './xml.ts';

export const WSMAN_CONTENT_TYPE = 'application/soap+xml;charset=UTF-8';
/** Enumerations stop after this many Pulls even if AMT never says EndOfSequence. */
const MAX_PULLS = 16;

export interface WsmanIdentity {
  readonly vendor: string;
  readonly version: string;
  readonly protocolVersion: string;
}

export class WsmanClient {
  readonly transport: DigestTransport;
  readonly #messageId: () => string;

  constructor(endpoint: AmtEndpoint, options: TransportOptions & { messageId?: () => string } = {}) {
    this.transport = new DigestTransport(endpoint, options);
    this.#messageId = options.messageId ?? (() => `uuid:${randomUUID()}`);
  }

  close(): void {
    this.transport.close();
  }

  /** WS-Man Identify (DSP0226 §11): vendor and "AMT x.y" version. */
  async identify(): Promise<WsmanIdentity> {
    const body = await this.#exchange(buildIdentify(), 'Identify', true);
    const identity = parseIdentifyBody(body);
    if (identity === undefined) throw new AmtProtocolError(`AMT ${this.transport.label} sent no IdentifyResponse`);
    return identity;
  }

  /** Get of the one instance of `cimClass` selected by `selectors`. */
  async get(cimClass: CimClass, selectors?: Record<string, string>): Promise<CimInstance> {
    const body = await this.#exchange(buildGet(this.#request(cimClass, selectors)), `Get ${cimClass}`, true);
    const instance = parseGetBody(body, cimClass);
    if (instance === undefined) throw new AmtProtocolError(`AMT ${this.transport.label} answered Get ${cimClass} without the instance`);
    return instance;
  }

  /**
   * WS-Transfer Put of a whole instance (DSP0226 §7.5), selected by its InstanceID as MeshCommander
   * does. Resolves to the instance AMT answers with, or undefined when it answers with none.
   * Idempotent: the same representation twice leaves the same resource.
   */
  async put(cimClass: CimClass, properties: CimInstance): Promise<CimInstance | undefined> {
    const id = properties['InstanceID'];
    const request = this.#request(cimClass, typeof id === 'string' ? { InstanceID: id } : undefined);
    const body = await this.#exchange(buildPut(request, instanceXml(cimClass, request.resourceUri, properties)), `Put ${cimClass}`, true);
    const answer = parsePutBody(body, cimClass);
    if (answer === undefined) throw new AmtProtocolError(`AMT ${this.transport.label} answered Put ${cimClass} with something other than the instance`);
    return answer.instance;
  }

  /** Every instance of `cimClass`: Enumerate, then Pull until EndOfSequence (DSP0226 §8). */
  async enumerate(cimClass: CimClass): Promise<CimInstance[]> {
    const request = this.#request(cimClass);
    const first = parseEnumerationBody(await this.#exchange(buildEnumerate(request, AMT_DEFAULTS.maxElements), `Enumerate ${cimClass}`, true), cimClass);
    const items = [...first.items];
    let context = first.context;
    for (let pulls = 0; context !== undefined && pulls < MAX_PULLS; pulls++) {
      const page = parseEnumerationBody(
        await this.#exchange(buildPull(this.#request(cimClass), context, AMT_DEFAULTS.maxElements), `Pull ${cimClass}`, true),
        cimClass,
      );
      items.push(...page.items);
      context = page.context;
    }
    return items;
  }

  /** Calls a method and requires ReturnValue 0 (Ironic wsman_invoke); resolves to its outputs. */
  async invoke(
    cimClass: CimClass,
    method: string,
    selectors: Record<string, string>,
    parameters: readonly InvokeParameter[],
    idempotent: boolean,
  ): Promise<CimInstance> {
    const what = `${cimClass}.${method}`;
    const body = await this.#exchange(buildInvoke(this.#request(cimClass, selectors), method, parameters), what, idempotent);
    const result = parseInvokeBody(body, method);
    if (result === undefined) throw new AmtProtocolError(`AMT ${this.transport.label} answered ${what} without ${method}_OUTPUT`);
    if (result.returnValue !== 0) throw new AmtFailure(this.transport.label, what, { returnValue: result.returnValue ?? -1 });
    return result.outputs;
  }

  /** Host and domain name AMT was given (AMT_GeneralSettings), as amttool shows them. */
  async getHostName(): Promise<{ hostname: string; domain: string }> {
    const settings = await this.get(AMT_CLASSES.generalSettings);
    const field = (name: string): string => {
      const value = settings[name];
      return typeof value === 'string' ? value : '';
    };
    return { hostname: field('HostName'), domain: field('DomainName') };
  }

  /** The machine's power state (CIM_AssociatedPowerManagementService.PowerState). */
  async getPowerState(): Promise<{ state: AmtPowerState; cim: number }> {
    const [service] = await this.enumerate(CIM_CLASSES.associatedPowerManagementService);
    const raw = service?.['PowerState'];
    const cim = typeof raw === 'string' ? Number.parseInt(raw, 10) : Number.NaN;
    if (!Number.isInteger(cim)) throw new AmtProtocolError(`AMT ${this.transport.label} reported no PowerState`);
    return { state: powerStateFromCim(cim), cim };
  }

  /** The CIM power states this AMT accepts (CIM_PowerManagementCapabilities.PowerStatesSupported). */
  async getSupportedPowerStates(): Promise<number[]> {
    const [capabilities] = await this.enumerate(CIM_CLASSES.powerManagementCapabilities);
    const raw = capabilities?.['PowerStatesSupported'];
    const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw as string];
    return list.map((v) => Number.parseInt(v, 10)).filter((v) => Number.isInteger(v));
  }

  /**
   * What SOAP's GetRemoteControlCapabilities says, from WS-Man's own classes, in SOAP's bits (as
   * amttool reads them): AMT_BootCapabilities' IDER, SOL, BIOSReflash, BIOSSetup, BIOSPause and
   * Force*Boot flags, and the basic power actions of PowerStatesSupported. WS-Man has no
   * SystemFirmwareCapabilities; it is 0, as on every AMT seen.
   */
  async getRemoteControlCapabilities(): Promise<RemoteControlCapabilities> {
    const boot = await this.get(AMT_CLASSES.bootCapabilities);
    const has = (name: string): boolean => typeof boot[name] === 'string' && (boot[name] as string).trim().toLowerCase() === 'true';
    const bits = (names: ReadonlyArray<readonly [number, string]>): number => names.reduce((v, [bit, name]) => v | (has(name) ? bit : 0), 0);
    const states = new Set(await this.getSupportedPowerStates());
    return {
      ianaOemNumber: INTEL_IANA_OEM_NUMBER,
      oemDefinedCapabilities: bits([
        [0x01, 'IDER'],
        [0x02, 'SOL'],
        [0x04, 'BIOSReflash'],
        [0x08, WSMAN_BOOT_CAPABILITIES.bios],
        [0x10, 'BIOSPause'],
      ]),
      specialCommandsSupported: bits(
        (['pxe', 'hd', 'hdsafe', 'diag', 'cd'] as const).map((d) => [SOAP_SPECIAL_COMMAND_BIT[d], WSMAN_BOOT_CAPABILITIES[d]] as const),
      ),
      systemCapabilitiesSupported: (['cycle', 'off', 'reset', 'on'] as const).reduce(
        (v, a) => v | (states.has(WSMAN_POWER_ACTION[a]) ? SOAP_SYSTEM_CAPABILITY_BIT[a] : 0),
        0,
      ),
      systemFirmwareCapabilities: 0,
    };
  }

  /**
   * RequestPowerStateChange. The basic actions (on, off, reset, cycle) every AMT 6+ offers are
   * sent directly; the others are checked against PowerStatesSupported first.
   */
  async requestPowerStateChange(action: AmtPowerAction): Promise<void> {
    const state = WSMAN_POWER_ACTION[action];
    if (!['on', 'off', 'reset', 'cycle'].includes(action)) {
      const supported = await this.getSupportedPowerStates();
      if (!supported.includes(state)) {
        throw new AmtUnsupportedError(
          `AMT ${this.transport.label} does not offer power state ${state} (${action}); it supports ${supported.join(', ') || 'none'}`,
        );
      }
    }
    await this.invoke(
      CIM_CLASSES.powerManagementService,
      'RequestPowerStateChange',
      { Name: AMT_NAMES.powerManagementService },
      [
        { name: 'PowerState', value: String(state) },
        { name: 'ManagedElement', value: { resourceUri: cimResourceUri(CIM_CLASSES.computerSystem), selectors: { Name: AMT_NAMES.managedSystem } } },
      ],
      POWER_ACTION_IDEMPOTENT[action],
    );
  }

  /**
   * Sets up the next boot only, just before the power action that boots: AMT keeps only the
   * first boot order it is given (Ironic amt-pxe-driver spec). In order:
   * 0. for a device, Get AMT_BootCapabilities: one the BIOS does not offer is AMT_UNSUPPORTED
   *    here, where AMT would accept the request and boot something else;
   * 1. Get AMT_BootSettingData;
   * 2. with no boot source (bios, normal boot), ChangeBootOrder with none first: BIOSSetup may be
   *    set only while no source is, and some AMT versions keep the last one (MeshCentral);
   * 3. Put it back with BIOSSetup and UseSafeMode as asked and the other one-boot options reset
   *    (skipped when nothing changes);
   * 4. ChangeBootOrder to the device's source, if it has one;
   * 5. SetBootConfigRole(IsNext), unless this is a normal boot.
   * undefined asks for a normal boot: no source, and no BIOSSetup or UseSafeMode left from before.
   */
  async setNextBoot(device: AmtBootDevice | undefined): Promise<void> {
    const request = device === undefined ? WSMAN_NORMAL_BOOT : WSMAN_BOOT_REQUESTS[device];
    if (device !== undefined) {
      const capability = WSMAN_BOOT_CAPABILITIES[device];
      const offered = (await this.get(AMT_CLASSES.bootCapabilities))[capability];
      // Absent means this AMT predates the property: send the request and let AMT decide.
      if (typeof offered === 'string' && offered.trim().toLowerCase() === 'false') {
        throw new AmtUnsupportedError(
          `AMT ${this.transport.label} cannot boot '${device}': its BIOS does not offer it (AMT_BootCapabilities.${capability} is false)`,
        );
      }
    }
    const settings = bootSettingsFor(await this.get(AMT_CLASSES.bootSettingData), request, this.transport.label);
    if (request.source === undefined) await this.#changeBootOrder(undefined);
    if (settings.changed) await this.put(AMT_CLASSES.bootSettingData, settings.properties);
    if (request.source !== undefined) await this.#changeBootOrder(request.source);
    if (device === undefined) return;
    await this.invoke(
      CIM_CLASSES.bootService,
      'SetBootConfigRole',
      { Name: AMT_NAMES.bootService },
      [
        {
          name: 'BootConfigSetting',
          value: { resourceUri: cimResourceUri(CIM_CLASSES.bootConfigSetting), selectors: { InstanceID: AMT_NAMES.bootConfiguration } },
        },
        { name: 'Role', value: String(BOOT_ROLE_IS_NEXT) },
      ],
      true,
    );
  }

  /** ChangeBootOrder to one CIM_BootSourceSetting, or to none (DSP1012 §7.3.1: no Source clears the order). */
  async #changeBootOrder(source: string | undefined): Promise<void> {
    const parameters: InvokeParameter[] =
      source === undefined
        ? []
        : [{ name: 'Source', value: { resourceUri: cimResourceUri(CIM_CLASSES.bootSourceSetting), selectors: { InstanceID: source } } }];
    await this.invoke(CIM_CLASSES.bootConfigSetting, 'ChangeBootOrder', { InstanceID: AMT_NAMES.bootConfiguration }, parameters, true);
  }

  #request(cimClass: CimClass, selectors?: Record<string, string>): WsmanRequest {
    return {
      to: this.transport.url(WSMAN_PATH),
      resourceUri: cimResourceUri(cimClass),
      messageId: this.#messageId(),
      operationTimeout: AMT_DEFAULTS.operationTimeout,
      ...(selectors ? { selectors } : {}),
    };
  }

  /** Sends one envelope; a fault becomes AmtFailure, anything not SOAP an AmtProtocolError. */
  async #exchange(envelope: string, what: string, idempotent: boolean): Promise<XmlNode | undefined> {
    const answer = await this.transport.post(WSMAN_PATH, envelope, { contentType: WSMAN_CONTENT_TYPE, idempotent });
    if (answer.status === 404)
      throw new AmtUnsupportedError(`AMT ${this.transport.label} has no WS-Management service (HTTP 404 on ${WSMAN_PATH}); it may be older than AMT 6`);
    let parsed;
    try {
      parsed = parseAnswer(answer.body);
    } catch (error) {
      throw new AmtProtocolError(
        `AMT ${this.transport.label} answered ${what} with HTTP ${answer.status} and no valid SOAP: ${(error as Error).message}`,
        answer.status,
        { cause: error },
      );
    }
    if (parsed.kind === 'fault') {
      throw new AmtFailure(this.transport.label, what, {
        faultCode: parsed.subcode ?? parsed.code,
        reason: [parsed.reason, parsed.detail].filter(Boolean).join(': '),
      });
    }
    if (answer.status !== 200) throw new AmtProtocolError(`AMT ${this.transport.label} answered ${what} with HTTP ${answer.status}`, answer.status);
    return parsed.body;
  }
}
