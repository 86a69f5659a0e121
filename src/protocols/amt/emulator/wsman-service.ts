// The WS-Management face of the emulator: Identify, Get, Put of AMT_BootSettingData,
// Enumerate/Pull and the power and boot methods an AMT 6+ machine answers (DSP0226; DSP1027
// Power State Management Profile; DSP1012 Boot Control Profile), backed by the emulator's handler.
import {
  ACTIONS,
  AMT_CLASSES,
  AMT_NAMES,
  BOOT_DEVICES,
  CIM_CLASSES,
  CIM_POWER_STATE,
  WSMAN_BOOT_CAPABILITIES,
  WSMAN_BOOT_SOURCES,
  WSMAN_POWER_ACTION,
  BOOT_ROLE_IS_NEXT,
  cimResourceUri,
} from '../constants.ts';
import type { AmtBootDevice, AmtPowerAction, AmtPowerState, CimClass } from '../constants.ts';
import { instanceXml } from '../wsman-codec.ts';
import type { PropertyValue } from '../wsman-codec.ts';
import { child, intValue, text } from '../xml.ts';
import type { XmlNode } from '../xml.ts';
import type { BootConfig } from './boot-config.ts';
import { readBootSettingPut } from './boot-setting-data.ts';
import type { AmtHandler, PowerChangeResult } from './handler.ts';
import {
  WSMAN_FAULTS,
  enumerateResponseBody,
  faultEnvelope,
  identifyResponse,
  invokeResponseBody,
  parseWsmanRequest,
  pullResponseBody,
  referenceSelectors,
  responseEnvelope,
} from './wsman-messages.ts';
import type { WsmanFault } from './wsman-messages.ts';

/** ReturnValues of CIM_PowerManagementService.RequestPowerStateChange and the boot methods (CIM schema ValueMap). */
export const CIM_RETURN = { completed: 0, notSupported: 1, unknownError: 2, invalidParameter: 5 } as const;

export interface WsmanContext {
  readonly handler: AmtHandler;
  readonly boot: BootConfig;
  readonly amtVersion: string;
  readonly hostname: string;
  readonly domain: string;
  readonly maxChars: number;
  /** A fresh MessageID for each answer (the server owns randomness). */
  readonly messageId: () => string;
  /** Enumerations waiting for a Pull, by context. */
  readonly enumerations: Map<string, string[]>;
}

export interface WsmanReply {
  readonly status: number;
  readonly body: string;
}

const CLASS_BY_URI = new Map<string, CimClass>([...Object.values(CIM_CLASSES), ...Object.values(AMT_CLASSES)].map((c) => [cimResourceUri(c), c]));
const ACTION_BY_STATE = new Map<number, AmtPowerAction>(Object.entries(WSMAN_POWER_ACTION).map(([a, s]) => [s, a as AmtPowerAction]));
const DEVICE_BY_SOURCE = new Map<string, AmtBootDevice>(Object.entries(WSMAN_BOOT_SOURCES).map(([d, s]) => [s, d as AmtBootDevice]));
/** Bounded so a client that never pulls cannot grow the emulator without limit. */
const MAX_OPEN_ENUMERATIONS = 64;

function cimPowerState(power: AmtPowerState): number {
  switch (power) {
    case 'on':
      return CIM_POWER_STATE.on;
    case 'sleep':
      return CIM_POWER_STATE.sleepDeep;
    case 'hibernate':
      return CIM_POWER_STATE.hibernate;
    case 'off':
      return CIM_POWER_STATE.offSoft;
    case 'unknown':
      return CIM_POWER_STATE.other;
  }
}

const RESULT_RETURN: Readonly<Record<PowerChangeResult, number>> = {
  ok: CIM_RETURN.completed,
  'not-permitted': CIM_RETURN.unknownError,
  unsupported: CIM_RETURN.notSupported,
};

