// A Redfish client for one service (DSP0266): its systems, power and ComputerSystem.Reset with
// the ResetTypes the system allows, the boot override checked against its AllowableValues
// before anything is changed, PATCH with If-Match, task monitors followed to the end, and raw
// GET/PATCH/POST for everything else. Inventory, logs and virtual media are in their own files.
import { actionInfoValues, asResource, bootSettings, etagOf, isObject, link, memberPaths, powerState, resetAction } from './codec.ts';
import type { BootSettings, Json, Resource } from './codec.ts';
import { BOOT_MODES, BOOT_TARGETS, REDFISH_DEFAULTS, RESET_TYPES, SERVICE_ROOT } from './constants.ts';
import type { BootEnabled, BootMode, BootTarget, RedfishPowerState, ResetType } from './constants.ts';
import { REDFISH_ERROR_CODES, RedfishError, RedfishHttpError, RedfishUnsupportedError } from './errors.ts';
import { followTask } from './task.ts';
import type { TaskOptions, TaskResult } from './task.ts';
import { RedfishTransport } from './transport.ts';
import type { Answer, RedfishEndpoint, TransportOptions } from './transport.ts';

export interface RedfishClientOptions extends TransportOptions {
  /** The ComputerSystem's Id; optional when the service has exactly one. */
  readonly systemId?: string;
  readonly task?: TaskOptions;
}

export interface BootOverride {
  readonly target: BootTarget;
  /** Default 'Once'. */
  readonly enabled?: BootEnabled;
  /** Left as it is when not given. */
  readonly mode?: BootMode;
}

/** A resource with the ETag it was read with. */
export interface Read {
  readonly resource: Resource;
  readonly etag: string | undefined;
}

export class RedfishClient {
  readonly transport: RedfishTransport;
  readonly #options: RedfishClientOptions;
  #systemPath: string | undefined;

  constructor(endpoint: RedfishEndpoint, options: RedfishClientOptions = {}) {
    this.transport = new RedfishTransport(endpoint, options);
    this.#options = options;
  }

  get origin(): string {
    return this.transport.origin;
  }

  /** GET of one resource, which must be a JSON object. */
  async read(path: string): Promise<Read> {
    const answer = await this.transport.request('GET', path);
    return {
      resource: asResource(answer.body, `Redfish ${this.origin} GET ${path}`),
      etag: etagOf(isObject(answer.body) ? answer.body : {}, answer.headers.etag),
    };
  }

  async get(path: string): Promise<Resource> {
    return (await this.read(path)).resource;
  }

  /** The member paths of a collection. */
  async members(path: string): Promise<string[]> {
    return memberPaths(await this.get(path), `Redfish ${this.origin} ${path}`, REDFISH_DEFAULTS.maxMembers);
  }

