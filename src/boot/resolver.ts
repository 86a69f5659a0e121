// Finds the machine behind a request that names none (pxemngr's bare /profile/, /nexttest/,
// /localboot/, /upload/): from the source address through anvil's DHCP leases, then the
// kernel's ARP table. Both only work when the machine is on a network anvil's host is on.
import { readFile } from 'node:fs/promises';
import { parseMac } from '../machines/mac.ts';

export const PROC_NET_ARP = '/proc/net/arp';

/** Something that maps an IPv4 address to a MAC: anvil's lease table, the ARP table. */
export interface AddressSource {
  readonly name: string;
  macOf(address: string): Promise<string | undefined>;
}

/** The kernel's ARP table (/proc/net/arp), read at each lookup: entries change all the time. */
export function arpTable(path = PROC_NET_ARP): AddressSource {
  return {
    name: 'ARP table',
    async macOf(address) {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        return undefined;
      }
      for (const line of text.split('\n').slice(1)) {
        const [ip, , flags, hw] = line.trim().split(/\s+/);
        // Flags 0x0 is an incomplete entry: the MAC column is all zeroes.
        if (ip === address && flags !== '0x0' && hw) return parseMac(hw);
      }
      return undefined;
    },
  };
}

/** '::ffff:10.0.0.5' → '10.0.0.5'; other addresses as they are. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export class AddressResolver {
  readonly #sources: AddressSource[];

  constructor(sources: AddressSource[]) {
    this.#sources = sources;
  }

  /** Adds a source in front of the others (the DHCP lease table, once DHCP runs). */
  prepend(source: AddressSource): void {
    this.#sources.unshift(source);
  }

  get sourceNames(): string[] {
    return this.#sources.map((s) => s.name);
  }

  async macOf(address: string): Promise<string | undefined> {
    const plain = plainAddress(address);
    for (const source of this.#sources) {
      const mac = await source.macOf(plain);
      if (mac) return mac;
    }
    return undefined;
  }
}
