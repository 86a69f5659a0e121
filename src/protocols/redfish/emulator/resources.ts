// The emulated BMC's resources as Redfish JSON (DSP8010 schemas): the service root, one
// ComputerSystem with its Boot AllowableValues and Reset action, one Manager with a virtual
// CD and a log, the SessionService and the TaskService. Pure: state in, JSON out.
import { createHash } from 'node:crypto';
import type { Json, Resource } from '../codec.ts';
import { EMULATED_BOOT_MODES, EMULATED_BOOT_TARGETS, EMULATED_RESET_TYPES } from './handler.ts';
import type { BootOverrideState, EmulatedPowerState, MediaState } from './handler.ts';

export const R = '/redfish/v1';
const ref = (path: string) => ({ '@odata.id': path });
const collection = (type: string, path: string, name: string, members: readonly string[]): Resource => ({
  '@odata.type': `#${type}Collection.${type}Collection`,
  '@odata.id': path,
  Name: name,
  Members: members.map(ref),
  'Members@odata.count': members.length,
});

export interface Identity {
  readonly systemId: string;
  readonly managerId: string;
  readonly uuid: string;
  readonly name: string;
  readonly macs: readonly string[];
}

export function serviceRoot(id: Identity): Resource {
  return {
    '@odata.type': '#ServiceRoot.v1_15_0.ServiceRoot',
    '@odata.id': `${R}/`,
    Id: 'RootService',
    Name: 'anvil emulated Redfish BMC',
    RedfishVersion: '1.15.0',
    UUID: id.uuid,
    Systems: ref(`${R}/Systems`),
    Managers: ref(`${R}/Managers`),
    SessionService: ref(`${R}/SessionService`),
    Tasks: ref(`${R}/TaskService`),
    Links: { Sessions: ref(`${R}/SessionService/Sessions`) },
  };
}

export const systems = (id: Identity) => collection('ComputerSystem', `${R}/Systems`, 'Computer System Collection', [`${R}/Systems/${id.systemId}`]);
export const managers = (id: Identity) => collection('Manager', `${R}/Managers`, 'Manager Collection', [`${R}/Managers/${id.managerId}`]);

export function system(id: Identity, power: EmulatedPowerState, boot: BootOverrideState): Resource {
  const path = `${R}/Systems/${id.systemId}`;
  return {
    '@odata.type': '#ComputerSystem.v1_20_0.ComputerSystem',
    '@odata.id': path,
    Id: id.systemId,
    Name: id.name,
    SystemType: 'Virtual',
    Manufacturer: 'anvil',
    Model: 'emulated',
    UUID: id.uuid,
    PowerState: power,
    Status: { State: 'Enabled', Health: 'OK' },
    Boot: {
      BootSourceOverrideTarget: boot.target,
      'BootSourceOverrideTarget@Redfish.AllowableValues': [...EMULATED_BOOT_TARGETS],
      BootSourceOverrideEnabled: boot.enabled,
      'BootSourceOverrideEnabled@Redfish.AllowableValues': ['Disabled', 'Once', 'Continuous'],
      BootSourceOverrideMode: boot.mode,
      'BootSourceOverrideMode@Redfish.AllowableValues': [...EMULATED_BOOT_MODES],
    },
    EthernetInterfaces: ref(`${path}/EthernetInterfaces`),
    Links: { ManagedBy: [ref(`${R}/Managers/${id.managerId}`)] },
    Actions: {
      '#ComputerSystem.Reset': { target: `${path}/Actions/ComputerSystem.Reset`, 'ResetType@Redfish.AllowableValues': [...EMULATED_RESET_TYPES] },
    },
  };
}

export function ethernetInterfaces(id: Identity): Resource {
  return collection(
    'EthernetInterface',
    `${R}/Systems/${id.systemId}/EthernetInterfaces`,
    'Ethernet Interface Collection',
    id.macs.map((_, i) => `${R}/Systems/${id.systemId}/EthernetInterfaces/${i + 1}`),
  );
}

export function ethernetInterface(id: Identity, index: number): Resource | undefined {
  const mac = id.macs[index - 1];
  if (mac === undefined) return undefined;
  return {
    '@odata.type': '#EthernetInterface.v1_6_0.EthernetInterface',
    '@odata.id': `${R}/Systems/${id.systemId}/EthernetInterfaces/${index}`,
    Id: String(index),
    Name: `NIC ${index}`,
    MACAddress: mac,
    PermanentMACAddress: mac,
    LinkStatus: 'LinkUp',
  };
}

export function manager(id: Identity): Resource {
  const path = `${R}/Managers/${id.managerId}`;
  return {
    '@odata.type': '#Manager.v1_10_0.Manager',
    '@odata.id': path,
    Id: id.managerId,
    Name: 'anvil emulated BMC',
    ManagerType: 'BMC',
    Status: { State: 'Enabled', Health: 'OK' },
    VirtualMedia: ref(`${path}/VirtualMedia`),
    LogServices: ref(`${path}/LogServices`),
    Links: { ManagerForServers: [ref(`${R}/Systems/${id.systemId}`)] },
  };
}

