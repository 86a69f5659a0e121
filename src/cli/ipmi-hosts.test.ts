import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandHosts, hostLabel } from './ipmi-hosts.ts';

test('ipmipower host ranges, lists, zero padding and ports', () => {
  assert.deepEqual(expandHosts('node[1-3]').map(hostLabel), ['node1', 'node2', 'node3']);
  assert.deepEqual(expandHosts('a,b,c').map(hostLabel), ['a', 'b', 'c']);
  assert.deepEqual(expandHosts('n[08-10],x').map(hostLabel), ['n08', 'n09', 'n10', 'x']);
  assert.deepEqual(expandHosts('r[1-2]n[1,3]').map(hostLabel), ['r1n1', 'r1n3', 'r2n1', 'r2n3']);
  assert.deepEqual(expandHosts('127.0.0.1:[30000-30002]'), [
    { host: '127.0.0.1', port: 30000 },
    { host: '127.0.0.1', port: 30001 },
    { host: '127.0.0.1', port: 30002 },
  ]);
  assert.deepEqual(expandHosts('h:623,h:623'), [{ host: 'h', port: 623 }]);
  assert.equal(expandHosts('node[1-100]').length, 100);
  assert.throws(() => expandHosts('node[1-'), { code: 'ANVIL_USAGE' });
  assert.throws(() => expandHosts('node[5-1]'), /backwards/);
  assert.throws(() => expandHosts('h:99999'), /bad port/);
});
