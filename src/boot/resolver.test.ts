import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressResolver, arpTable, plainAddress } from './resolver.ts';

const ARP = `IP address       HW type     Flags       HW address            Mask     Device
10.9.0.5         0x1         0x2         52:54:00:aa:bb:01     *        br0
10.9.0.6         0x1         0x0         00:00:00:00:00:00     *        br0
`;

test('the ARP table maps complete entries only', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'anvil-arp-')), 'arp');
  writeFileSync(file, ARP);
  const arp = arpTable(file);
  assert.equal(await arp.macOf('10.9.0.5'), '52:54:00:aa:bb:01');
  assert.equal(await arp.macOf('10.9.0.6'), undefined);
  assert.equal(await arp.macOf('10.9.0.7'), undefined);
});

test('sources are asked in order, and v4-mapped addresses are unwrapped', async () => {
  const seen: string[] = [];
  const resolver = new AddressResolver([{ name: 'b', macOf: async (a) => (seen.push(`b:${a}`), 'aa:aa:aa:aa:aa:aa') }]);
  resolver.prepend({ name: 'a', macOf: async (a) => (seen.push(`a:${a}`), undefined) });
  assert.equal(await resolver.macOf('::ffff:10.0.0.1'), 'aa:aa:aa:aa:aa:aa');
  assert.deepEqual(seen, ['a:10.0.0.1', 'b:10.0.0.1']);
  assert.equal(plainAddress('::1'), '::1');
});
