import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ACTIONS, AMT_CLASSES, AMT_NAMES, CIM_CLASSES, cimResourceUri } from './constants.ts';
import { parseWsmanRequest, referenceSelectors } from './emulator/wsman-messages.ts';
import { child, children, elementNames } from './xml.ts';
import {
  buildEnumerate,
  buildGet,
  buildIdentify,
  buildInvoke,
  buildPull,
  buildPut,
  instanceXml,
  parseAnswer,
  parseEnumerationBody,
  parseGetBody,
  parseInvokeBody,
  parsePutBody,
} from './wsman-codec.ts';

const testdata = (name: string): string => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');
const request = (cimClass: (typeof CIM_CLASSES)[keyof typeof CIM_CLASSES], selectors?: Record<string, string>) => ({
  to: 'http://10.0.0.5:16992/wsman',
  resourceUri: cimResourceUri(cimClass),
  messageId: 'uuid:42',
  operationTimeout: 'PT60S',
  ...(selectors ? { selectors } : {}),
});

test('RequestPowerStateChange carries PowerState and a ManagedElement EPR, as Ironic sent it', () => {
  const xml = buildInvoke(request(CIM_CLASSES.powerManagementService, { Name: AMT_NAMES.powerManagementService }), 'RequestPowerStateChange', [
    { name: 'PowerState', value: '2' },
    { name: 'ManagedElement', value: { resourceUri: cimResourceUri(CIM_CLASSES.computerSystem), selectors: { Name: 'ManagedSystem' } } },
  ]);
  const parsed = parseWsmanRequest(xml, 1 << 20);
  assert.equal(parsed.action, 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementService/RequestPowerStateChange');
  assert.equal(parsed.resourceUri, 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementService');
  assert.equal(parsed.messageId, 'uuid:42');
  assert.deepEqual(parsed.selectors, { Name: 'Intel(r) AMT Power Management Service' });
  const input = child(parsed.body, 'RequestPowerStateChange_INPUT');
  assert.equal(child(input, 'PowerState'), '2');
  assert.deepEqual(referenceSelectors(child(input, 'ManagedElement')), { Name: 'ManagedSystem' });
  assert.match(xml, /<a:Address>http:\/\/schemas\.xmlsoap\.org\/ws\/2004\/08\/addressing\/role\/anonymous<\/a:Address>/);
});

test('Get, Enumerate and Pull name their WS-Transfer/WS-Enumeration actions; selectors are escaped', () => {
  const get = parseWsmanRequest(buildGet(request(CIM_CLASSES.bootConfigSetting, { InstanceID: 'a<b>&"c' })), 1 << 20);
  assert.equal(get.action, ACTIONS.get);
  assert.deepEqual(get.selectors, { InstanceID: 'a<b>&"c' });
  const enumerate = parseWsmanRequest(buildEnumerate(request(CIM_CLASSES.associatedPowerManagementService), 32), 1 << 20);
  assert.equal(enumerate.action, ACTIONS.enumerate);
  assert.notEqual(child(child(enumerate.body, 'Enumerate'), 'OptimizeEnumeration'), undefined);
  const pull = parseWsmanRequest(buildPull(request(CIM_CLASSES.associatedPowerManagementService), 'ctx-1', 32), 1 << 20);
  assert.equal(child(child(pull.body, 'Pull'), 'EnumerationContext'), 'ctx-1');
  assert.equal(parseWsmanRequest(buildIdentify(), 1 << 20).identify, true);
});

test('reads PowerState from an AMT-shaped PullResponse, skipping EPR-valued properties', () => {
  const answer = parseAnswer(testdata('wsman-pull-power-state.xml'));
  assert.equal(answer.kind, 'ok');
  if (answer.kind !== 'ok') return;
  assert.equal(answer.action, ACTIONS.pullResponse);
  const page = parseEnumerationBody(answer.body, CIM_CLASSES.associatedPowerManagementService);
  assert.equal(page.context, undefined, 'EndOfSequence ends the enumeration');
  assert.equal(page.items.length, 1);
  assert.equal(page.items[0]?.['PowerState'], '2');
  assert.deepEqual(page.items[0]?.['AvailableRequestedPowerStates'], ['8', '5', '10']);
  assert.equal(page.items[0]?.['ServiceProvided'], undefined);
});

test('reads a SOAP 1.2 fault with its WS-Man subcode', () => {
  const answer = parseAnswer(testdata('wsman-fault-access-denied.xml'));
  assert.deepEqual(answer, {
    kind: 'fault',
    code: 'a:Sender',
    subcode: 'c:AccessDenied',
    reason: 'The sender was not authorized to access the resource.',
    detail: '',
  });
});

test('reads ReturnValue of a method output; refuses documents with a DOCTYPE', () => {
  const answer = parseAnswer(
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><g:ChangeBootOrder_OUTPUT xmlns:g="u"><g:ReturnValue>5</g:ReturnValue></g:ChangeBootOrder_OUTPUT></s:Body></s:Envelope>',
  );
  assert.equal(answer.kind, 'ok');
  if (answer.kind === 'ok') assert.equal(parseInvokeBody(answer.body, 'ChangeBootOrder')?.returnValue, 5);
  assert.throws(() => parseAnswer('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'), { code: 'AMT_XML' });
  assert.throws(() => parseAnswer('<s:Envelope><s:Body>'), { code: 'AMT_XML' });
});

test('Put carries the whole instance in its class namespace, in order, arrays repeated and text escaped', () => {
  const uri = cimResourceUri(AMT_CLASSES.bootSettingData);
  const xml = buildPut(
    { to: 'http://10.0.0.5:16992/wsman', resourceUri: uri, messageId: 'uuid:43', selectors: { InstanceID: AMT_NAMES.bootSettingData } },
    instanceXml(AMT_CLASSES.bootSettingData, uri, { BIOSSetup: 'true', BIOSLastStatus: ['2', '0'], ElementName: 'a<b & "c"', BootMediaIndex: 0 }),
  );
  assert.match(xml, /<h:AMT_BootSettingData xmlns:h="http:\/\/intel\.com\/wbem\/wscim\/1\/amt-schema\/1\/AMT_BootSettingData">/);
  const parsed = parseWsmanRequest(xml, 1 << 20);
  assert.equal(parsed.action, 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Put');
  assert.equal(parsed.resourceUri, 'http://intel.com/wbem/wscim/1/amt-schema/1/AMT_BootSettingData');
  assert.deepEqual(parsed.selectors, { InstanceID: 'Intel(r) AMT:BootSettingData 0' });
  assert.deepEqual(elementNames(parsed.body), ['AMT_BootSettingData']);
  const instance = child(parsed.body, 'AMT_BootSettingData');
  assert.deepEqual(elementNames(instance), ['BIOSSetup', 'BIOSLastStatus', 'ElementName', 'BootMediaIndex']);
  assert.deepEqual(children(instance, 'BIOSLastStatus'), ['2', '0']);
  assert.deepEqual(parseGetBody(parsed.body, AMT_CLASSES.bootSettingData), {
    BIOSSetup: 'true',
    BIOSLastStatus: ['2', '0'],
    ElementName: 'a<b & "c"',
    BootMediaIndex: '0',
  });
});

test('reads AMT_BootSettingData from an AMT-shaped GetResponse and PutResponse', () => {
  const got = parseAnswer(testdata('wsman-get-boot-setting-data.xml'));
  assert.equal(got.kind === 'ok' && got.action, ACTIONS.getResponse);
  const instance = parseGetBody(got.kind === 'ok' ? got.body : undefined, AMT_CLASSES.bootSettingData);
  assert.equal(instance?.['InstanceID'], AMT_NAMES.bootSettingData);
  assert.equal(instance?.['BIOSSetup'], 'true');
  assert.deepEqual(instance?.['BIOSLastStatus'], ['2', '0']);
  assert.equal(instance?.['RSEPassword'], '', 'an empty element is an empty string, not a missing property');

  const put = parseAnswer(testdata('wsman-put-response-boot-setting-data.xml'));
  assert.equal(put.kind === 'ok' && put.action, ACTIONS.putResponse);
  const answer = parsePutBody(put.kind === 'ok' ? put.body : undefined, AMT_CLASSES.bootSettingData);
  assert.equal(answer?.instance?.['UseSafeMode'], 'true');
  assert.equal(answer?.instance?.['BIOSSetup'], 'false');
  // DSP0226 §7.5 allows an empty PutResponse; a body naming another class is no answer to this Put.
  const empty = parseAnswer('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>');
  assert.deepEqual(parsePutBody(empty.kind === 'ok' ? empty.body : undefined, AMT_CLASSES.bootSettingData), { instance: undefined });
  const other = parseAnswer(
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><h:AMT_GeneralSettings xmlns:h="u"><h:HostName>x</h:HostName></h:AMT_GeneralSettings></s:Body></s:Envelope>',
  );
  assert.equal(parsePutBody(other.kind === 'ok' ? other.body : undefined, AMT_CLASSES.bootSettingData), undefined);
});
