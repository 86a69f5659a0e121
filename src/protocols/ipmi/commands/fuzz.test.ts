// Every response decoder, fed random and truncated bytes, returns a value or throws the
// typed decode error — never a TypeError or RangeError (DESIGN.md: bounded parsers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpmiDecodeError } from '../errors.ts';
import { xorshift32 } from '../../testing/prng.ts';
import { decodeBootFlags, decodeChassisStatus, decodeSystemBootOptions } from './chassis.ts';
import { decodeDeviceId, decodeGuid } from './device.ts';
import { decodeUserAccess, decodeUserName } from './users.ts';
import { decodeGetSdr, decodeSdrRecord, decodeSensorReading, decodeSensorThresholds, decodeSdrRepositoryInfo } from './sdr.ts';
import { decodeClearSel, decodeSelEntry, decodeSelInfo, decodeSelTime } from './sel.ts';
import { decodeFru, decodeFruInventoryAreaInfo, decodeReadFruData } from './fru.ts';
import { decodeLanConfig } from './lan.ts';
import { decodeTypeLength } from './type-length.ts';

const DECODERS: Record<string, (data: Uint8Array) => unknown> = {
  decodeBootFlags,
  decodeChassisStatus,
  decodeSystemBootOptions,
  decodeDeviceId,
  decodeGuid,
  decodeUserAccess,
  decodeUserName,
  decodeGetSdr,
  decodeSdrRecord,
  decodeSensorReading,
  decodeSensorThresholds,
  decodeSdrRepositoryInfo,
  decodeClearSel,
  decodeSelEntry,
  decodeSelInfo,
  decodeSelTime,
  decodeFru,
  decodeFruInventoryAreaInfo,
  decodeReadFruData,
  decodeLanConfig,
  decodeTypeLength: (d) => decodeTypeLength(d, 0),
};

/** Bytes from a fixed seed: every run feeds the same ones. */
function prng(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() & 0xff;
}

const ROUNDS = 3000;
const MAX_LENGTH = 96;

test('decoders throw only IpmiDecodeError on random input', () => {
  const next = prng(0x1a2b3c4d);
  for (const [name, decode] of Object.entries(DECODERS)) {
    for (let round = 0; round < ROUNDS; round++) {
      const length = next() % MAX_LENGTH;
      const data = Uint8Array.from({ length }, next);
      // Make FRU and SDR headers plausible half the time, to reach deeper code.
      if (round % 2 === 0 && length > 8 && name === 'decodeFru') data[0] = 1;
      if (round % 2 === 0 && length > 5 && name === 'decodeSdrRecord') data[4] = Math.max(0, length - 5);
      try {
        decode(data);
      } catch (error) {
        assert.ok(
          error instanceof IpmiDecodeError,
          `${name}(${Buffer.from(data).toString('hex')}) threw ${(error as Error).name}: ${(error as Error).message}`,
        );
      }
    }
  }
});
