// Every decoder, fed random and mutated bytes, either returns or throws IpmiDecodeError:
// never a RangeError, TypeError or anything else (DESIGN.md, "Security").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCipherSuiteRecords } from './cipher-suites.ts';
import { deriveSessionKeys } from './crypto.ts';
import { IpmiDecodeError } from './errors.ts';
import { decodeRequest, decodeResponse } from './message.ts';
import * as rakp from './rakp.ts';
import { decodeAsf, decodeRmcp } from './rmcp.ts';
import * as cmds from './session-commands.ts';
import { decodeSession15 } from './session15.ts';
import { decodeSession20 } from './session20.ts';
import { decodeSol } from './sol.ts';
import { xorshift32 } from '../testing/prng.ts';
import { loadCapture } from './testdata/load.ts';

const keys = deriveSessionKeys(1, Buffer.alloc(20, 1), 1, 1);
const decoders: [string, (b: Buffer) => unknown][] = [
  ['rmcp', decodeRmcp],
  ['asf', (b) => decodeAsf(b)],
  ['request', decodeRequest],
  ['response', decodeResponse],
  ['session15', decodeSession15],
  ['session20', (b) => decodeSession20(b)],
  ['session20+keys', (b) => decodeSession20(b, keys)],
  ['open request', rakp.decodeOpenSessionRequest],
  ['open response', rakp.decodeOpenSessionResponse],
  ['rakp1', rakp.decodeRakp1],
  ['rakp2', rakp.decodeRakp2],
  ['rakp3', rakp.decodeRakp3],
  ['rakp4', rakp.decodeRakp4],
  ['cipher records', decodeCipherSuiteRecords],
  ['auth caps', cmds.decodeAuthCapabilities],
  ['challenge', cmds.decodeSessionChallenge],
  ['activate', cmds.decodeActivateSessionRequest],
  ['payload activated', cmds.decodePayloadActivated],
  ['sol', decodeSol],
];

test('decoders throw only IpmiDecodeError on random and mutated input', () => {
  // A fixed seed, so a failure can be replayed.
  const rand = xorshift32(0x1badb002);
  const seeds = [...loadCapture('ipmitool-lanplus-c3-ipmi-sim'), ...loadCapture('ipmitool-lan-md5-ipmi-sim')].map((p) => p.bytes);
  for (let i = 0; i < 4000; i++) {
    let input: Buffer;
    if (i % 2 === 0) {
      input = Buffer.alloc(rand() % 80);
      for (let j = 0; j < input.length; j++) input[j] = rand() & 0xff;
    } else {
      const seed = seeds[rand() % seeds.length] as Buffer;
      input = Buffer.from(seed.subarray(0, rand() % (seed.length + 1)));
      for (let k = rand() % 4; k >= 0 && input.length > 0; k--) input[rand() % input.length] = rand() & 0xff;
    }
    for (const [name, decode] of decoders) {
      for (const bytes of [input, input.subarray(4)]) {
        try {
          decode(bytes);
        } catch (error) {
          assert.ok(error instanceof IpmiDecodeError, `${name} threw ${(error as Error).name}: ${(error as Error).message} on ${bytes.toString('hex')}`);
        }
      }
    }
  }
});
