import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { PT_STATUS, ptStatusMessage } from './constants.ts';
import { buildSoapFault, buildSoapRequest, buildSoapResponse, parseSoapRequest, parseSoapResponse, soapAction } from './soap-codec.ts';

const testdata = (name: string): string => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

test("parses amttool's RemoteControl request (powercycle bios: OEM 0xC1 with OEMparameters 1)", () => {
  assert.deepEqual(parseSoapRequest(testdata('amttool-remote-control-powercycle-bios.xml')), {
    method: 'RemoteControl',
    params: { Command: '19', IanaOemNumber: '343', SpecialCommand: '193', OEMparameters: '1' },
  });
  assert.deepEqual(parseSoapRequest(testdata('amttool-get-core-version.xml')), { method: 'GetCoreVersion', params: {} });
});

test('a request built by anvil reads back the same, and names SOAPAction as SOAP::Lite does', () => {
  const xml = buildSoapRequest('RemoteControlService', 'RemoteControl', [
    ['Command', 17],
    ['IanaOemNumber', 343],
    ['SpecialCommand', 1],
  ]);
  assert.deepEqual(parseSoapRequest(xml), { method: 'RemoteControl', params: { Command: '17', IanaOemNumber: '343', SpecialCommand: '1' } });
  assert.equal(soapAction('RemoteControlService', 'RemoteControl'), '"http://schemas.intel.com/platform/client/RemoteControl/2004/01#RemoteControl"');
});

test('responses keep their output order (the status first), faults are told apart', () => {
  const ok = parseSoapResponse(
    buildSoapResponse('RemoteControlService', 'GetSystemPowerState', [
      ['Status', 0],
      ['SystemPowerState', 5],
    ]),
  );
  assert.deepEqual(ok, {
    kind: 'ok',
    method: 'GetSystemPowerStateResponse',
    fields: { Status: '0', SystemPowerState: '5' },
    order: ['Status', 'SystemPowerState'],
  });
  assert.deepEqual(parseSoapResponse(buildSoapFault('RemoteControlService', 'Client', 'bad <thing>')), {
    kind: 'fault',
    faultcode: 'SOAP-ENV:Client',
    faultstring: 'bad <thing>',
  });
  assert.throws(() => parseSoapRequest('<x/>'), { code: 'AMT_SOAP_SHAPE' });
  assert.throws(() => parseSoapRequest('not xml <'), { code: 'AMT_XML' });
});

test("PT_STATUS messages are amttool's", () => {
  assert.equal(ptStatusMessage(PT_STATUS.success), 'pt_status: success');
  assert.equal(ptStatusMessage(0x10), 'pt_status: not permitted');
  assert.equal(ptStatusMessage(0x802), 'pt_status: unsupported boot_option');
  assert.equal(ptStatusMessage(0x999), 'unknown pt_status code: 0x999');
  assert.equal(ptStatusMessage(undefined), 'soap failure');
});
