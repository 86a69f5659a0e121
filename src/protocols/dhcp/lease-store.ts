// Where server mode keeps its leases. The interface is small so the lead can back it with
// anvil's database; the library ships an in-memory store and a JSON-file store.
// One record per MAC (a MAC keeps its address across leases: per-MAC stickiness), and an
// address belongs to at most one record.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { DhcpError } from './errors.ts';

/**
 * offered: held for the client between OFFER and REQUEST (RFC 2131 §4.3.1);
 * bound: ACKed, valid until expiresAt; released: the client gave it back (RFC 2131 §4.4.6),
 * kept so the same MAC gets the same address again.
 */
export type LeaseState = 'offered' | 'bound' | 'released';

export interface Lease {
  readonly mac: string;
  readonly address: string;
  readonly state: LeaseState;
  /** Milliseconds since the epoch (from the server's injected clock). */
  readonly expiresAt: number;
  readonly hostname?: string;
  /** Option 61 as hex, when the client sent one. */
  readonly clientId?: string;
}

export interface LeaseStore {
  /** The record of a MAC (lower-case, colon-separated), whatever its state. */
  get(mac: string): Promise<Lease | undefined>;
  /** The record holding an address, whatever its state. */
  byAddress(address: string): Promise<Lease | undefined>;
  /** Inserts or replaces the record of lease.mac; drops any other record of that address. */
  put(lease: Lease): Promise<void>;
  delete(mac: string): Promise<void>;
  list(): Promise<Lease[]>;
}

export class MemoryLeaseStore implements LeaseStore {
  readonly #byMac = new Map<string, Lease>();
  readonly #byAddress = new Map<string, Lease>();

  constructor(initial: Iterable<Lease> = []) {
    for (const lease of initial) this.#put(lease);
  }

  async get(mac: string): Promise<Lease | undefined> {
    return this.#byMac.get(mac);
  }

  async byAddress(address: string): Promise<Lease | undefined> {
    return this.#byAddress.get(address);
  }

  async put(lease: Lease): Promise<void> {
    this.#put(lease);
  }

  async delete(mac: string): Promise<void> {
    this.#delete(mac);
  }

  async list(): Promise<Lease[]> {
    return [...this.#byMac.values()];
  }

  #put(lease: Lease): void {
    this.#delete(lease.mac);
    const holder = this.#byAddress.get(lease.address);
    if (holder !== undefined) this.#byMac.delete(holder.mac);
    this.#byMac.set(lease.mac, lease);
    this.#byAddress.set(lease.address, lease);
  }

  #delete(mac: string): void {
    const old = this.#byMac.get(mac);
    if (old === undefined) return;
    this.#byMac.delete(mac);
    if (this.#byAddress.get(old.address) === old) this.#byAddress.delete(old.address);
  }
}

const JSON_STORE_VERSION = 1;

/**
 * A MemoryLeaseStore persisted to one JSON file after every change, written to a temporary
 * file and renamed so a crash never leaves half a file. Writes are serialised. Meant for the
 * library used on its own; anvil itself backs the store with its database.
 */
export class JsonFileLeaseStore implements LeaseStore {
  readonly #path: string;
  readonly #memory: MemoryLeaseStore;
  #writing: Promise<void> = Promise.resolve();

  private constructor(path: string, leases: Lease[]) {
    this.#path = path;
    this.#memory = new MemoryLeaseStore(leases);
  }

  /** Opens (or starts) the file; a missing file is an empty store, a corrupt one an error. */
  static async open(path: string): Promise<JsonFileLeaseStore> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new JsonFileLeaseStore(path, []);
      throw new DhcpError('DHCP_STORE', `cannot read the lease file ${path}`, { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new DhcpError('DHCP_STORE', `lease file ${path} is not JSON; move it away to start empty`, { cause: err });
    }
    const leases = (parsed as { leases?: unknown }).leases;
    if (!Array.isArray(leases) || !leases.every(isLease)) {
      throw new DhcpError('DHCP_STORE', `lease file ${path} does not hold a list of leases`);
    }
    return new JsonFileLeaseStore(path, leases);
  }

  get(mac: string): Promise<Lease | undefined> {
    return this.#memory.get(mac);
  }

  byAddress(address: string): Promise<Lease | undefined> {
    return this.#memory.byAddress(address);
  }

  list(): Promise<Lease[]> {
    return this.#memory.list();
  }

  async put(lease: Lease): Promise<void> {
    await this.#memory.put(lease);
    await this.#save();
  }

  async delete(mac: string): Promise<void> {
    await this.#memory.delete(mac);
    await this.#save();
  }

  #save(): Promise<void> {
    const next = this.#writing.then(async () => {
      const body = JSON.stringify({ version: JSON_STORE_VERSION, leases: await this.#memory.list() }, null, 1);
      const tmp = `${this.#path}.tmp-${process.pid}`;
      try {
        await writeFile(tmp, body);
        await rename(tmp, this.#path);
      } catch (err) {
        throw new DhcpError('DHCP_STORE', `cannot write the lease file ${this.#path}`, { cause: err });
      }
    });
    // A failed write must not wedge later ones; the caller of this write still sees the error.
    this.#writing = next.catch(() => undefined);
    return next;
  }
}

function isLease(v: unknown): v is Lease {
  if (typeof v !== 'object' || v === null) return false;
  const l = v as Record<string, unknown>;
  return (
    typeof l.mac === 'string' &&
    typeof l.address === 'string' &&
    (l.state === 'offered' || l.state === 'bound' || l.state === 'released') &&
    typeof l.expiresAt === 'number'
  );
}
