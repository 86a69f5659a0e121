import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AMT_CLASSES, AMT_NAMES, CIM_CLASSES, cimResourceUri } from '../constants.ts';
import { parseSoapResponse, buildSoapRequest } from '../soap-codec.ts';
import { xorshift32 } from '../../testing/prng.ts';
import {
  buildEnumerate,
  buildGet,
  buildInvoke,
  buildPull,
  buildPut,
  instanceXml,
  parseAnswer,
  parseEnumerationBody,
  parseGetBody,
  parseInvokeBody,
  parsePutBody,
} from '../wsman-codec.ts';
import { BootConfig } from './boot-config.ts';
import { MemoryAmtHandler } from './handler.ts';
import { answerSoap } from './soap-service.ts';
import { answerWsman } from './wsman-service.ts';
import type { WsmanContext } from './wsman-service.ts';

function wsmanContext(handler = new MemoryAmtHandler()): WsmanContext {
  let n = 0;
  return {
    handler,
    boot: new BootConfig(),
    amtVersion: '8.1.20',
    hostname: 'h',
    domain: 'd',
    maxChars: 1 << 16,
    messageId: () => `uuid:${++n}`,
    enumerations: new Map(),
  };
}
const req = (
  cimClass: (typeof CIM_CLASSES)[keyof typeof CIM_CLASSES] | (typeof AMT_CLASSES)[keyof typeof AMT_CLASSES],
  selectors?: Record<string, string>,
) => ({ to: 'http://127.0.0.1/wsman', resourceUri: cimResourceUri(cimClass), messageId: 'uuid:req', ...(selectors ? { selectors } : {}) });

const bootSettingUri = cimResourceUri(AMT_CLASSES.bootSettingData);
const hdSource = { resourceUri: cimResourceUri(CIM_CLASSES.bootSourceSetting), selectors: { InstanceID: 'Intel(r) AMT: Force Hard-drive Boot' } };
const setRole = () =>
  buildInvoke(req(CIM_CLASSES.bootService), 'SetBootConfigRole', [
    {
      name: 'BootConfigSetting',
      value: { resourceUri: cimResourceUri(CIM_CLASSES.bootConfigSetting), selectors: { InstanceID: AMT_NAMES.bootConfiguration } },
    },
    { name: 'Role', value: '1' },
  ]);

async function invoke(ctx: WsmanContext, xml: string, method: string): Promise<number | undefined> {
  const reply = await answerWsman(xml, ctx);
  const answer = parseAnswer(reply.body);
  assert.equal(answer.kind, 'ok', reply.body);
  return answer.kind === 'ok' ? parseInvokeBody(answer.body, method)?.returnValue : undefined;
}

test('ChangeBootOrder + SetBootConfigRole(IsNext) make the next power-on boot PXE once', async () => {
  const handler = new MemoryAmtHandler();
  const ctx = wsmanContext(handler);
  const source = { resourceUri: cimResourceUri(CIM_CLASSES.bootSourceSetting), selectors: { InstanceID: 'Intel(r) AMT: Force PXE Boot' } };
  assert.equal(
    await invoke(ctx, buildInvoke(req(CIM_CLASSES.bootConfigSetting), 'ChangeBootOrder', [{ name: 'Source', value: source }]), 'ChangeBootOrder'),
    0,
  );
  assert.equal(ctx.boot.pending, undefined, 'not armed until SetBootConfigRole');
  assert.equal(
    await invoke(
      ctx,
      buildInvoke(req(CIM_CLASSES.bootService), 'SetBootConfigRole', [
        {
          name: 'BootConfigSetting',
          value: { resourceUri: cimResourceUri(CIM_CLASSES.bootConfigSetting), selectors: { InstanceID: AMT_NAMES.bootConfiguration } },
        },
        { name: 'Role', value: '1' },
      ]),
      'SetBootConfigRole',
    ),
    0,
  );
  assert.equal(ctx.boot.pending, 'pxe');
  const powerOn = buildInvoke(req(CIM_CLASSES.powerManagementService), 'RequestPowerStateChange', [{ name: 'PowerState', value: '2' }]);
  assert.equal(await invoke(ctx, powerOn, 'RequestPowerStateChange'), 0);
  assert.deepEqual(handler.boots, [{ action: 'on', device: 'pxe' }]);
  assert.equal(ctx.boot.pending, undefined, 'a one-time boot device is spent');
  const reset = buildInvoke(req(CIM_CLASSES.powerManagementService), 'RequestPowerStateChange', [{ name: 'PowerState', value: '10' }]);
  assert.equal(await invoke(ctx, reset, 'RequestPowerStateChange'), 0);
  assert.deepEqual(handler.lastBoot, { action: 'reset', device: 'default' });
});

