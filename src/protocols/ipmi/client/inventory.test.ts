// The SDR walk's recovery paths, which the peers at hand never trigger: a BMC that refuses
// large partial reads (0xCA) and one that cancels the reservation mid-record (0xC5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Inventory } from './inventory.ts';
import type { RawResponse, Session } from './session.ts';
import type { CommandRequest } from '../commands/request.ts';
import { StorageCmd, CompletionCode } from '../constants.ts';

const NAME = Buffer.from('CPU Temp');
const RECORD = Uint8Array.from([
  0x01,
  0x00,
  0x51,
  0x01,
  0x33,
  0x20,
  0x00,
  0x30,
  0x03,
  0x01,
  0x7f,
  0x68,
  0x01,
  0x01,
  0,
  0,
  0,
  0,
  0x38,
  0x3f,
  0x00,
  0x01,
  0x00,
  0x00,
  0x01,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0xff,
  0,
  0x64,
  0x5a,
  0x50,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0xc0 | NAME.length,
  ...NAME,
]);

/** A BMC with one SDR that answers at most `maxRead` bytes and cancels the first reservation after `cancelAfter` reads. */
function fakeSession(maxRead: number, cancelAfter: number): { session: Session; reservations: number[] } {
  let reservation = 0;
  let reads = 0;
  const reservations: number[] = [];
  const requestRaw = async (req: CommandRequest): Promise<RawResponse> => {
    if (req.cmd === StorageCmd.RESERVE_SDR_REPOSITORY) {
      reservation++;
      reservations.push(reservation);
      return { completionCode: 0, data: Uint8Array.from([reservation, 0]) };
    }
    if (req.cmd === StorageCmd.GET_SDR) {
      const [resLo = 0, , , , offset = 0, count = 0] = req.data;
      if (++reads === cancelAfter && resLo === 1) return { completionCode: CompletionCode.INVALID_RESERVATION, data: new Uint8Array() };
      if (count > maxRead) return { completionCode: CompletionCode.CANNOT_RETURN_REQUESTED_BYTES, data: new Uint8Array() };
      return { completionCode: 0, data: Uint8Array.from([0xff, 0xff, ...RECORD.subarray(offset, offset + count)]) };
    }
    return { completionCode: CompletionCode.INVALID_COMMAND, data: new Uint8Array() };
  };
  return { session: { host: 'fake', requestRaw } as unknown as Session, reservations };
}

test('SDR walk: partial reads shrink on 0xCA, a cancelled reservation is renewed and the record re-read', async () => {
  const { session, reservations } = fakeSession(10, 3);
  const records = await new Inventory(session).sdrRecords();
  assert.equal(records.length, 1);
  assert.equal(records[0]?.type === 'full' && records[0].name, 'CPU Temp');
  assert.deepEqual(reservations, [1, 2]);
});