async function instanceOf(cimClass: CimClass, ctx: WsmanContext): Promise<Record<string, PropertyValue> | undefined> {
  switch (cimClass) {
    case CIM_CLASSES.associatedPowerManagementService: {
      const power = await ctx.handler.getPowerState();
      return {
        CreationClassName: CIM_CLASSES.associatedPowerManagementService,
        PowerState: cimPowerState(power),
        AvailableRequestedPowerStates: ctx.handler.supportedPowerActions().map((a) => WSMAN_POWER_ACTION[a]),
      };
    }
    case CIM_CLASSES.powerManagementCapabilities:
      return {
        ElementName: 'Power Management Capabilities',
        InstanceID: 'Intel(r) AMT:PowerManagementCapabilities 0',
        PowerChangeCapabilities: 3,
        PowerStatesSupported: ctx.handler.supportedPowerActions().map((a) => WSMAN_POWER_ACTION[a]),
      };
    case CIM_CLASSES.powerManagementService:
      return { CreationClassName: CIM_CLASSES.powerManagementService, ElementName: AMT_NAMES.powerManagementService, Name: AMT_NAMES.powerManagementService };
    case CIM_CLASSES.bootConfigSetting:
      return { ElementName: AMT_NAMES.bootConfiguration, InstanceID: AMT_NAMES.bootConfiguration };
    case CIM_CLASSES.bootService:
      return { CreationClassName: CIM_CLASSES.bootService, ElementName: AMT_NAMES.bootService, Name: AMT_NAMES.bootService };
    case CIM_CLASSES.computerSystem:
      return { CreationClassName: CIM_CLASSES.computerSystem, Name: AMT_NAMES.managedSystem };
    case AMT_CLASSES.generalSettings:
      return {
        ElementName: 'Intel(r) AMT: General Settings',
        InstanceID: 'Intel(r) AMT: General Settings',
        HostName: ctx.hostname,
        DomainName: ctx.domain,
        AMTNetworkEnabled: 1,
      };
    case AMT_CLASSES.bootSettingData:
      return Object.fromEntries(ctx.boot.settings);
    case AMT_CLASSES.bootCapabilities:
      return {
        ElementName: 'Intel(r) AMT: Boot Capabilities',
        InstanceID: 'Intel(r) AMT:BootCapabilities 0',
        IDER: 'true',
        SOL: 'true',
        BIOSReflash: 'true',
        BIOSPause: 'true',
        ...Object.fromEntries(BOOT_DEVICES.map((d) => [WSMAN_BOOT_CAPABILITIES[d], String(ctx.boot.offered.has(d))])),
      };
    case CIM_CLASSES.bootSourceSetting:
      return undefined;
  }
}

/** Answers one WS-Man request. Bad input becomes a fault, and so does a handler that fails: nothing here throws. */
export async function answerWsman(xml: string, ctx: WsmanContext): Promise<WsmanReply> {
  try {
    return await answer(xml, ctx);
  } catch (error) {
    return fault(WSMAN_FAULTS.internalError, undefined, ctx, `the machine behind this AMT failed: ${(error as Error).message}`);
  }
}

