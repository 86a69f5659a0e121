import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDeviceId } from '../commands/device.ts';
import { oemHandlerForDeviceId, registerOemHandler } from './lookup.ts';
import { GenericOemHandler } from './handler.ts';
import { controllerProbe, decodeControllerProbe, LenovoOemHandler } from './lenovo.ts';
import { decodeFanMode, decodeLanInterfaceMode, getFanMode, getLanInterfaceMode, setFanMode, SupermicroOemHandler } from './supermicro.ts';

const deviceId = (iana: number) =>
  decodeDeviceId(Uint8Array.from([0x20, 0x01, 0x03, 0x45, 0x02, 0xbf, iana & 0xff, (iana >> 8) & 0xff, iana >> 16, 0x34, 0x12]));

test('lookup by IANA number, generic fallback, registration', () => {
  assert.ok(oemHandlerForDeviceId(deviceId(10876)) instanceof SupermicroOemHandler);
  const generic = oemHandlerForDeviceId(deviceId(4753));
  assert.equal(generic.name, 'generic');
  class Acme extends GenericOemHandler {
    override readonly name = 'acme';
  }
  registerOemHandler(99999, (id) => new Acme(id));
  assert.equal(oemHandlerForDeviceId(deviceId(99999)).name, 'acme');
});

test('generic firmware hook reads Get Device ID', async () => {
  const fw = await new GenericOemHandler(deviceId(0)).firmware(undefined as never);
  assert.deepEqual(fw, [{ name: 'BMC', version: '3.45' }]);
});

test('Supermicro fan mode and LAN interface payloads', () => {
  assert.deepEqual([getFanMode().netFn, getFanMode().cmd, ...getFanMode().data], [0x30, 0x45, 0x00]);
  assert.deepEqual([...setFanMode('full').data], [0x01, 0x01]);
  assert.deepEqual([...getLanInterfaceMode().data], [0x0c, 0x00]);
  assert.equal(decodeFanMode(Uint8Array.from([4])), 'heavy-io');
  assert.equal(decodeLanInterfaceMode(Uint8Array.from([2])), 'failover');
  assert.throws(() => decodeFanMode(Uint8Array.from([9])), { code: 'IPMI_DECODE' });
});

test('Lenovo/IBM: handler by IANA (19046, 20301, 7154) and the IMM/XCC probe', () => {
  for (const iana of [19046, 20301, 7154]) assert.ok(oemHandlerForDeviceId(deviceId(iana)) instanceof LenovoOemHandler, String(iana));
  assert.deepEqual([controllerProbe().netFn, controllerProbe().cmd], [0x3a, 0xc1]);
  assert.equal(decodeControllerProbe(Uint8Array.from([0, 0x11, 0])), 'xcc');
  assert.equal(decodeControllerProbe(Uint8Array.from([0, 0x01, 0])), 'imm');
  assert.equal(decodeControllerProbe(Uint8Array.from([0, 0x00, 0])), 'other');
  assert.throws(() => decodeControllerProbe(Uint8Array.from([0])), { code: 'IPMI_DECODE' });
});
