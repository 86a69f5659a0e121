// The README opens with the two set-up commands, and CI runs the second one unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const root = new URL('../../', import.meta.url);

test('the README opens with exactly two command lines, and .ci/run runs the second', () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const block = /```sh\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README has a first sh block');
  assert.ok(readme.indexOf(block[0]) < readme.indexOf('\n\n', readme.indexOf('# anvil') + 8) + 2, 'the block comes right after the title');
  const lines = block[1]!.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /bin\/anvil demo$/);
  const ci = readFileSync(new URL('.ci/run', root), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('set ') && !l.startsWith('cd '));
  assert.deepEqual(ci, [lines[1]]);
});
