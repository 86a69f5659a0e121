import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ACTIONS, AMT_NAMES, CIM_CLASSES, cimResourceUri } from './constants.ts';
import { parseWsmanRequest, referenceSelectors } from './emulator/wsman-messages.ts';
import { child } from './xml.ts';
import {
  buildEnumerate, buildGet, buildIdentify, buildInvoke, buildPull, parseAnswer, parseEnumerationBody, parseInvokeBody,
} from './wsman-codec.ts';

const testdata = (name: string): string => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');
const request = (cimClass: (typeof CIM_CLASSES)[keyof typeof CIM_CLASSES], selectors?: Record<string, string>) => ({
  to: 'http://10.0.0.5:16992/wsman', resourceUri: cimResourceUri(cimClass), messageId: 'uuid:42', operationTimeout: 'PT60S',
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
  assert.deepEqual(answer, { kind: 'fault', code: 'a:Sender', subcode: 'c:AccessDenied', reason: 'The sender was not authorized to access the resource.', detail: '' });
});

test('reads ReturnValue of a method output; refuses documents with a DOCTYPE', () => {
  const answer = parseAnswer('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><g:ChangeBootOrder_OUTPUT xmlns:g="u"><g:ReturnValue>5</g:ReturnValue></g:ChangeBootOrder_OUTPUT></s:Body></s:Envelope>');
  assert.equal(answer.kind, 'ok');
  if (answer.kind === 'ok') assert.equal(parseInvokeBody(answer.body, 'ChangeBootOrder')?.returnValue, 5);
  assert.throws(() => parseAnswer('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'), { code: 'AMT_XML' });
  assert.throws(() => parseAnswer('<s:Envelope><s:Body>'), { code: 'AMT_XML' });
});
