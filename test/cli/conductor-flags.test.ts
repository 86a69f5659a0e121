// anvil serve's conductor timings: nonsense is a usage error naming the flag, before anything starts.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { ANVIL, exec, tempDir } from '../helpers/anvil-process.ts';

test('anvil serve refuses a heartbeat that is no number and a dead-after not longer than one heartbeat', async (t) => {
  const data = tempDir();
  t.after(() => rmSync(data, { recursive: true, force: true }));
  const serve = (...args: string[]) => exec(ANVIL, ['serve', '--data', data, '--http', '127.0.0.1:0', '--tftp', 'off', ...args], { ANVIL_DATABASE_URL: '' });
  const soon = await serve('--conductor-heartbeat', 'soon');
  assert.equal(soon.code, 2);
  assert.match(soon.stderr, /--conductor-heartbeat='soon' must be a positive number of seconds/);
  const short = await serve('--conductor-heartbeat', '2', '--conductor-dead-after', '1');
  assert.equal(short.code, 2);
  assert.match(short.stderr, /--conductor-dead-after \(1 s\) must be longer than one heartbeat \(2 s\)/);
  const env = await exec(ANVIL, ['serve', '--data', data, '--http', '127.0.0.1:0', '--tftp', 'off'], {
    ANVIL_DATABASE_URL: '',
    ANVIL_CONDUCTOR_DEAD_AFTER: '-1',
  });
  assert.equal(env.code, 2);
  assert.match(env.stderr, /--conductor-dead-after='-1'/);
});