test('power changes the machine refuses or does not offer have non-zero ReturnValues', async () => {
  const ctx = wsmanContext(new MemoryAmtHandler({ power: 'off' }));
  const change = (state: string) => buildInvoke(req(CIM_CLASSES.powerManagementService), 'RequestPowerStateChange', [{ name: 'PowerState', value: state }]);
  assert.equal(await invoke(ctx, change('10'), 'RequestPowerStateChange'), 2, 'reset while off');
  assert.equal(await invoke(ctx, change('12'), 'RequestPowerStateChange'), 1, 'graceful off not offered');
  assert.equal(await invoke(ctx, change('99'), 'RequestPowerStateChange'), 5, 'no such state');
  const badSource = buildInvoke(req(CIM_CLASSES.bootConfigSetting), 'ChangeBootOrder', [
    { name: 'Source', value: { resourceUri: cimResourceUri(CIM_CLASSES.bootSourceSetting), selectors: { InstanceID: 'floppy' } } },
  ]);
  assert.equal(await invoke(ctx, badSource, 'ChangeBootOrder'), 5);
});

test('a non-optimized Enumerate is finished by Pull; an unknown context is a fault', async () => {
  const ctx = wsmanContext(new MemoryAmtHandler({ power: 'on' }));
  const enumerate = buildEnumerate(req(CIM_CLASSES.associatedPowerManagementService), 1).replace('<w:OptimizeEnumeration/>', '');
  const first = parseAnswer((await answerWsman(enumerate, ctx)).body);
  assert.equal(first.kind, 'ok');
  const page = parseEnumerationBody(first.kind === 'ok' ? first.body : undefined, CIM_CLASSES.associatedPowerManagementService);
  assert.equal(page.items.length, 0);
  assert.ok(page.context);
  const pulled = parseAnswer((await answerWsman(buildPull(req(CIM_CLASSES.associatedPowerManagementService), page.context, 1), ctx)).body);
  const items = parseEnumerationBody(pulled.kind === 'ok' ? pulled.body : undefined, CIM_CLASSES.associatedPowerManagementService).items;
  assert.equal(items[0]?.['PowerState'], '2');
  const again = await answerWsman(buildPull(req(CIM_CLASSES.associatedPowerManagementService), page.context, 1), ctx);
  assert.equal(again.status, 500);
  assert.match(again.body, /InvalidEnumerationContext/);
});

test('bad WS-Man input is answered with faults, never thrown', async () => {
  const ctx = wsmanContext();
  for (const [body, status, subcode] of [
    ['', 400, 'SchemaValidationError'],
    ['<<<', 400, 'SchemaValidationError'],
    ['<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', 400, 'SchemaValidationError'],
    ['<a/>', 400, 'SchemaValidationError'],
    ['<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>', 400, 'InvalidMessageInformationHeader'],
    [buildEnumerate({ ...req(CIM_CLASSES.computerSystem), resourceUri: 'http://example/none' }, 1), 400, 'DestinationUnreachable'],
    [buildInvoke(req(CIM_CLASSES.computerSystem), 'SelfDestruct', []), 400, 'ActionNotSupported'],
  ] as const) {
    const reply = await answerWsman(body, ctx);
    assert.equal(reply.status, status, body);
    const answer = parseAnswer(reply.body);
    assert.equal(answer.kind, 'fault');
    if (answer.kind === 'fault') assert.match(answer.subcode ?? '', new RegExp(subcode));
  }
});

