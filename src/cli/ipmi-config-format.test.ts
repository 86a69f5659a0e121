// The pure printers behind `sol info` and `sel get`, on values the peers in test/ipmi do not produce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { solInfoLines } from './ipmi-commands-config.ts';
import type { SolInfo } from './ipmi-commands-config.ts';
import { timestampText } from './ipmi-sel-get.ts';

const info: SolInfo = {
  setInProgress: 'set-in-progress',
  enabled: false,
  forceEncryption: true,
  forceAuthentication: false,
  privilege: 'Unknown (0x00)',
  accumulateMs: 5,
  sendThreshold: 1,
  retryCount: 0,
  retryIntervalMs: 0,
  volatileBitRate: 'IPMI-Over-Serial-Setting',
  nonVolatileBitRate: '9.6',
  payloadChannel: 14,
  payloadPort: 6230,
};

test('sol info: the table, and the CSV line whose fourth field repeats Force Encryption as ipmitool does', () => {
  const lines = solInfoLines(info, false);
  assert.equal(lines.length, 13);
  assert.equal(lines[2], 'Force Encryption                : true');
  assert.equal(lines[3], 'Force Authentication            : false');
  assert.equal(lines[11], 'Payload Channel                 : 14 (0x0e)');
  assert.deepEqual(solInfoLines(info, true), ['set-in-progress,false,true,true,Unknown (0x00),5,1,0,0,IPMI-Over-Serial-Setting,9.6,14,6230']);
});

test('sel get timestamps: the date twice, S+ for time since start-up, Unspecified', () => {
  assert.equal(timestampText(Date.UTC(2026, 11, 3, 11, 36, 7) / 1000), '12/03/26 12/03/26');
  assert.equal(timestampText(0x04030201), 'S+ 72/050 S+ 72/050');
  assert.equal(timestampText(0), 'S+ 70/001 S+ 70/001');
  assert.equal(timestampText(0xffffffff), 'Unspecified Unspecified');
});
