// Lab VM definitions: what is accepted, what is refused and why, and the stored form.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSocketPath, definitionToJson, normalizeMac, parseDefinition } from './definition.ts';

const base = { name: 'vm1', mac: '52:54:00:12:34:56', serialSocket: '/r/s.sock', qmpSocket: '/r/q.sock', controlSocket: '/r/c.sock' };
const invalid = (e: unknown) => (e as { code?: string }).code === 'LAB_INVALID';

test('defaults: 512 MB, no disk, user network with restrict=on, PXE, no one-time device, no BMC', () => {
  const def = parseDefinition(base);
  assert.deepEqual(
    { memoryMb: def.memoryMb, disk: def.disk, netdev: def.netdev, boot: def.boot, nextBoot: def.nextBoot, bmc: def.bmc },
    { memoryMb: 512, disk: undefined, netdev: 'user,restrict=on', boot: { device: 'pxe', efi: false }, nextBoot: undefined, bmc: undefined },
  );
});

test('MACs are normalised to lower case with colons; multicast and malformed ones are refused', () => {
  assert.equal(normalizeMac('52-54-00-AB-CD-EF'), '52:54:00:ab:cd:ef');
  assert.throws(() => normalizeMac('01:00:5e:00:00:01'), invalid);
  assert.throws(() => normalizeMac('52:54:00:12:34'), invalid);
});

test('bad names, memory, disk sizes, boot devices, ports and netdev ids are refused with LAB_INVALID', () => {
  for (const bad of [
    { name: '../etc' },
    { name: '' },
    { memoryMb: 8 },
    { memoryMb: 1.5 },
    { disk: { path: '/d', size: '8 GB' } },
    { disk: { path: '/d', size: '8G', format: 'vmdk' } },
    { boot: { device: 'floppy' } },
    { bmc: { kind: 'ilo' } },
    { bmc: { kind: 'redfish', redfishPort: -1 } },
    { bmc: { kind: 'ipmi', ipmiPort: 70000 } },
    { netdev: 'user,id=mine' },
    { sshPort: 0 },
    { sshPort: 70000 },
    { sshPort: 2222, netdev: 'tap,ifname=tap0' },
    { extraArgs: '-kernel /k' },
  ]) {
    assert.throws(() => parseDefinition({ ...base, ...bad }), invalid, JSON.stringify(bad));
  }
});

test('Unix socket paths longer than the kernel allows are refused with a hint', () => {
  assert.throws(
    () => checkSocketPath('/' + 'x'.repeat(120)),
    (e: unknown) => invalid(e) && /shorter --data/.test((e as Error).message),
  );
});

test('the stored JSON parses back to the same definition', () => {
  const def = parseDefinition({ ...base, nextBoot: { device: 'disk', efi: false }, bmc: { kind: 'both', password: 'pw' } });
  assert.deepEqual(parseDefinition(JSON.parse(definitionToJson(def))), def);
  assert.equal(def.bmc?.user, 'admin');
  assert.equal(def.bmc?.ipmiPort, 623);
  assert.equal(def.bmc?.amtPort, 16992);
  assert.equal(def.bmc?.redfishPort, 8443, 'a definition written before Redfish gets the default port');
});
