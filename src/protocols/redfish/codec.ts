// Reading and writing Redfish JSON (DSP0266), apart from any I/O: answers in, typed values out.
// Every property the client relies on is checked here, so an answer that lacks one is a clear
// RedfishProtocolError naming the resource, never an undefined deep in the driver.
import { BOOT_ENABLED, BOOT_MODES, BOOT_TARGETS, POWER_STATES, RESET_TYPES } from './constants.ts';
import type { BootEnabled, BootMode, BootTarget, RedfishPowerState, ResetType } from './constants.ts';
import { RedfishProtocolError } from './errors.ts';
import type { RedfishMessage } from './errors.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Resource = { readonly [key: string]: Json };

export function isObject(value: unknown): value is Resource {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses an answer's body; `what` names it in the error (e.g. "GET /redfish/v1/Systems"). */
export function parseJson(text: string, what: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    const start = text.slice(0, 60).replace(/\s+/g, ' ');
    throw new RedfishProtocolError(`${what} answered with a body that is not JSON ('${start}${text.length > 60 ? '…' : ''}')`, { cause: error });
  }
}

export function asResource(value: Json | undefined, what: string): Resource {
  if (!isObject(value)) throw new RedfishProtocolError(`${what} answered with ${value === undefined ? 'no body' : 'JSON that is not an object'}`);
  return value;
}

export function requireString(resource: Resource, key: string, what: string): string {
  const value = resource[key];
  if (typeof value !== 'string') throw new RedfishProtocolError(`${what} lacks the required property ${key}`);
  return value;
}

/** The path of a navigation property ({"@odata.id": "..."}), or undefined when absent. */
export function link(resource: Resource, key: string): string | undefined {
  const value = resource[key];
  if (!isObject(value)) return undefined;
  const id = value['@odata.id'];
  return typeof id === 'string' ? id : undefined;
}

/** The member paths of a collection (Members: [{"@odata.id"}]), at most `max`. */
export function memberPaths(collection: Resource, what: string, max: number): string[] {
  const members = collection.Members;
  if (!Array.isArray(members)) throw new RedfishProtocolError(`${what} is not a collection: it lacks Members`);
  return members.slice(0, max).map((m, i) => {
    const id = isObject(m) ? m['@odata.id'] : undefined;
    if (typeof id !== 'string') throw new RedfishProtocolError(`${what} has a member ${i} without @odata.id`);
    return id;
  });
}

/** The messages of an error body: error.@Message.ExtendedInfo, else error.message (DSP0266 §9.6). */
export function errorMessages(body: Json | undefined): RedfishMessage[] {
  if (!isObject(body)) return [];
  const error = isObject(body.error) ? body.error : body;
  const info = error['@Message.ExtendedInfo'];
  const out: RedfishMessage[] = [];
  if (Array.isArray(info)) {
    for (const item of info.slice(0, 20)) {
      if (!isObject(item)) continue;
      const message = typeof item.Message === 'string' ? item.Message : undefined;
      const messageId = typeof item.MessageId === 'string' ? item.MessageId : '';
      if (message === undefined && messageId === '') continue;
      const resolution = typeof item.Resolution === 'string' && item.Resolution !== '' ? item.Resolution : undefined;
      out.push({ messageId, message: message ?? messageId, ...(resolution ? { resolution } : {}) });
    }
  }
  if (out.length === 0 && typeof error.message === 'string') out.push({ messageId: typeof error.code === 'string' ? error.code : '', message: error.message });
  return out;
}

/** An error body as DSP0266 §9.6 shapes it, for the emulator. */
export function errorBody(messageId: string, message: string, resolution = 'None.'): Resource {
  return {
    error: {
      code: messageId,
      message,
      '@Message.ExtendedInfo': [
        { '@odata.type': '#Message.v1_1_1.Message', MessageId: messageId, Message: message, Resolution: resolution, Severity: 'Warning' },
      ],
    },
  };
}