test('RemoteControl checks IanaOemNumber, the command and the special command as AMT does', async () => {
  const handler = new MemoryAmtHandler({ power: 'on' });
  const ctx = { handler, boot: new BootConfig(), identity: { amtVersion: '6.2.14', hostname: 'h', domain: 'd' }, maxChars: 1 << 16 };
  const call = async (params: Array<[string, number]>) => {
    const reply = await answerSoap('RemoteControlService', buildSoapRequest('RemoteControlService', 'RemoteControl', params), ctx);
    const answer = parseSoapResponse(reply.body);
    return answer.kind === 'ok' ? Number(answer.fields['Status']) : -1;
  };
  assert.equal(
    await call([
      ['Command', 16],
      ['IanaOemNumber', 4542],
    ]),
    0x801,
  );
  assert.equal(
    await call([
      ['Command', 99],
      ['IanaOemNumber', 343],
    ]),
    0x803,
  );
  assert.equal(
    await call([
      ['Command', 16],
      ['IanaOemNumber', 343],
      ['SpecialCommand', 77],
    ]),
    0x804,
  );
  assert.equal(
    await call([
      ['Command', 19],
      ['IanaOemNumber', 343],
      ['SpecialCommand', 0xc1],
      ['OEMparameters', 1],
    ]),
    0,
  );
  assert.deepEqual(handler.lastBoot, { action: 'cycle', device: 'bios' });
  const fault = await answerSoap('RemoteControlService', '<oops', ctx);
  assert.equal(fault.status, 500);
  assert.equal(parseSoapResponse(fault.body).kind, 'fault');
  const unknown = parseSoapResponse((await answerSoap('RemoteControlService', buildSoapRequest('RemoteControlService', 'Explode'), ctx)).body);
  assert.deepEqual(unknown, { kind: 'fault', faultcode: 'SOAP-ENV:Client', faultstring: 'unknown method Explode of RemoteControlService' });
});

test('mutated envelopes never make the services throw (seeded fuzz)', async () => {
  // A fixed seed: the same inputs on every run.
  const next = xorshift32(0x2545f491);
  const random = (n: number): number => next() % n;
  const source = { resourceUri: cimResourceUri(CIM_CLASSES.bootSourceSetting), selectors: { InstanceID: 'Intel(r) AMT: Force PXE Boot' } };
  const seeds = [
    buildInvoke(req(CIM_CLASSES.bootConfigSetting), 'ChangeBootOrder', [{ name: 'Source', value: source }]),
    buildInvoke(req(CIM_CLASSES.powerManagementService), 'RequestPowerStateChange', [{ name: 'PowerState', value: '2' }]),
    buildEnumerate(req(CIM_CLASSES.associatedPowerManagementService), 4),
  ];
  seeds.push(
    buildPut(
      req(AMT_CLASSES.bootSettingData),
      instanceXml(AMT_CLASSES.bootSettingData, bootSettingUri, { ...Object.fromEntries(new BootConfig().settings), BIOSSetup: 'true' }),
    ),
  );
  const soapSeed = buildSoapRequest('RemoteControlService', 'RemoteControl', [
    ['Command', 17],
    ['IanaOemNumber', 343],
    ['SpecialCommand', 1],
  ]);
  const alphabet = '<>/="&;: \u0000abcxyz0123456789';
  const mutate = (text: string): string => {
    const chars = [...text];
    for (let i = random(8) + 1; i > 0; i--) {
      const at = random(chars.length);
      const op = random(3);
      if (op === 0) chars.splice(at, 1);
      else if (op === 1) chars.splice(at, 0, alphabet[random(alphabet.length)] ?? '<');
      else chars.splice(at, random(40));
    }
    return chars.join('');
  };
  const ctx = wsmanContext(new MemoryAmtHandler({ power: 'on' }));
  const soapCtx = {
    handler: new MemoryAmtHandler({ power: 'on' }),
    boot: new BootConfig(),
    identity: { amtVersion: '6.2.14', hostname: 'h', domain: 'd' },
    maxChars: 1 << 16,
  };
  for (let i = 0; i < 600; i++) {
    const reply = await answerWsman(mutate(seeds[i % seeds.length] ?? ''), ctx);
    assert.ok([200, 400, 500].includes(reply.status));
    assert.notEqual(parseAnswer(reply.body).kind, undefined, 'every answer is itself valid SOAP');
    const soapReply = await answerSoap('RemoteControlService', mutate(soapSeed), soapCtx);
    assert.ok([200, 500].includes(soapReply.status));
    parseSoapResponse(soapReply.body);
  }
});

