// The emulated BMC's requests: who asks (session token or Basic), which resource, which
// method. Every answer that is not a success carries a Redfish error body with the Base
// registry's MessageId (Base.1.8: MalformedJSON, PropertyValueNotInList, PreconditionFailed,
// ResourceMissingAtURI, ...), as a real service's does.
import type { IncomingMessage } from 'node:http';
import { errorBody, isObject } from '../codec.ts';
import type { Json, Resource } from '../codec.ts';
import { BOOT_ENABLED, RESET_TYPES } from '../constants.ts';
import type { BootEnabled, BootMode, BootTarget, ResetType } from '../constants.ts';
import { EMULATED_BOOT_MODES, EMULATED_BOOT_TARGETS, EMULATED_RESET_TYPES } from './handler.ts';
import type { RedfishHandler } from './handler.ts';
import * as res from './resources.ts';
import type { Identity, LogRecord } from './resources.ts';
import type { SessionTable } from './sessions.ts';

export interface Reply {
  readonly status: number;
  readonly body?: Resource;
  readonly headers?: Readonly<Record<string, string>>;
}

interface Task {
  state: 'Running' | 'Completed' | 'Exception';
  readonly started: number;
  messages: { id: string; message: string }[];
}

export interface EmulatorState {
  readonly id: Identity;
  readonly handler: RedfishHandler;
  readonly sessions: SessionTable;
  readonly sessionTimeoutS: number;
  readonly taskDelayMs: number;
  readonly tasks: Map<string, Task>;
  nextTask: number;
  readonly log: LogRecord[];
  nextLog: number;
  readonly maxLog: number;
  readonly onError: ((error: unknown, what: string) => void) | undefined;
}

const R = res.R;
const MAX_TASKS = 100;
const fail = (status: number, id: string, message: string, resolution?: string): Reply => ({ status, body: errorBody(`Base.1.8.${id}`, message, resolution) });
const ok = (body: Resource, headers?: Record<string, string>): Reply => ({ status: 200, body, ...(headers ? { headers } : {}) });

function note(state: EmulatorState, message: string, severity: LogRecord['severity'] = 'OK'): void {
  state.log.push({ id: state.nextLog++, created: new Date().toISOString(), message, severity });
  if (state.log.length > state.maxLog) state.log.shift();
}

function parseBody(text: string, method: string): { value: Resource } | { error: Reply } {
  if (text.trim() === '')
    return method === 'POST' ? { value: {} } : { error: fail(400, 'MalformedJSON', 'The request body is empty; PATCH needs a JSON object.') };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {
      error: fail(
        400,
        'MalformedJSON',
        'The request body submitted was malformed JSON and could not be parsed by the receiving service.',
        'Ensure that the request body is valid JSON and resubmit the request.',
      ),
    };
  }
  if (!isObject(value as Json)) return { error: fail(400, 'MalformedJSON', 'The request body is JSON, but not an object.') };
  return { value: value as Resource };
}

/** The user the request is made as, or undefined (401). */
function authenticate(state: EmulatorState, req: IncomingMessage): string | undefined {
  const token = req.headers['x-auth-token'];
  if (typeof token === 'string' && token !== '') return state.sessions.byToken(token)?.user;
  const authorization = req.headers.authorization;
  return typeof authorization === 'string' ? state.sessions.basic(authorization) : undefined;
}

export async function route(state: EmulatorState, req: IncomingMessage, text: string): Promise<Reply> {
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://emulator').pathname);
  } catch {
    return fail(400, 'ResourceMissingAtURI', 'The request URI is not a valid URI.');
  }
  if (path.length > 1 && path.endsWith('/')) path = path.replace(/\/+$/, '');
  const method = req.method ?? 'GET';
  if (path === '/redfish' && method === 'GET') return ok({ v1: `${R}/` });
  if (path === R && method === 'GET') return ok(res.serviceRoot(state.id));
  if (path === `${R}/odata` && method === 'GET') return ok({ value: [] });
  let body: Resource = {};
  if (method === 'POST' || method === 'PATCH') {
    const parsed = parseBody(text, method);
    if ('error' in parsed) return parsed.error;
    body = parsed.value;
  }
  if (path === `${R}/SessionService/Sessions` && method === 'POST') return login(state, body);
  const user = authenticate(state, req);
  if (user === undefined)
    return {
      ...fail(401, 'NoValidSession', 'There is no valid session established with the implementation.', 'Establish a session before attempting any operations.'),
      headers: { 'WWW-Authenticate': 'Basic realm="anvil Redfish"' },
    };
  const ifMatch = typeof req.headers['if-match'] === 'string' ? req.headers['if-match'] : undefined;
  return resource(state, method, path, body, ifMatch);
}