  /** Raw requests, as redfishtool's raw subcommand; a 202 is followed to the end of its task. */
  async raw(method: 'GET' | 'PATCH' | 'POST' | 'DELETE', path: string, body?: Json): Promise<Answer> {
    let ifMatch: string | undefined;
    if (method === 'PATCH') ifMatch = (await this.read(path)).etag;
    const answer = await this.transport.request(method, path, { ...(body !== undefined ? { body } : {}), ...(ifMatch ? { ifMatch } : {}) });
    if (answer.status !== 202) return answer;
    const done = await followTask(this.transport, answer, `${method} ${path}`, this.#options.task);
    return { status: 200, headers: {}, body: done.body };
  }

  async serviceRoot(): Promise<Resource> {
    return asResource(await this.transport.serviceRoot(), `Redfish ${this.origin} ${SERVICE_ROOT}`);
  }

  /** The paths of the service's ComputerSystems. */
  async systems(): Promise<string[]> {
    const root = await this.serviceRoot();
    const systems = link(root, 'Systems');
    if (systems === undefined) throw new RedfishUnsupportedError(`Redfish ${this.origin} has no Systems collection in its service root`);
    return this.members(systems);
  }

  /** The system this client drives: the one named by systemId, else the only one. */
  async systemPath(): Promise<string> {
    if (this.#systemPath !== undefined) return this.#systemPath;
    const paths = await this.systems();
    const id = this.#options.systemId;
    let path: string | undefined;
    if (id !== undefined) {
      path = paths.find((p) => p.replace(/\/+$/, '').split('/').pop() === id || p === id);
      if (path === undefined) throw new RedfishUnsupportedError(`Redfish ${this.origin} has no system '${id}'; it has ${ids(paths)}`);
    } else if (paths.length === 1) path = paths[0];
    else if (paths.length === 0) throw new RedfishUnsupportedError(`Redfish ${this.origin} has no ComputerSystem`);
    else
      throw new RedfishError(REDFISH_ERROR_CODES.invalid, `Redfish ${this.origin} has ${paths.length} systems (${ids(paths)}); say which one (the system id)`);
    this.#systemPath = path;
    return path as string;
  }

  async system(): Promise<Read> {
    return this.read(await this.systemPath());
  }

  async getPowerState(): Promise<RedfishPowerState> {
    const { resource } = await this.system();
    return powerState(resource, `Redfish system ${await this.systemPath()}`);
  }

  /** The ResetTypes the system allows (inline AllowableValues, else its ActionInfo, else all of them). */
  async resetTypes(): Promise<{ target: string; allowed: readonly ResetType[] }> {
    const { resource } = await this.system();
    const reset = resetAction(resource);
    if (!reset) throw new RedfishUnsupportedError(`Redfish system ${await this.systemPath()} offers no ComputerSystem.Reset action`);
    if (reset.allowed !== undefined) return { target: reset.target, allowed: reset.allowed };
    if (reset.actionInfo !== undefined) {
      const values = actionInfoValues(await this.get(reset.actionInfo), 'ResetType');
      if (values !== undefined) return { target: reset.target, allowed: values.filter((v): v is ResetType => (RESET_TYPES as readonly string[]).includes(v)) };
    }
    return { target: reset.target, allowed: RESET_TYPES };
  }

  /** ComputerSystem.Reset, refused before sending when the system does not allow the type. */
  async reset(type: ResetType): Promise<TaskResult> {
    if (!(RESET_TYPES as readonly string[]).includes(type))
      throw new RedfishError(REDFISH_ERROR_CODES.invalid, `'${type}' is not a ResetType; they are ${RESET_TYPES.join(', ')}`);
    const { target, allowed } = await this.resetTypes();
    if (!allowed.includes(type))
      throw new RedfishUnsupportedError(`Redfish system ${await this.systemPath()} does not allow ResetType ${type}; it allows ${allowed.join(', ')}`);
    const answer = await this.transport.request('POST', target, { body: { ResetType: type } });
    return followTask(this.transport, answer, `ComputerSystem.Reset ${type}`, this.#options.task);
  }

  async getBoot(): Promise<BootSettings> {
    const { resource } = await this.system();
    return bootSettings(resource, `Redfish system ${await this.systemPath()}`);
  }

  /** Sets the boot override, after checking the target and mode against the system's AllowableValues. */
  async setBootOverride(override: BootOverride): Promise<void> {
    const path = await this.systemPath();
    const { resource, etag } = await this.system();
    const boot = bootSettings(resource, `Redfish system ${path}`);
    const what = `Redfish system ${path}`;
    if (!(BOOT_TARGETS as readonly string[]).includes(override.target))
      throw new RedfishError(REDFISH_ERROR_CODES.invalid, `'${override.target}' is not a boot target; they are ${BOOT_TARGETS.join(', ')}`);
    if (boot.allowedTargets !== undefined && !boot.allowedTargets.includes(override.target))
      throw new RedfishUnsupportedError(`${what} cannot boot from ${override.target}; it allows ${boot.allowedTargets.join(', ')}`);
    if (override.mode !== undefined) {
      if (!(BOOT_MODES as readonly string[]).includes(override.mode))
        throw new RedfishError(REDFISH_ERROR_CODES.invalid, `'${override.mode}' is not a boot mode; they are ${BOOT_MODES.join(', ')}`);
      if (boot.allowedModes !== undefined && !boot.allowedModes.includes(override.mode))
        throw new RedfishUnsupportedError(`${what} cannot boot in ${override.mode} mode; it allows ${boot.allowedModes.join(', ')}`);
    }
    const patch: Record<string, Json> = { BootSourceOverrideTarget: override.target, BootSourceOverrideEnabled: override.enabled ?? 'Once' };
    if (override.mode !== undefined) patch.BootSourceOverrideMode = override.mode;
    await this.patch(path, { Boot: patch }, etag);
  }

  /** PATCH with If-Match; a 412 (changed meanwhile) is read again and retried once. */
  async patch(path: string, body: Json, etag?: string): Promise<Answer> {
    try {
      return await this.#patchOnce(path, body, etag);
    } catch (error) {
      if (!(error instanceof RedfishHttpError) || error.status !== 412 || etag === undefined) throw error;
      return this.#patchOnce(path, body, (await this.read(path)).etag);
    }
  }

  async #patchOnce(path: string, body: Json, etag: string | undefined): Promise<Answer> {
    const answer = await this.transport.request('PATCH', path, { body, ...(etag ? { ifMatch: etag } : {}) });
    if (answer.status === 202) await followTask(this.transport, answer, `PATCH ${path}`, this.#options.task);
    return answer;
  }

  /** Follows a task monitor of an answer (for callers of raw requests). */
  followTask(answer: Answer, what: string): Promise<TaskResult> {
    return followTask(this.transport, answer, what, this.#options.task);
  }

  /** Logs out and closes connections. */
  close(): Promise<void> {
    return this.transport.close();
  }
}

function ids(paths: readonly string[]): string {
  return paths.map((p) => p.replace(/\/+$/, '').split('/').pop()).join(', ') || 'none';
}
