// I/O helpers shared by the client and the BMC emulator, both of which send a datagram per
// message to many peers: pooled CSPRNG bytes and a dgram lookup that answers IP literals at once.
import type { SocketOptions } from 'node:dgram';
import { openSync, readSync } from 'node:fs';
import { isIP } from 'node:net';

/** Random bytes are drawn from the kernel this many at a time: one call per ~200 packets, not one per packet. */
export const RANDOM_POOL_BYTES = 4096;

/** /dev/urandom, opened at the first draw and kept open. */
let urandom: number | undefined;

/**
 * n bytes of the kernel's CSPRNG (/dev/urandom, the pool getrandom(2) reads), in a buffer of
 * their own. Not node:crypto's randomBytes: loading node:crypto costs ~4.5 ms of a command's start.
 */
export function systemRandomBytes(n: number): Buffer {
  const out = Buffer.allocUnsafeSlow(n);
  urandom ??= openSync('/dev/urandom', 'r');
  for (let got = 0; got < n; ) got += readSync(urandom, out, got, n - got, null);
  return out;
}

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
  let pool = systemRandomBytes(RANDOM_POOL_BYTES);
  let used = 0;
  const take = (n: number): number => {
    if (used + n > RANDOM_POOL_BYTES) {
      pool = systemRandomBytes(RANDOM_POOL_BYTES);
      used = 0;
    }
    used += n;
    return used - n;
  };
  return {
    bytes: (n) => {
      if (n > RANDOM_POOL_BYTES) return systemRandomBytes(n);
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