test('a handler that fails becomes an InternalError / Server fault', async () => {
  const broken = new MemoryAmtHandler();
  broken.getPowerState = async () => {
    throw new Error('qemu monitor gone');
  };
  const reply = await answerWsman(buildEnumerate(req(CIM_CLASSES.associatedPowerManagementService), 4), wsmanContext(broken));
  assert.equal(reply.status, 500);
  const answer = parseAnswer(reply.body);
  assert.equal(answer.kind === 'fault' && answer.subcode, 'w:InternalError');
  const soap = await answerSoap('RemoteControlService', buildSoapRequest('RemoteControlService', 'GetSystemPowerState'), {
    handler: broken,
    boot: new BootConfig(),
    identity: { amtVersion: '6.2.14', hostname: 'h', domain: 'd' },
    maxChars: 1 << 16,
  });
  assert.deepEqual(parseSoapResponse(soap.body), {
    kind: 'fault',
    faultcode: 'SOAP-ENV:Server',
    faultstring: 'the machine behind this AMT failed: qemu monitor gone',
  });
});

test('Get checks key selectors: the right one answers, a wrong one is InvalidSelectors', async () => {
  const ctx = wsmanContext();
  const good = await answerWsman(buildGet(req(CIM_CLASSES.bootConfigSetting, { InstanceID: AMT_NAMES.bootConfiguration })), ctx);
  assert.equal(good.status, 200);
  const answer = parseAnswer(good.body);
  assert.equal(answer.kind === 'ok' && parseGetBody(answer.body, CIM_CLASSES.bootConfigSetting)?.['InstanceID'], AMT_NAMES.bootConfiguration);
  const bad = await answerWsman(buildGet(req(CIM_CLASSES.bootConfigSetting, { InstanceID: 'Intel(r) AMT: Boot Configuration 9' })), ctx);
  assert.equal(bad.status, 400);
  assert.match(bad.body, /InvalidSelectors/);
});

/** Gets AMT_BootSettingData, changes it, Puts it all back; resolves to the PutResponse's instance. */
async function putBootSettings(ctx: WsmanContext, change: Record<string, string>): Promise<Record<string, unknown> | undefined> {
  const got = parseAnswer((await answerWsman(buildGet(req(AMT_CLASSES.bootSettingData)), ctx)).body);
  const current = parseGetBody(got.kind === 'ok' ? got.body : undefined, AMT_CLASSES.bootSettingData);
  assert.ok(current);
  const reply = await answerWsman(
    buildPut(
      req(AMT_CLASSES.bootSettingData, { InstanceID: AMT_NAMES.bootSettingData }),
      instanceXml(AMT_CLASSES.bootSettingData, bootSettingUri, { ...current, ...change }),
    ),
    ctx,
  );
  const answer = parseAnswer(reply.body);
  assert.equal(answer.kind, 'ok', reply.body);
  return answer.kind === 'ok' ? parsePutBody(answer.body, AMT_CLASSES.bootSettingData)?.instance : undefined;
}