function login(state: EmulatorState, body: Resource): Reply {
  const { UserName: name, Password: password } = body;
  if (typeof name !== 'string' || typeof password !== 'string')
    return fail(400, 'PropertyMissing', 'The session request needs the properties UserName and Password, as strings.');
  if (!state.sessions.checkPassword(name, password))
    return fail(401, 'InvalidCredentials', 'The credentials are not valid.', 'Check the user name and password.');
  const session = state.sessions.open(name);
  if (!session)
    return {
      ...fail(503, 'SessionLimitExceeded', 'The session establishment failed: the number of simultaneous sessions is at its limit.'),
      headers: { 'Retry-After': '5' },
    };
  const location = `${R}/SessionService/Sessions/${session.id}`;
  return { status: 201, body: res.session(session.id, name), headers: { 'X-Auth-Token': session.token, Location: location } };
}

async function resource(state: EmulatorState, method: string, path: string, body: Resource, ifMatch: string | undefined): Promise<Reply> {
  const { id, handler } = state;
  const sys = `${R}/Systems/${id.systemId}`;
  const mgr = `${R}/Managers/${id.managerId}`;
  const cd = `${mgr}/VirtualMedia/Cd`;
  const gets: Record<string, () => Promise<Resource> | Resource> = {
    [`${R}/Systems`]: () => res.systems(id),
    [sys]: async () => res.system(id, await handler.getPowerState(), await handler.getBoot()),
    [`${sys}/EthernetInterfaces`]: () => res.ethernetInterfaces(id),
    [`${R}/Managers`]: () => res.managers(id),
    [mgr]: () => res.manager(id),
    [`${mgr}/VirtualMedia`]: () => res.virtualMediaCollection(id),
    [cd]: async () => res.virtualMedia(id, await handler.getMedia()),
    [`${mgr}/LogServices`]: () => res.logServices(id),
    [`${mgr}/LogServices/Log`]: () => res.logService(id),
    [`${mgr}/LogServices/Log/Entries`]: () => res.logEntries(id, state.log),
    [`${R}/SessionService`]: () => res.sessionService(state.sessionTimeoutS),
    [`${R}/SessionService/Sessions`]: () => res.sessions(state.sessions.ids),
    [`${R}/TaskService`]: () => res.taskService(),
  };
  const nic = new RegExp(`^${sys}/EthernetInterfaces/(\\d+)$`).exec(path);
  if (nic) {
    const found = res.ethernetInterface(id, Number(nic[1]));
    if (found && method === 'GET') return ok(found);
  }
  const sessionMatch = /^\/redfish\/v1\/SessionService\/Sessions\/([^/]+)$/.exec(path);
  if (sessionMatch) return sessionResource(state, method, sessionMatch[1] ?? '');
  const taskMatch = /^\/redfish\/v1\/TaskService\/(Tasks|TaskMonitors)\/([^/]+)$/.exec(path);
  if (taskMatch && method === 'GET') return taskReply(state, taskMatch[2] ?? '', taskMatch[1] === 'TaskMonitors');
  const get = gets[path];
  if (method === 'GET' && get) {
    const { body: withTag, etag } = res.withEtag(await get());
    return ok(withTag, { ETag: etag });
  }
  if (method === 'PATCH' && path === sys) return patchSystem(state, body, ifMatch);
  if (method === 'PATCH' && path === cd) return patchMedia(state, body);
  if (method === 'POST' && path === `${sys}/Actions/ComputerSystem.Reset`) return reset(state, body);
  if (method === 'POST' && path === `${cd}/Actions/VirtualMedia.InsertMedia`) return insert(state, body);
  if (method === 'POST' && path === `${cd}/Actions/VirtualMedia.EjectMedia`) {
    await handler.ejectMedia();
    note(state, 'Virtual CD ejected');
    return { status: 204 };
  }
  if (get || nic || path.startsWith(`${sys}/Actions/`) || path.startsWith(`${cd}/Actions/`))
    return fail(405, 'OperationNotAllowed', `The HTTP method ${method} is not allowed on ${path}.`);
  return fail(
    404,
    'ResourceMissingAtURI',
    `The resource at the URI ${path} was not found.`,
    'Place a valid resource at the URI or correct the URI and resubmit the request.',
  );
}