export const virtualMediaCollection = (id: Identity) =>
  collection('VirtualMedia', `${R}/Managers/${id.managerId}/VirtualMedia`, 'Virtual Media Collection', [`${R}/Managers/${id.managerId}/VirtualMedia/Cd`]);

export function virtualMedia(id: Identity, media: MediaState): Resource {
  const path = `${R}/Managers/${id.managerId}/VirtualMedia/Cd`;
  return {
    '@odata.type': '#VirtualMedia.v1_6_0.VirtualMedia',
    '@odata.id': path,
    Id: 'Cd',
    Name: 'Virtual CD',
    MediaTypes: ['CD', 'DVD'],
    Image: media.image ?? null,
    Inserted: media.inserted,
    WriteProtected: true,
    ConnectedVia: media.inserted ? 'URI' : 'NotConnected',
    Actions: {
      '#VirtualMedia.InsertMedia': { target: `${path}/Actions/VirtualMedia.InsertMedia` },
      '#VirtualMedia.EjectMedia': { target: `${path}/Actions/VirtualMedia.EjectMedia` },
    },
  };
}

export const logServices = (id: Identity) =>
  collection('LogService', `${R}/Managers/${id.managerId}/LogServices`, 'Log Service Collection', [`${R}/Managers/${id.managerId}/LogServices/Log`]);

export function logService(id: Identity): Resource {
  const path = `${R}/Managers/${id.managerId}/LogServices/Log`;
  return { '@odata.type': '#LogService.v1_1_0.LogService', '@odata.id': path, Id: 'Log', Name: 'BMC event log', Entries: ref(`${path}/Entries`) };
}

export interface LogRecord {
  readonly id: number;
  readonly created: string;
  readonly message: string;
  readonly severity: 'OK' | 'Warning' | 'Critical';
}

function logEntry(id: Identity, r: LogRecord): Resource {
  return {
    '@odata.type': '#LogEntry.v1_4_0.LogEntry',
    '@odata.id': `${R}/Managers/${id.managerId}/LogServices/Log/Entries/${r.id}`,
    Id: String(r.id),
    Name: `Log entry ${r.id}`,
    EntryType: 'Event',
    Created: r.created,
    Severity: r.severity,
    Message: r.message,
  };
}

/** The entries, expanded in the collection as many BMCs do. */
export function logEntries(id: Identity, records: readonly LogRecord[]): Resource {
  return {
    '@odata.type': '#LogEntryCollection.LogEntryCollection',
    '@odata.id': `${R}/Managers/${id.managerId}/LogServices/Log/Entries`,
    Name: 'Log entries',
    Members: records.map((r) => logEntry(id, r)),
    'Members@odata.count': records.length,
  };
}

export const sessionService = (timeoutS: number): Resource => ({
  '@odata.type': '#SessionService.v1_1_8.SessionService',
  '@odata.id': `${R}/SessionService`,
  Id: 'SessionService',
  Name: 'Session Service',
  ServiceEnabled: true,
  SessionTimeout: timeoutS,
  Sessions: ref(`${R}/SessionService/Sessions`),
});

export const sessions = (ids: readonly string[]) =>
  collection(
    'Session',
    `${R}/SessionService/Sessions`,
    'Session Collection',
    ids.map((s) => `${R}/SessionService/Sessions/${s}`),
  );

export const session = (sid: string, user: string): Resource => ({
  '@odata.type': '#Session.v1_3_0.Session',
  '@odata.id': `${R}/SessionService/Sessions/${sid}`,
  Id: sid,
  Name: `Session ${sid}`,
  UserName: user,
});

export const taskService = (): Resource => ({
  '@odata.type': '#TaskService.v1_2_0.TaskService',
  '@odata.id': `${R}/TaskService`,
  Id: 'TaskService',
  Name: 'Task Service',
  ServiceEnabled: true,
  Tasks: ref(`${R}/TaskService/Tasks`),
});

export function task(tid: string, state: string, messages: readonly { message: string; id: string }[]): Resource {
  return {
    '@odata.type': '#Task.v1_6_0.Task',
    '@odata.id': `${R}/TaskService/Tasks/${tid}`,
    Id: tid,
    Name: `Task ${tid}`,
    TaskState: state,
    TaskStatus: state === 'Exception' ? 'Critical' : 'OK',
    TaskMonitor: `${R}/TaskService/TaskMonitors/${tid}`,
    Messages: messages.map((m) => ({ MessageId: m.id, Message: m.message })),
  };
}

/** A weak ETag of a resource's JSON (DSP0266 §8.4), also put in its @odata.etag. */
export function withEtag(resource: Resource): { body: Resource; etag: string } {
  const etag = `W/"${createHash('sha256').update(JSON.stringify(resource)).digest('hex').slice(0, 16)}"`;
  return { body: { ...resource, '@odata.etag': etag } as { [k: string]: Json }, etag };
}
