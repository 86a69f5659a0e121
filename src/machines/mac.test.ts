import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeMac, parseMac, pxelinuxName } from './mac.ts';

test('every common MAC notation has one canonical form', () => {
  for (const text of ['aa:bb:cc:dd:ee:0f', 'AA-BB-CC-DD-EE-0F', 'aabbccddee0f', 'AABB.CCDD.EE0F', ' aa:bb:cc:dd:ee:f ', '01-aa-bb-cc-dd-ee-0f']) {
    assert.equal(parseMac(text), 'aa:bb:cc:dd:ee:0f', text);
  }
  for (const text of ['', 'aa:bb:cc:dd:ee', 'gg:bb:cc:dd:ee:ff', 'aabbccddeeff00', 'aa:bb-cc:dd:ee:ff:00:11']) {
    assert.equal(parseMac(text), undefined, text);
  }
  assert.throws(() => normalizeMac('nope'), /'nope' is not a MAC address; write it as aa:bb:cc:dd:ee:ff/);
  assert.equal(pxelinuxName('aa:bb:cc:dd:ee:0f'), '01-aa-bb-cc-dd-ee-0f');
});