function sessionResource(state: EmulatorState, method: string, sid: string): Reply {
  const session = state.sessions.get(sid);
  if (!session) return fail(404, 'ResourceMissingAtURI', `There is no session ${sid}.`);
  if (method === 'GET') return ok(res.session(sid, session.user));
  if (method === 'DELETE') {
    state.sessions.close(sid);
    return { status: 204 };
  }
  return fail(405, 'OperationNotAllowed', `The HTTP method ${method} is not allowed on a session.`);
}

function notInList(property: string, value: Json | undefined, allowed: readonly string[]): Reply {
  return fail(
    400,
    'PropertyValueNotInList',
    `The value '${JSON.stringify(value)}' for the property ${property} is not in the list of acceptable values (${allowed.join(', ')}).`,
    'Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed.',
  );
}

async function patchSystem(state: EmulatorState, body: Resource, ifMatch: string | undefined): Promise<Reply> {
  const { handler, id } = state;
  const current = res.withEtag(res.system(id, await handler.getPowerState(), await handler.getBoot()));
  if (
    ifMatch !== undefined &&
    ifMatch !== '*' &&
    !ifMatch
      .split(',')
      .map((t) => t.trim())
      .includes(current.etag)
  )
    return fail(
      412,
      'PreconditionFailed',
      'The ETag supplied did not match the ETag required to change this resource.',
      'Try the operation again using the appropriate ETag.',
    );
  for (const key of Object.keys(body)) {
    if (key === 'Boot' || key.startsWith('@odata.')) continue;
    return fail(
      400,
      key in current.body ? 'PropertyNotWritable' : 'PropertyUnknown',
      `The property ${key} is ${key in current.body ? 'a read only property and cannot be assigned a value' : 'not in the list of valid properties for the resource'}.`,
    );
  }
  const boot = body.Boot;
  if (boot === undefined) return { status: 204 };
  if (!isObject(boot)) return fail(400, 'PropertyValueTypeError', 'The value of the property Boot must be an object.');
  const next = { ...(await handler.getBoot()) };
  for (const [key, value] of Object.entries(boot)) {
    if (key === 'BootSourceOverrideTarget') {
      if (!(EMULATED_BOOT_TARGETS as readonly Json[]).includes(value)) return notInList(key, value, EMULATED_BOOT_TARGETS);
      next.target = value as BootTarget;
    } else if (key === 'BootSourceOverrideEnabled') {
      if (!(BOOT_ENABLED as readonly Json[]).includes(value)) return notInList(key, value, BOOT_ENABLED);
      next.enabled = value as BootEnabled;
    } else if (key === 'BootSourceOverrideMode') {
      if (!(EMULATED_BOOT_MODES as readonly Json[]).includes(value)) return notInList(key, value, EMULATED_BOOT_MODES);
      next.mode = value as BootMode;
    } else if (!key.endsWith('@Redfish.AllowableValues')) {
      return fail(400, 'PropertyNotWritable', `The property Boot/${key} is a read only property and cannot be assigned a value.`);
    }
  }
  await handler.setBoot(next);
  note(state, `Boot override set: ${next.target}, ${next.enabled}, ${next.mode}`);
  const after = res.withEtag(res.system(id, await handler.getPowerState(), await handler.getBoot()));
  return ok(after.body, { ETag: after.etag });
}