/** Retry-After (RFC 9110 §10.2.3) in ms: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function oneOf<T extends string>(value: Json | undefined, choices: readonly T[]): T | undefined {
  return typeof value === 'string' && (choices as readonly string[]).includes(value) ? (value as T) : undefined;
}

function allowable<T extends string>(resource: Resource, key: string, choices: readonly T[]): T[] | undefined {
  const values = resource[`${key}@Redfish.AllowableValues`];
  if (!Array.isArray(values)) return undefined;
  return values.filter((v): v is T => typeof v === 'string' && (choices as readonly string[]).includes(v));
}

export function powerState(system: Resource, what: string): RedfishPowerState {
  const value = system.PowerState;
  const state = oneOf(value, POWER_STATES);
  if (state === undefined)
    throw new RedfishProtocolError(
      `${what} has ${value === undefined ? 'no PowerState' : `PowerState '${String(value)}', not one of ${POWER_STATES.join(', ')}`}`,
    );
  return state;
}

export interface BootSettings {
  readonly target: BootTarget | undefined;
  readonly enabled: BootEnabled | undefined;
  readonly mode: BootMode | undefined;
  /** undefined when the service lists none (then every schema value may be tried). */
  readonly allowedTargets: readonly BootTarget[] | undefined;
  readonly allowedModes: readonly BootMode[] | undefined;
}

export function bootSettings(system: Resource, what: string): BootSettings {
  const boot = system.Boot;
  if (!isObject(boot)) throw new RedfishProtocolError(`${what} has no Boot property, so its boot override cannot be read or set`);
  return {
    target: oneOf(boot.BootSourceOverrideTarget, BOOT_TARGETS),
    enabled: oneOf(boot.BootSourceOverrideEnabled, BOOT_ENABLED),
    mode: oneOf(boot.BootSourceOverrideMode, BOOT_MODES),
    allowedTargets: allowable(boot, 'BootSourceOverrideTarget', BOOT_TARGETS),
    allowedModes: allowable(boot, 'BootSourceOverrideMode', BOOT_MODES),
  };
}

export interface ResetAction {
  readonly target: string;
  /** undefined when the service lists none and has no ActionInfo. */
  readonly allowed: readonly ResetType[] | undefined;
  /** @Redfish.ActionInfo, where the allowed values are when not inline. */
  readonly actionInfo: string | undefined;
}

/** The Actions entry of an action (e.g. '#ComputerSystem.Reset'), or undefined when not offered. */
export function action(resource: Resource, name: string): Resource | undefined {
  const actions = resource.Actions;
  if (!isObject(actions)) return undefined;
  const entry = actions[name];
  return isObject(entry) && typeof entry.target === 'string' ? entry : undefined;
}

export function resetAction(system: Resource): ResetAction | undefined {
  const entry = action(system, '#ComputerSystem.Reset');
  if (!entry) return undefined;
  const info = entry['@Redfish.ActionInfo'];
  return { target: entry.target as string, allowed: allowable(entry, 'ResetType', RESET_TYPES), actionInfo: typeof info === 'string' ? info : undefined };
}

/** The AllowableValues of one parameter in an ActionInfo resource. */
export function actionInfoValues(info: Resource, parameter: string): string[] | undefined {
  const parameters = info.Parameters;
  if (!Array.isArray(parameters)) return undefined;
  for (const p of parameters) {
    if (isObject(p) && p.Name === parameter && Array.isArray(p.AllowableValues)) return p.AllowableValues.filter((v): v is string => typeof v === 'string');
  }
  return undefined;
}

/** The ETag to send in If-Match: the answer's ETag header, else the resource's @odata.etag. */
export function etagOf(resource: Resource, header: string | undefined): string | undefined {
  if (header) return header;
  const tag = resource['@odata.etag'];
  return typeof tag === 'string' ? tag : undefined;
}
