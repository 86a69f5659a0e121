// A server started with DHCP in server mode keeps its leases in the database: a data directory's
// old dhcp/leases.json is imported at start, renamed aside, and the log says so. No packet is
// sent (the DHCP socket listens on a free port of lo); the lease pool's traffic is tested elsewhere.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { JsonFileLeaseStore } from '../../src/protocols/dhcp/index.ts';
import { testAnvil } from '../helpers/anvil-inproc.ts';
import { LogCapture } from '../helpers/log-capture.ts';
import { lease } from '../helpers/lease-store-contract.ts';

test('serve imports dhcp/leases.json into the database once, renames it aside and says so', async (t) => {
  const logs = new LogCapture();
  let file = '';
  const prepare = async (data: string) => {
    mkdirSync(join(data, 'dhcp'), { recursive: true });
    file = join(data, 'dhcp', 'leases.json');
    const old = await JsonFileLeaseStore.open(file);
    await old.put(lease('aa:00:00:00:00:01', '127.0.0.100'));
    await old.put(lease('aa:00:00:00:00:02', '127.0.0.101'));
  };
  const anvil = await testAnvil(
    t,
    {
      logLevel: 'info',
      logStream: logs,
      netboot: { dhcp: { mode: 'server', interface: 'lo', range: '127.0.0.100-127.0.0.150', port: 0, pxePort: false } },
    },
    { prepare },
  );
  const dhcp = anvil.netboot?.dhcp;
  assert.ok(dhcp, 'the DHCP server runs');
  assert.equal(await dhcp.macByAddress('127.0.0.101'), 'aa:00:00:00:00:02');
  const rows = await anvil.services.store.db.selectFrom('dhcp_leases').select(['mac', 'address']).orderBy('mac').execute();
  assert.deepEqual(rows, [
    { mac: 'aa:00:00:00:00:01', address: '127.0.0.100' },
    { mac: 'aa:00:00:00:00:02', address: '127.0.0.101' },
  ]);
  assert.equal(existsSync(file), false);
  assert.equal(existsSync(`${file}.imported`), true);
  const said = logs.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('imported 2 DHCP lease(s)'));
  assert.ok(said, 'the log says what was imported');
  assert.match(String(said.msg), /leases\.json\.imported/);
});
