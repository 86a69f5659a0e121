import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BOOT_SETTING_NOT_WRITABLE, bootSettingsFor } from './boot-settings.ts';
import { AMT_CLASSES, WSMAN_BOOT_REQUESTS, WSMAN_NORMAL_BOOT } from './constants.ts';
import { parseAnswer, parseGetBody } from './wsman-codec.ts';
import type { CimInstance } from './wsman-codec.ts';

/** A recent AMT's instance: BIOSSetup left on, a power-button lock set, CSME 11-16's read-only properties. */
function recentAmt(): CimInstance {
  const answer = parseAnswer(readFileSync(new URL('./testdata/wsman-get-boot-setting-data.xml', import.meta.url), 'utf8'));
  const instance = parseGetBody(answer.kind === 'ok' ? answer.body : undefined, AMT_CLASSES.bootSettingData);
  assert.ok(instance);
  return instance;
}

test('a PXE boot turns off a leftover BIOSSetup, drops what a Put may not carry, keeps the rest in order', () => {
  const current = recentAmt();
  const { properties, changed } = bootSettingsFor(current, WSMAN_BOOT_REQUESTS.pxe, 'amt1');
  assert.equal(changed, true);
  assert.equal(properties['BIOSSetup'], 'false');
  assert.equal(properties['UseSafeMode'], 'false');
  assert.equal(properties['LockPowerButton'], 'true', "the operator's lock stays");
  assert.equal(properties['EnforceSecureBoot'], 'false');
  for (const name of BOOT_SETTING_NOT_WRITABLE) assert.equal(properties[name], undefined, name);
  assert.ok(current['OptionsCleared'] !== undefined && current['BIOSLastStatus'] !== undefined, 'the sample has read-only properties to drop');
  const kept = Object.keys(current).filter((name) => !BOOT_SETTING_NOT_WRITABLE.has(name));
  assert.deepEqual(Object.keys(properties), kept);
});

test('bios sets BIOSSetup, hdsafe UseSafeMode; a normal boot with nothing to reset changes nothing', () => {
  const current = recentAmt();
  const bios = bootSettingsFor(current, WSMAN_BOOT_REQUESTS.bios, 'amt1');
  assert.equal(bios.properties['BIOSSetup'], 'true');
  assert.equal(bios.changed, false, 'BIOSSetup was already on and the rest already off');
  const safe = bootSettingsFor(current, WSMAN_BOOT_REQUESTS.hdsafe, 'amt1').properties;
  assert.deepEqual([safe['BIOSSetup'], safe['UseSafeMode']], ['false', 'true']);

  const clean = { ...current, BIOSSetup: 'false', ReflashBIOS: 'FALSE' };
  assert.equal(bootSettingsFor(clean, WSMAN_NORMAL_BOOT, 'amt1').changed, false, 'booleans compare as AMT reads them');
  const dangerous = { ...clean, SecureErase: 'true', BootMediaIndex: '2' };
  const reset = bootSettingsFor(dangerous, WSMAN_NORMAL_BOOT, 'amt1');
  assert.equal(reset.changed, true);
  assert.deepEqual([reset.properties['SecureErase'], reset.properties['BootMediaIndex']], ['false', '0']);
});

test('an AMT without the flag asked for is AMT_UNSUPPORTED; one it is not asked for may be absent', () => {
  const { UseSafeMode: _gone, SecureErase: _old, ...older } = recentAmt();
  assert.throws(() => bootSettingsFor(older, WSMAN_BOOT_REQUESTS.hdsafe, 'amt1'), {
    code: 'AMT_UNSUPPORTED',
    message: /AMT amt1 has no AMT_BootSettingData\.UseSafeMode/,
  });
  const pxe = bootSettingsFor(older, WSMAN_BOOT_REQUESTS.pxe, 'amt1').properties;
  assert.equal(pxe['UseSafeMode'], undefined, 'never adds a property the AMT did not report');
  assert.equal(pxe['SecureErase'], undefined);
});
