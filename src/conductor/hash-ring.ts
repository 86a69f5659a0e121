// A consistent hash ring (Ironic's common/hash_ring.py over tooz's HashRing): each member — a
// live conductor — is placed on a ring of 2^32 points at several virtual nodes, md5 of its
// name and the node's number; a machine belongs to the first member point at or after the md5
// of its name. When a member joins or leaves, only the machines between its points and their
// neighbours' change hands: about 1/N of them, the rest stay where they were.
// Pure: no clock, no I/O; the conductor registry rebuilds it from the live members.
import { createHash } from 'node:crypto';

/** Owners remembered per ring (a fleet's worth): power sync and the fleet page ask for every machine each time. */
const REMEMBERED = 100_000;

/** Virtual nodes per member. Ironic uses 2^5 partitions; more evens the shares (±10% at 128 for 3 members). */
export const DEFAULT_VIRTUAL_NODES = 128;

function point(text: string): number {
  return createHash('md5').update(text).digest().readUInt32BE(0);
}

export class HashRing {
  readonly members: readonly string[];
  /** Sorted ring positions and, at the same index, the member each belongs to. */
  readonly #points: Uint32Array;
  readonly #owners: string[];
  /** owner() per key already asked: an md5 and a search each, 10,000 at every pass and page. */
  readonly #known = new Map<string, string>();

  constructor(members: Iterable<string>, virtualNodes: number = DEFAULT_VIRTUAL_NODES) {
    if (!Number.isInteger(virtualNodes) || virtualNodes < 1) throw new RangeError(`virtual nodes must be a positive integer, not ${virtualNodes}`);
    this.members = [...new Set(members)].sort();
    const placed: Array<[number, string]> = [];
    for (const member of this.members) for (let i = 0; i < virtualNodes; i++) placed.push([point(`${member}-${i}`), member]);
    // Equal points (rare) are ordered by member so every process builds the same ring.
    placed.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    this.#points = Uint32Array.from(placed.map(([p]) => p));
    this.#owners = placed.map(([, m]) => m);
  }

  /** The member a key (a machine's name) belongs to; undefined on an empty ring. */
  owner(key: string): string | undefined {
    if (this.#owners.length === 0) return undefined;
    const known = this.#known.get(key);
    if (known !== undefined) return known;
    const h = point(key);
    let lo = 0;
    let hi = this.#points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    const owner = this.#owners[lo === this.#points.length ? 0 : lo]!;
    if (this.#known.size >= REMEMBERED) this.#known.clear();
    this.#known.set(key, owner);
    return owner;
  }

  /** True when both rings have the same members (so they place every key alike). */
  sameMembers(members: Iterable<string>): boolean {
    const other = [...new Set(members)].sort();
    return other.length === this.members.length && other.every((m, i) => m === this.members[i]);
  }
}