test('BIOSSetup with no boot source, or UseSafeMode with the hard drive, armed by SetBootConfigRole, pick bios and hdsafe', async () => {
  const handler = new MemoryAmtHandler();
  const ctx = wsmanContext(handler);
  const got = parseAnswer((await answerWsman(buildGet(req(AMT_CLASSES.bootSettingData)), ctx)).body);
  const fresh = parseGetBody(got.kind === 'ok' ? got.body : undefined, AMT_CLASSES.bootSettingData);
  assert.equal(fresh?.['InstanceID'], 'Intel(r) AMT:BootSettingData 0');
  assert.equal(fresh?.['BIOSSetup'], 'false');

  const answered = await putBootSettings(ctx, { BIOSSetup: 'true' });
  assert.equal(answered?.['BIOSSetup'], 'true', 'the PutResponse carries the new instance');
  assert.equal(ctx.boot.pending, undefined, 'not armed yet');
  assert.equal(await invoke(ctx, setRole(), 'SetBootConfigRole'), 0);
  assert.equal(ctx.boot.pending, 'bios');
  const on = buildInvoke(req(CIM_CLASSES.powerManagementService), 'RequestPowerStateChange', [{ name: 'PowerState', value: '2' }]);
  assert.equal(await invoke(ctx, on, 'RequestPowerStateChange'), 0);
  assert.deepEqual(handler.lastBoot, { action: 'on', device: 'bios' });
  assert.equal(ctx.boot.settings.get('BIOSSetup'), 'true', 'the boot spends the role, not the option');

  await putBootSettings(ctx, { BIOSSetup: 'false', UseSafeMode: 'true' });
  assert.equal(
    await invoke(ctx, buildInvoke(req(CIM_CLASSES.bootConfigSetting), 'ChangeBootOrder', [{ name: 'Source', value: hdSource }]), 'ChangeBootOrder'),
    0,
  );
  assert.equal(await invoke(ctx, setRole(), 'SetBootConfigRole'), 0);
  assert.equal(ctx.boot.pending, 'hdsafe');
  const cycle = buildInvoke(req(CIM_CLASSES.powerManagementService), 'RequestPowerStateChange', [{ name: 'PowerState', value: '5' }]);
  assert.equal(await invoke(ctx, cycle, 'RequestPowerStateChange'), 0);
  assert.deepEqual(handler.lastBoot, { action: 'cycle', device: 'hdsafe' });
});

test('AMT_BootCapabilities reports the devices the BIOS offers; ChangeBootOrder to another is Not Supported', async () => {
  const ctx = { ...wsmanContext(), boot: new BootConfig(['pxe', 'hd', 'bios']) };
  const got = parseAnswer((await answerWsman(buildGet(req(AMT_CLASSES.bootCapabilities)), ctx)).body);
  const capabilities = parseGetBody(got.kind === 'ok' ? got.body : undefined, AMT_CLASSES.bootCapabilities);
  assert.deepEqual(
    [capabilities?.['ForcePXEBoot'], capabilities?.['ForceHardDriveSafeModeBoot'], capabilities?.['ForceCDorDVDBoot'], capabilities?.['BIOSSetup']],
    ['true', 'false', 'false', 'true'],
  );
  const cd = { resourceUri: cimResourceUri(CIM_CLASSES.bootSourceSetting), selectors: { InstanceID: 'Intel(r) AMT: Force CD/DVD Boot' } };
  assert.equal(await invoke(ctx, buildInvoke(req(CIM_CLASSES.bootConfigSetting), 'ChangeBootOrder', [{ name: 'Source', value: cd }]), 'ChangeBootOrder'), 1);
  assert.equal(ctx.boot.source, undefined);
  assert.equal(
    await invoke(ctx, buildInvoke(req(CIM_CLASSES.bootConfigSetting), 'ChangeBootOrder', [{ name: 'Source', value: hdSource }]), 'ChangeBootOrder'),
    0,
  );
});

