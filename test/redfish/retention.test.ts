// A finished Redfish call leaves nothing behind. With AbortSignal.timeout as its deadlines, the
// signals (which http.request listens to) and their timers stayed alive for the whole deadline
// (120 s for a call, 20 s for an exchange) after a poll of a few milliseconds: polling 1,000
// BMCs with a new client each time grew the heap by ~3.5 MiB per pass, even after a full
// collection (bench/redfish-power-status.ts). The deadlines are now cleared when a call ends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MemoryRedfishHandler, RedfishClient, RedfishEmulator } from '../../src/protocols/redfish/index.ts';

const PASSWORD = 'Rf-Retain-1';
const POLLS = 300;
const ROUNDS = 3;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function heapAfterCollection(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

test('polling with a new client each time leaves the heap where it was (no deadline outlives its call)', { timeout: 300_000 }, async (t) => {
  const emulator = new RedfishEmulator({ password: PASSWORD, handler: new MemoryRedfishHandler(), port: 0 });
  const { url } = await emulator.listen();
  t.after(() => emulator.close());
  const round = async (): Promise<void> => {
    for (let i = 0; i < POLLS; i++) {
      // Sessions and Basic: the login, the reads and the logout each have their deadlines.
      const client = new RedfishClient({ url, username: 'admin', password: PASSWORD }, i % 2 === 0 ? {} : { auth: 'basic' });
      assert.equal(await client.getPowerState(), 'Off');
      await client.close();
    }
  };
  await round(); // the JIT's code and the emulator's first sessions
  const before = await heapAfterCollection();
  for (let r = 0; r < ROUNDS; r++) await round();
  const grown = (await heapAfterCollection()) - before;
  const perPoll = grown / (POLLS * ROUNDS);
  // Each poll kept ~3.5 KiB while the deadlines were AbortSignal.timeout; now it keeps nothing.
  assert.ok(perPoll < 1024, `the heap grew ${(grown / 1024).toFixed(0)} KiB over ${POLLS * ROUNDS} polls, ${perPoll.toFixed(0)} bytes each`);
  t.diagnostic(`heap growth ${(grown / 1024).toFixed(0)} KiB over ${POLLS * ROUNDS} polls`);
});
