// Where server mode keeps its leases. The interface is small so the lead can back it with
// anvil's database; the library ships an in-memory store and a JSON-file store.
// One record per MAC (a MAC keeps its address across leases: per-MAC stickiness), and an
// address belongs to at most one record.
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
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

/** The journal is folded into the snapshot once it has this many lines per lease (and at least JOURNAL_MIN_LINES). */
export const JOURNAL_LINES_PER_LEASE = 2;
export const JOURNAL_MIN_LINES = 1000;

/** A journal line: a lease as it now is, or the deletion of a MAC's record. */
type JournalRecord = Lease | { readonly mac: string; readonly deleted: true };

/**
 * A MemoryLeaseStore persisted to a JSON snapshot (PATH) and a journal beside it
 * (PATH.journal, one JSON line per change), as ISC dhcpd keeps its leases. A change is
 * appended before put() or delete() resolves, synchronously: a line costs microseconds,
 * where rewriting every lease cost O(leases) and four event-loop turns per change, while the
 * DHCP server waits for each change before the next request — under a boot storm's HTTP
 * load that starved DHCP (bench/boot-storm.ts). The journal is folded into the snapshot at
 * open and when it grows long; the snapshot is written to a temporary file and renamed, so
 * a crash never leaves half a file, and replaying a journal already folded in is harmless.
 * As before, nothing is fsynced: a change survives the process, not a power cut.
 */
export class JsonFileLeaseStore implements LeaseStore {
  readonly #path: string;
  readonly #journal: string;
  readonly #memory: MemoryLeaseStore;
  #journalLines = 0;
  /** Lines after which the journal is folded in; set from the number of leases at each fold. */
  #journalLimit = JOURNAL_MIN_LINES;

  private constructor(path: string, leases: Lease[]) {
    this.#path = path;
    this.#journal = `${path}.journal`;
    this.#memory = new MemoryLeaseStore(leases);
  }

  /** Opens (or starts) the files; missing files are an empty store, a corrupt one an error. */
  static async open(path: string): Promise<JsonFileLeaseStore> {
    const text = await readIfThere(path);
    let leases: Lease[] = [];
    if (text !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new DhcpError('DHCP_STORE', `lease file ${path} is not JSON; move it away to start empty`, { cause: err });
      }
      const list = (parsed as { leases?: unknown }).leases;
      if (!Array.isArray(list) || !list.every(isLease)) {
        throw new DhcpError('DHCP_STORE', `lease file ${path} does not hold a list of leases`);
      }
      leases = list;
    }
    const store = new JsonFileLeaseStore(path, leases);
    const journal = (await readIfThere(store.#journal)) ?? '';
    const lines = journal.split('\n');
    // A last line without its newline was cut short by a crash while it was written: not applied.
    lines.pop();
    for (const [i, line] of lines.entries()) {
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch (err) {
        throw new DhcpError('DHCP_STORE', `lease journal ${store.#journal} line ${i + 1} is not JSON; move it away to start from ${path} alone`, {
          cause: err,
        });
      }
      if (isLease(record)) await store.#memory.put(record);
      else if (isDeletion(record)) await store.#memory.delete(record.mac);
      else throw new DhcpError('DHCP_STORE', `lease journal ${store.#journal} line ${i + 1} is neither a lease nor a deletion`);
    }
    await store.#compact();
    return store;
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
    await this.#append(lease);
  }

  async delete(mac: string): Promise<void> {
    await this.#memory.delete(mac);
    await this.#append({ mac, deleted: true });
  }

  async #append(record: JournalRecord): Promise<void> {
    try {
      appendFileSync(this.#journal, `${JSON.stringify(record)}\n`);
    } catch (err) {
      throw new DhcpError('DHCP_STORE', `cannot write the lease journal ${this.#journal}`, { cause: err });
    }
    if (++this.#journalLines >= this.#journalLimit) await this.#compact();
  }

  /** Writes the snapshot, then empties the journal it now contains. */
  async #compact(): Promise<void> {
    const leases = await this.#memory.list();
    const body = JSON.stringify({ version: JSON_STORE_VERSION, leases }, null, 1);
    const tmp = `${this.#path}.tmp-${process.pid}`;
    try {
      writeFileSync(tmp, body);
      renameSync(tmp, this.#path);
      writeFileSync(this.#journal, '');
    } catch (err) {
      throw new DhcpError('DHCP_STORE', `cannot write the lease file ${this.#path}`, { cause: err });
    }
    this.#journalLines = 0;
    this.#journalLimit = Math.max(JOURNAL_MIN_LINES, JOURNAL_LINES_PER_LEASE * leases.length);
  }
}

async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DhcpError('DHCP_STORE', `cannot read the lease file ${path}`, { cause: err });
  }
}

function isDeletion(v: unknown): v is { mac: string; deleted: true } {
  return typeof v === 'object' && v !== null && typeof (v as { mac?: unknown }).mac === 'string' && (v as { deleted?: unknown }).deleted === true;
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