test('a Put AMT would refuse is a t:InvalidRepresentation (or selector/action) fault and changes nothing', async () => {
  const ctx = wsmanContext();
  const settings = Object.fromEntries(ctx.boot.settings);
  const put = (body: string, selectors?: Record<string, string>) => answerWsman(buildPut(req(AMT_CLASSES.bootSettingData, selectors), body), ctx);
  const instance = (change: Record<string, string>, drop?: string) => {
    const { [drop ?? '']: _dropped, ...rest } = { ...settings, ...change };
    return instanceXml(AMT_CLASSES.bootSettingData, bootSettingUri, rest);
  };
  for (const [body, detail] of [
    [
      instanceXml(AMT_CLASSES.generalSettings, cimResourceUri(AMT_CLASSES.generalSettings), { HostName: 'x' }),
      /must be one AMT_BootSettingData element, not AMT_GeneralSettings/,
    ],
    ['', /not nothing/],
    [instance({ BIOSSetup: 'maybe' }), /BIOSSetup must be true or false, not 'maybe'/],
    [instance({ FirmwareVerbosity: '7' }), /FirmwareVerbosity must be an integer from 0 to 3/],
    [instance({ SelfDestruct: 'true' }), /has no property SelfDestruct/],
    [instance({}, 'UseSafeMode'), /missing UseSafeMode: a Put carries the whole instance/],
    [instance({ InstanceID: 'Intel(r) AMT:BootSettingData 1' }), /is not this instance's/],
  ] as const) {
    const reply = await put(body);
    assert.equal(reply.status, 400, body);
    const answer = parseAnswer(reply.body);
    assert.equal(answer.kind === 'fault' && answer.subcode, 't:InvalidRepresentation', reply.body);
    assert.match(answer.kind === 'fault' ? (answer.detail ?? '') : '', detail);
  }
  const wrongSelector = await put(instance({ BIOSSetup: 'true' }), { InstanceID: 'Intel(r) AMT:BootSettingData 1' });
  assert.match(wrongSelector.body, /InvalidSelectors/);
  const otherClass = await answerWsman(
    buildPut(req(AMT_CLASSES.generalSettings), instanceXml(AMT_CLASSES.generalSettings, cimResourceUri(AMT_CLASSES.generalSettings), { HostName: 'x' })),
    ctx,
  );
  assert.match(otherClass.body, /ActionNotSupported/);
  assert.deepEqual(Object.fromEntries(ctx.boot.settings), settings, 'no refused Put changed the instance');

  // The SDK: BIOSSetup "can be set to true only when a boot source isn't set".
  assert.equal(
    await invoke(ctx, buildInvoke(req(CIM_CLASSES.bootConfigSetting), 'ChangeBootOrder', [{ name: 'Source', value: hdSource }]), 'ChangeBootOrder'),
    0,
  );
  const withSource = parseAnswer((await put(instance({ BIOSSetup: 'true' }))).body);
  assert.match(withSource.kind === 'fault' ? (withSource.detail ?? '') : '', /BIOSSetup can be true only while no boot source is set/);
  assert.equal(await invoke(ctx, buildInvoke(req(CIM_CLASSES.bootConfigSetting), 'ChangeBootOrder', []), 'ChangeBootOrder'), 0);
  assert.equal(
    (await put(instance({ BIOSSetup: '1', OwningEntity: 'x' }, 'OwningEntity'))).status,
    200,
    "xs:boolean's 1 is true; OwningEntity may be left out",
  );
  assert.equal(ctx.boot.settings.get('BIOSSetup'), 'true');
  assert.equal(ctx.boot.settings.get('OwningEntity'), 'Intel(r) AMT', 'a property left out keeps its value');
});
