// What a system is made of (processors, memory, NICs with their MACs, storage) and the log
// entries of its managers and its own LogServices, read through the links of the
// ComputerSystem (DSP8010 ComputerSystem, Processor, Memory, EthernetInterface, Storage,
// SimpleStorage, LogService, LogEntry). A collection the system lacks is an empty list.
import { isObject, link } from './codec.ts';
import type { Resource } from './codec.ts';
import { REDFISH_DEFAULTS } from './constants.ts';
import type { RedfishClient } from './client.ts';

export interface Inventory {
  readonly id: string;
  readonly manufacturer?: string;
  readonly model?: string;
  readonly serialNumber?: string;
  readonly processors: readonly { id: string; model?: string; cores?: number; threads?: number }[];
  readonly memory: readonly { id: string; capacityMiB?: number }[];
  readonly nics: readonly { id: string; mac?: string; linkStatus?: string }[];
  readonly storage: readonly { id: string; name?: string; devices: readonly { name?: string; capacityBytes?: number }[] }[];
}

export interface LogEntry {
  /** The LogService it came from. */
  readonly log: string;
  readonly id: string;
  readonly created?: string;
  readonly severity?: string;
  readonly message?: string;
}

const str = (r: Resource, k: string): string | undefined => (typeof r[k] === 'string' ? (r[k] as string) : undefined);
const num = (r: Resource, k: string): number | undefined => (typeof r[k] === 'number' ? (r[k] as number) : undefined);
const opt = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** The members of the collection that `key` links, read one by one; none when the link is absent. */
async function expand(client: RedfishClient, resource: Resource, key: string): Promise<Resource[]> {
  const path = link(resource, key);
  if (path === undefined) return [];
  const paths = await client.members(path);
  return Promise.all(paths.slice(0, REDFISH_DEFAULTS.maxMembers).map((p) => client.get(p)));
}

function idOf(r: Resource): string {
  return str(r, 'Id') ?? str(r, '@odata.id') ?? '?';
}

export async function readInventory(client: RedfishClient): Promise<Inventory> {
  const { resource: system } = await client.system();
  const [processors, memory, nics, storage, simple] = await Promise.all(
    ['Processors', 'Memory', 'EthernetInterfaces', 'Storage', 'SimpleStorage'].map((k) => expand(client, system, k)),
  );
  const storageUnits = await Promise.all(
    (storage ?? []).map(async (s) => {
      const drives = Array.isArray(s.Drives) ? s.Drives.filter(isObject).slice(0, REDFISH_DEFAULTS.maxMembers) : [];
      const read = await Promise.all(drives.map((d) => (typeof d['@odata.id'] === 'string' ? client.get(d['@odata.id']) : Promise.resolve(d))));
      return { id: idOf(s), ...opt({ name: str(s, 'Name') }), devices: read.map((d) => opt({ name: str(d, 'Name'), capacityBytes: num(d, 'CapacityBytes') })) };
    }),
  );
  const simpleUnits = (simple ?? []).map((s) => ({
    id: idOf(s),
    ...opt({ name: str(s, 'Name') }),
    devices: (Array.isArray(s.Devices) ? s.Devices.filter(isObject) : []).map((d) => opt({ name: str(d, 'Name'), capacityBytes: num(d, 'CapacityBytes') })),
  }));
  return {
    id: idOf(system),
    ...opt({ manufacturer: str(system, 'Manufacturer'), model: str(system, 'Model'), serialNumber: str(system, 'SerialNumber') }),
    processors: (processors ?? []).map((p) => ({
      id: idOf(p),
      ...opt({ model: str(p, 'Model'), cores: num(p, 'TotalCores'), threads: num(p, 'TotalThreads') }),
    })),
    memory: (memory ?? []).map((m) => ({ id: idOf(m), ...opt({ capacityMiB: num(m, 'CapacityMiB') }) })),
    nics: (nics ?? []).map((n) => ({ id: idOf(n), ...opt({ mac: str(n, 'MACAddress') ?? str(n, 'PermanentMACAddress'), linkStatus: str(n, 'LinkStatus') }) })),
    storage: [...storageUnits, ...simpleUnits],
  };
}

/** The managers of the service (or of the system, through Links.ManagedBy). */
export async function managerPaths(client: RedfishClient): Promise<string[]> {
  const root = await client.serviceRoot();
  const managers = link(root, 'Managers');
  return managers === undefined ? [] : client.members(managers);
}

/** The log entries of every LogService of `owner` (a manager or system path), newest last, at most `max`. */
export async function readLogEntries(client: RedfishClient, owner: string, max: number = REDFISH_DEFAULTS.maxMembers): Promise<LogEntry[]> {
  const resource = await client.get(owner);
  const services = await expand(client, resource, 'LogServices');
  const out: LogEntry[] = [];
  for (const service of services) {
    const entries = link(service, 'Entries');
    if (entries === undefined) continue;
    const collection = await client.get(entries);
    const members = Array.isArray(collection.Members) ? collection.Members.filter(isObject) : [];
    for (const m of members.slice(0, max - out.length)) {
      // Services often expand entries in the collection; otherwise each is read.
      const entry = typeof m.Message === 'string' || typeof m['@odata.id'] !== 'string' ? m : await client.get(m['@odata.id']);
      out.push({
        log: idOf(service),
        id: idOf(entry),
        ...opt({ created: str(entry, 'Created'), severity: str(entry, 'Severity'), message: str(entry, 'Message') }),
      });
    }
    if (out.length >= max) break;
  }
  return out;
}