async function answer(xml: string, ctx: WsmanContext): Promise<WsmanReply> {
  let request;
  try {
    request = parseWsmanRequest(xml, ctx.maxChars);
  } catch (error) {
    return fault(WSMAN_FAULTS.schemaValidationError, undefined, ctx, (error as Error).message);
  }
  if (request.identify) {
    return { status: 200, body: identifyResponse({ vendor: 'Intel Corporation', version: `AMT ${ctx.amtVersion}` }) };
  }
  const { action, resourceUri, messageId } = request;
  if (action === undefined || resourceUri === undefined) {
    return fault(WSMAN_FAULTS.invalidMessageHeader, messageId, ctx, 'Action and ResourceURI are required');
  }
  const cimClass = CLASS_BY_URI.get(resourceUri);
  if (cimClass === undefined) return fault(WSMAN_FAULTS.destinationUnreachable, messageId, ctx, `unknown ResourceURI ${resourceUri}`);
  const ok = (replyAction: string, body: string): WsmanReply => ({
    status: 200,
    body: responseEnvelope({ action: replyAction, messageId: ctx.messageId(), relatesTo: messageId, body }),
  });

  if (action === ACTIONS.get || action === ACTIONS.enumerate || action === ACTIONS.put) {
    const instance = await instanceOf(cimClass, ctx);
    const items = instance === undefined ? [] : [instanceXml(cimClass, resourceUri, instance)];
    if (action !== ACTIONS.enumerate) {
      if (items[0] === undefined) return fault(WSMAN_FAULTS.invalidSelectors, messageId, ctx, `${cimClass} needs selectors`);
      // A selector naming a key property must match it (DSP0226 §7.3: otherwise wsman:InvalidSelectors).
      const mismatch = Object.entries(request.selectors).find(([key, value]) => instance?.[key] !== undefined && String(instance[key]) !== value);
      if (mismatch) return fault(WSMAN_FAULTS.invalidSelectors, messageId, ctx, `no ${cimClass} with ${mismatch[0]}=${mismatch[1]}`);
      if (action === ACTIONS.get) return ok(ACTIONS.getResponse, items[0]);
      // Of the classes served here only AMT_BootSettingData is writable.
      if (cimClass !== AMT_CLASSES.bootSettingData) return fault(WSMAN_FAULTS.actionNotSupported, messageId, ctx, `${cimClass} cannot be changed with Put`);
      const put = readBootSettingPut(request.body, ctx.boot.settings, ctx.boot.source !== undefined);
      if (!put.ok) return fault(WSMAN_FAULTS.invalidRepresentation, messageId, ctx, put.detail);
      ctx.boot.settings = put.settings;
      // The PutResponse carries the instance as it now is, as AMT's does.
      return ok(ACTIONS.putResponse, instanceXml(cimClass, resourceUri, Object.fromEntries(put.settings)));
    }
    const optimized = child(child(request.body, 'Enumerate'), 'OptimizeEnumeration') !== undefined;
    const context = ctx.messageId();
    if (!optimized) {
      if (ctx.enumerations.size >= MAX_OPEN_ENUMERATIONS) ctx.enumerations.delete(ctx.enumerations.keys().next().value as string);
      ctx.enumerations.set(context, items);
    }
    return ok(ACTIONS.enumerateResponse, enumerateResponseBody(items, context, optimized));
  }
  if (action === ACTIONS.pull) {
    const context = text(child(child(request.body, 'Pull'), 'EnumerationContext')) ?? '';
    const items = ctx.enumerations.get(context);
    if (items === undefined) return fault(WSMAN_FAULTS.invalidEnumerationContext, messageId, ctx);
    ctx.enumerations.delete(context);
    return ok(ACTIONS.pullResponse, pullResponseBody(items));
  }
  if (action.startsWith(`${resourceUri}/`)) {
    const method = action.slice(resourceUri.length + 1);
    const input = child(request.body, `${method}_INPUT`);
    const returnValue = await invoke(cimClass, method, input, ctx);
    if (returnValue === undefined) return fault(WSMAN_FAULTS.actionNotSupported, messageId, ctx, action);
    return ok(`${action}Response`, invokeResponseBody(resourceUri, method, returnValue));
  }
  return fault(WSMAN_FAULTS.actionNotSupported, messageId, ctx, action);
}

/** Runs a method; undefined when the class has no such method. */
async function invoke(cimClass: CimClass, method: string, input: XmlNode | undefined, ctx: WsmanContext): Promise<number | undefined> {
  if (cimClass === CIM_CLASSES.powerManagementService && method === 'RequestPowerStateChange') {
    const state = intValue(child(input, 'PowerState'));
    const powerAction = state === undefined ? undefined : ACTION_BY_STATE.get(state);
    if (powerAction === undefined) return CIM_RETURN.invalidParameter;
    const result = await ctx.handler.setPowerState(powerAction, ctx.boot.pending);
    if (result === 'ok' && powerAction !== 'off' && powerAction !== 'soft-off') ctx.boot.consume();
    return RESULT_RETURN[result];
  }
  if (cimClass === CIM_CLASSES.bootConfigSetting && method === 'ChangeBootOrder') {
    const source = child(input, 'Source');
    // No Source clears the boot order (DSP1012 §7.3.1).
    if (source === undefined || source === '') {
      ctx.boot.source = undefined;
      return CIM_RETURN.completed;
    }
    const device = DEVICE_BY_SOURCE.get(referenceSelectors(source)['InstanceID'] ?? '');
    if (device === undefined) return CIM_RETURN.invalidParameter;
    if (!ctx.boot.offered.has(device)) return CIM_RETURN.notSupported;
    ctx.boot.source = device;
    return CIM_RETURN.completed;
  }
  if (cimClass === CIM_CLASSES.bootService && method === 'SetBootConfigRole') {
    const setting = referenceSelectors(child(input, 'BootConfigSetting'))['InstanceID'];
    if (setting !== AMT_NAMES.bootConfiguration || intValue(child(input, 'Role')) !== BOOT_ROLE_IS_NEXT) return CIM_RETURN.invalidParameter;
    ctx.boot.armed = true;
    return CIM_RETURN.completed;
  }
  return undefined;
}

function fault(kind: WsmanFault, relatesTo: string | undefined, ctx: WsmanContext, detail?: string): WsmanReply {
  return {
    status: kind.code === 'Sender' ? 400 : 500,
    body: faultEnvelope({ fault: kind, messageId: ctx.messageId(), relatesTo, ...(detail !== undefined ? { detail } : {}) }),
  };
}
