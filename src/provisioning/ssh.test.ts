import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { havePeers } from '../../test/helpers/peers.ts';
import { SiteSsh } from './ssh.ts';

test('the site key made by five at once (as by concurrent deploys): one key pair, the same public key for all, nothing left over', {
  timeout: 60_000,
}, async (t) => {
  if (!havePeers(t, 'ssh-keygen')) return;
  const dir = join(mkdtempSync(join(tmpdir(), 'anvil-ssh-')), 'ssh');
  t.after(() => rmSync(join(dir, '..'), { recursive: true, force: true }));
  const keys = await Promise.all(Array.from({ length: 5 }, () => new SiteSsh(dir).ensureKey()));
  assert.equal(new Set(keys.map((k) => k.split(' ').slice(0, 2).join(' '))).size, 1, 'one public key');
  assert.match(keys[0]!, /^ssh-ed25519 \S+ anvil@/);
  assert.deepEqual(readdirSync(dir).sort(), ['id_ed25519', 'id_ed25519.pub']);
  assert.equal(statSync(join(dir, 'id_ed25519')).mode & 0o777, 0o600);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(await new SiteSsh(dir).ensureKey(), keys[0], 'made once, then read');
});
