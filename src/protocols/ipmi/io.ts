// I/O helpers shared by the client and the BMC emulator, both of which send a datagram per
// message to many peers: pooled CSPRNG bytes and a dgram lookup that answers IP literals at once.
import { randomBytes } from 'node:crypto';
import type { SocketOptions } from 'node:dgram';
import { isIP } from 'node:net';

/** Random bytes are drawn from the kernel this many at a time: one call per ~200 packets, not one per packet. */
export const RANDOM_POOL_BYTES = 4096;

/**
 * The system CSPRNG, pooled. Each caller gets its own range of the pool as a view (a copy
 * each was 4% of a fleet client's allocations); ranges never overlap and a pool is
 * never refilled in place, so no two callers share bytes.
 */
export function pooledRandomBytes(): (n: number) => Buffer {
  return pooledRandomness().bytes;
}

/**
 * pooledRandomBytes, and uniform fractions in [0, 1) from the same pool: 4 of its bytes read
 * in place, with no view made for them (a retry jitter per request, and a view was ~2 µs).
 */
export function pooledRandomness(): { bytes(n: number): Buffer; fraction(): number } {
  let pool = randomBytes(RANDOM_POOL_BYTES);
  let used = 0;
  const take = (n: number): number => {
    if (used + n > RANDOM_POOL_BYTES) {
      pool = randomBytes(RANDOM_POOL_BYTES);
      used = 0;
    }
    used += n;
    return used - n;
  };
  return {
    bytes: (n) => {
      if (n > RANDOM_POOL_BYTES) return randomBytes(n);
      const at = take(n);
      return pool.subarray(at, at + n);
    },
    fraction: () => pool.readUInt32LE(take(4)) / 2 ** 32,
  };
}

/**
 * The `lookup` option of dgram.createSocket. node:dgram looks up the address of every
 * datagram it sends, and dns.lookup answers an IP literal on the next tick; at tens of
 * thousands of datagrams a second that tick is measurable. IP literals are answered at
 * once, names still go through dns.lookup (node:dns loaded then: ~1 ms of a command's start).
 */
export const literalLookup: NonNullable<SocketOptions['lookup']> = (address, options, callback) => {
  const literal = isIP(address);
  if (literal !== 0) return callback(null, address, literal);
  import('node:dns').then(
    (dns) => dns.lookup(address, options, callback),
    (error: Error) => callback(error, '', 0),
  );
};
