// A WS-Management client for AMT 6+ (DMTF DSP0226): power state through
// CIM_AssociatedPowerManagementService, power changes through CIM_PowerManagementService
// (DSP1027), and the one-time boot device through CIM_BootConfigSetting/CIM_BootService (DSP1012).
import { randomUUID } from 'node:crypto';
import {
  AMT_CLASSES, AMT_DEFAULTS, AMT_NAMES, BOOT_ROLE_IS_NEXT, CIM_CLASSES, POWER_ACTION_IDEMPOTENT, WSMAN_BOOT_SOURCES, WSMAN_PATH,
  WSMAN_POWER_ACTION, cimResourceUri, powerStateFromCim,
} from './constants.ts';
import type { AmtBootDevice, AmtPowerAction, AmtPowerState, CimClass } from './constants.ts';
import { AmtFailure, AmtProtocolError, AmtUnsupportedError } from './errors.ts';
import { DigestTransport } from './transport.ts';
import type { AmtEndpoint, TransportOptions } from './transport.ts';
import {
  buildEnumerate, buildGet, buildIdentify, buildInvoke, buildPull, parseAnswer, parseEnumerationBody,
  parseGetBody, parseIdentifyBody, parseInvokeBody,
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

  /** Every instance of `cimClass`: Enumerate, then Pull until EndOfSequence (DSP0226 §8). */
  async enumerate(cimClass: CimClass): Promise<CimInstance[]> {
    const request = this.#request(cimClass);
    const first = parseEnumerationBody(await this.#exchange(buildEnumerate(request, AMT_DEFAULTS.maxElements), `Enumerate ${cimClass}`, true), cimClass);
    const items = [...first.items];
    let context = first.context;
    for (let pulls = 0; context !== undefined && pulls < MAX_PULLS; pulls++) {
      const page = parseEnumerationBody(
        await this.#exchange(buildPull(this.#request(cimClass), context, AMT_DEFAULTS.maxElements), `Pull ${cimClass}`, true), cimClass);
      items.push(...page.items);
      context = page.context;
    }
    return items;
  }

  /** Calls a method and requires ReturnValue 0 (Ironic wsman_invoke); resolves to its outputs. */
  async invoke(cimClass: CimClass, method: string, selectors: Record<string, string>, parameters: readonly InvokeParameter[], idempotent: boolean): Promise<CimInstance> {
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
   * RequestPowerStateChange. The basic actions (on, off, reset, cycle) every AMT 6+ offers are
   * sent directly; the others are checked against PowerStatesSupported first.
   */
  async requestPowerStateChange(action: AmtPowerAction): Promise<void> {
    const state = WSMAN_POWER_ACTION[action];
    if (!['on', 'off', 'reset', 'cycle'].includes(action)) {
      const supported = await this.getSupportedPowerStates();
      if (!supported.includes(state)) {
        throw new AmtUnsupportedError(`AMT ${this.transport.label} does not offer power state ${state} (${action}); it supports ${supported.join(', ') || 'none'}`);
      }
    }
    await this.invoke(CIM_CLASSES.powerManagementService, 'RequestPowerStateChange',
      { Name: AMT_NAMES.powerManagementService },
      [
        { name: 'PowerState', value: String(state) },
        { name: 'ManagedElement', value: { resourceUri: cimResourceUri(CIM_CLASSES.computerSystem), selectors: { Name: AMT_NAMES.managedSystem } } },
      ],
      POWER_ACTION_IDEMPOTENT[action]);
  }

  /**
   * Makes `device` the source of the next boot only: ChangeBootOrder, then SetBootConfigRole
   * with Role 1 (IsNext). Send it just before powering on: AMT keeps only the first boot order
   * it is given (Ironic amt-pxe-driver spec). undefined clears the order (normal boot).
   */
  async setNextBoot(device: AmtBootDevice | undefined): Promise<void> {
    const bootConfig = { InstanceID: AMT_NAMES.bootConfiguration };
    if (device === undefined) {
      await this.invoke(CIM_CLASSES.bootConfigSetting, 'ChangeBootOrder', bootConfig, [], true);
      return;
    }
    const source = WSMAN_BOOT_SOURCES[device];
    if (source === undefined) throw new AmtUnsupportedError(`boot device '${device}' has no WS-Management boot source; AMT offers ${Object.keys(WSMAN_BOOT_SOURCES).join(', ')}`);
    await this.invoke(CIM_CLASSES.bootConfigSetting, 'ChangeBootOrder', bootConfig,
      [{ name: 'Source', value: { resourceUri: cimResourceUri(CIM_CLASSES.bootSourceSetting), selectors: { InstanceID: source } } }], true);
    await this.invoke(CIM_CLASSES.bootService, 'SetBootConfigRole', { Name: AMT_NAMES.bootService },
      [
        { name: 'BootConfigSetting', value: { resourceUri: cimResourceUri(CIM_CLASSES.bootConfigSetting), selectors: bootConfig } },
        { name: 'Role', value: String(BOOT_ROLE_IS_NEXT) },
      ], true);
  }

  #request(cimClass: CimClass, selectors?: Record<string, string>): WsmanRequest {
    return {
      to: this.transport.url(WSMAN_PATH), resourceUri: cimResourceUri(cimClass), messageId: this.#messageId(),
      operationTimeout: AMT_DEFAULTS.operationTimeout, ...(selectors ? { selectors } : {}),
    };
  }

  /** Sends one envelope; a fault becomes AmtFailure, anything not SOAP an AmtProtocolError. */
  async #exchange(envelope: string, what: string, idempotent: boolean): Promise<XmlNode | undefined> {
    const answer = await this.transport.post(WSMAN_PATH, envelope, { contentType: WSMAN_CONTENT_TYPE, idempotent });
    if (answer.status === 404) throw new AmtUnsupportedError(`AMT ${this.transport.label} has no WS-Management service (HTTP 404 on ${WSMAN_PATH}); it may be older than AMT 6`);
    let parsed;
    try {
      parsed = parseAnswer(answer.body);
    } catch (error) {
      throw new AmtProtocolError(`AMT ${this.transport.label} answered ${what} with HTTP ${answer.status} and no valid SOAP: ${(error as Error).message}`, answer.status, { cause: error });
    }
    if (parsed.kind === 'fault') {
      throw new AmtFailure(this.transport.label, what, { faultCode: parsed.subcode ?? parsed.code, reason: [parsed.reason, parsed.detail].filter(Boolean).join(': ') });
    }
    if (answer.status !== 200) throw new AmtProtocolError(`AMT ${this.transport.label} answered ${what} with HTTP ${answer.status}`, answer.status);
    return parsed.body;
  }
}