async function reset(state: EmulatorState, body: Resource): Promise<Reply> {
  const type = body.ResetType;
  if (type === undefined)
    return fail(400, 'ActionParameterMissing', 'The action ComputerSystem.Reset requires the parameter ResetType to be present in the request body.');
  if (!(EMULATED_RESET_TYPES as readonly Json[]).includes(type)) {
    const known = (RESET_TYPES as readonly Json[]).includes(type);
    return fail(
      400,
      known ? 'ActionParameterNotSupported' : 'ActionParameterValueNotInList',
      `The value '${JSON.stringify(type)}' for the parameter ResetType in the action ComputerSystem.Reset is not supported; allowed are ${EMULATED_RESET_TYPES.join(', ')}.`,
    );
  }
  const run = async () => {
    await state.handler.reset(type as ResetType);
    note(state, `ComputerSystem.Reset ${String(type)}`);
  };
  if (state.taskDelayMs <= 0) {
    await run();
    return { status: 204 };
  }
  if (state.tasks.size >= MAX_TASKS) for (const [k, t] of state.tasks) if (t.state !== 'Running') state.tasks.delete(k);
  const tid = String(state.nextTask++);
  const task: Task = { state: 'Running', started: Date.now(), messages: [] };
  state.tasks.set(tid, task);
  run().then(
    () => {
      task.state = 'Completed';
    },
    (error: unknown) => {
      state.onError?.(error, `ComputerSystem.Reset ${String(type)}`);
      task.state = 'Exception';
      task.messages = [{ id: 'Base.1.8.InternalError', message: `ComputerSystem.Reset ${String(type)} failed: ${(error as Error).message}` }];
      note(state, `ComputerSystem.Reset ${String(type)} failed`, 'Warning');
    },
  );
  return { status: 202, body: res.task(tid, 'Running', []), headers: { Location: `${R}/TaskService/TaskMonitors/${tid}`, 'Retry-After': '1' } };
}

function taskReply(state: EmulatorState, tid: string, monitor: boolean): Reply {
  const task = state.tasks.get(tid);
  if (!task) return fail(404, 'ResourceMissingAtURI', `There is no task ${tid}.`);
  const running = task.state === 'Running' || Date.now() - task.started < state.taskDelayMs;
  const shown = running ? 'Running' : task.state;
  const body = res.task(tid, shown, task.messages);
  if (monitor && running) return { status: 202, body, headers: { Location: `${R}/TaskService/TaskMonitors/${tid}`, 'Retry-After': '1' } };
  return ok(body);
}

async function insert(state: EmulatorState, body: Resource): Promise<Reply> {
  const image = body.Image;
  if (typeof image !== 'string' || !/^(https?|nfs|cifs):\/\/\S+$/i.test(image))
    return fail(
      400,
      image === undefined ? 'ActionParameterMissing' : 'ActionParameterValueFormatError',
      'The action VirtualMedia.InsertMedia needs the parameter Image: the URL of the image (http:// or https://).',
    );
  for (const key of Object.keys(body)) {
    if (!['Image', 'Inserted', 'WriteProtected', 'TransferMethod', 'TransferProtocolType'].includes(key))
      return fail(400, 'ActionParameterUnknown', `The action VirtualMedia.InsertMedia has no parameter ${key}.`);
  }
  if ((await state.handler.getMedia()).inserted) return fail(409, 'ResourceInUse', 'The virtual CD already holds an image; eject it first.');
  await state.handler.insertMedia(image);
  note(state, `Virtual CD inserted: ${image}`);
  return { status: 204 };
}

async function patchMedia(state: EmulatorState, body: Resource): Promise<Reply> {
  if (body.Inserted === false || body.Image === null) {
    await state.handler.ejectMedia();
    note(state, 'Virtual CD ejected');
    return { status: 204 };
  }
  const { Inserted: _inserted, ...rest } = body;
  if ((await state.handler.getMedia()).inserted) await state.handler.ejectMedia();
  return insert(state, rest);
}
