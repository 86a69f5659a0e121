// The emulator's channel access (Set/Get Channel Access, IPMI v2.0 §22.22–22.23) through anvil's
// client: each of the two sets is written alone, and a disabled active set shuts the LAN channel.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IpmiClient } from '../../src/protocols/ipmi/client/client.ts';
import { IpmiTimeoutError } from '../../src/protocols/ipmi/client/errors.ts';
import { decodeChannelAccess, getChannelAccess, setChannelAccess } from '../../src/protocols/ipmi/commands/channel.ts';
import { PASSWORD, startEmulator, USER } from './emulator-helpers.ts';

test('emulator: Set Channel Access writes the set it names; a disabled active set takes no more messages', async (t) => {
  const { port } = await startEmulator(t);
  const client = new IpmiClient({ policy: { timeoutMs: 300, retries: 0, loginAttempts: 1 } });
  t.after(() => client.close());
  const bmc = client.bmc({ host: '127.0.0.1', port, user: USER, password: PASSWORD });
  const read = async (which: 'volatile' | 'non-volatile') => decodeChannelAccess(await bmc.send(getChannelAccess(1, which)));
  const initial = await read('volatile');
  assert.equal(initial.accessMode, 2);
  assert.equal(initial.privilegeLimit, 4);

  // The stored set only: the active one, and the channel, stay as they were.
  await bmc.send(setChannelAccess(1, 'non-volatile', { ...initial, accessMode: 0, privilegeLimit: 3, alertingDisabled: true }));
  const stored = await read('non-volatile');
  assert.deepEqual([stored.accessMode, stored.privilegeLimit, stored.alertingDisabled], [0, 3, true]);
  assert.deepEqual(await read('volatile'), initial);
  // A privilege limit outside 1..5 is refused (0xCC) and changes nothing.
  await assert.rejects(bmc.send(setChannelAccess(1, 'volatile', { ...initial, privilegeLimit: 0x0f })), /invalid data field/);
  assert.deepEqual(await read('volatile'), initial);

  // The active set disabled: the reply still comes, then nothing does, not even to a new login.
  await bmc.send(setChannelAccess(1, 'volatile', { ...initial, accessMode: 0 }));
  await assert.rejects(bmc.send(getChannelAccess(1, 'volatile')), IpmiTimeoutError);
  const fresh = new IpmiClient({ policy: { timeoutMs: 300, retries: 0, loginAttempts: 1 } });
  t.after(() => fresh.close());
  await assert.rejects(fresh.bmc({ host: '127.0.0.1', port, user: USER, password: PASSWORD }).deviceId(), IpmiTimeoutError);
});
