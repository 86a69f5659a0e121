import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chassisStatusLines, guidLines, rawLines, selInfoLines } from './ipmi-format.ts';
import { decodeChassisStatus } from '../protocols/ipmi/commands/chassis.ts';

test('mc guid: a time-based GUID carries its timestamp; unknown versions show their number', () => {
  assert.deepEqual(guidLines('ef561580-a3c5-11d7-0000-000000000000'), [
    'System GUID   : ef561580-a3c5-11d7-0000-000000000000',
    'GUID Encoding : IPMI',
    'GUID Version  : Time-based',
    'Timestamp     : 06/21/03 08:54:15 UTC',
  ]);
  assert.equal(guidLines('00000000-0000-9000-0000-000000000000')[2], 'GUID Version  : Unknown (9)');
});

test('chassis status: front panel byte, and "command" without a trailing space', () => {
  const lines = chassisStatusLines(decodeChassisStatus(Uint8Array.from([0x01, 0x11, 0x00, 0xa2])));
  assert.equal(lines[6], 'Last Power Event     : ac-failed command');
  assert.deepEqual(lines.slice(11), [
    'Sleep Button Disable : allowed',
    'Diag Button Disable  : not allowed',
    'Reset Button Disable : allowed',
    'Power Button Disable : not allowed',
    'Sleep Button Disabled: false',
    'Diag Button Disabled : false',
    'Reset Button Disabled: true',
    'Power Button Disabled: false',
  ]);
});

test('sel info and raw', () => {
  const lines = selInfoLines({
    version: '1.5',
    entries: 2,
    freeSpace: 968,
    lastAdd: 0x65f5e100,
    lastErase: 0xffffffff,
    overflow: false,
    operations: ['Reserve', 'Delete'],
  });
  assert.equal(lines[4], 'Percent Used     : 3%');
  assert.equal(lines[5], 'Last Add Time    : 03/16/2024 18:12:16');
  assert.equal(lines[6], 'Last Del Time    : Not Available');
  assert.equal(lines[8], "Supported Cmds   : 'Delete' 'Reserve' ");
  assert.deepEqual(rawLines(Uint8Array.from({ length: 17 }, (_, i) => i)), [' 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f', ' 10']);
});
