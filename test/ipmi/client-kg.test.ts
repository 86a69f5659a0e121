// Two-key login (IPMI v2.0 §13.31): the session integrity key comes from the BMC key Kg,
// not the password. Against anvil's emulator, in process (no third-party peer here sets Kg).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BmcServer } from '../../src/protocols/ipmi/server/index.ts';
import { MemoryBmcHandler } from '../../src/protocols/ipmi/server/memory-handler.ts';
import { IpmiClient } from '../../src/protocols/ipmi/client/client.ts';

test('Kg: the right key logs in; the password alone or a wrong key is an authentication error', async (t) => {
  const server = new BmcServer();
  t.after(() => server.close());
  const kg = Buffer.from('0123456789abcdef0123', 'utf8');
  const hosted = await server.add({ kg, handler: new MemoryBmcHandler({ password: 'password' }) });
  const client = new IpmiClient({ policy: { timeoutMs: 300, retries: 1 } });
  t.after(() => client.close());
  const target = { host: '127.0.0.1', port: hosted.port, user: 'admin', password: 'password' };
  assert.equal(await client.bmc({ ...target, kg }).getPowerState(), 'off');
  for (const wrong of [undefined, 'not-the-kg']) {
    await assert.rejects(client.bmc({ ...target, ...(wrong ? { kg: wrong } : {}) }).getPowerState(), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'IPMI_AUTH_FAILED');
      assert.match(error.message, /Kg/);
      assert.doesNotMatch(error.message, /0123456789abcdef|not-the-kg/);
      return true;
    });
  }
});
