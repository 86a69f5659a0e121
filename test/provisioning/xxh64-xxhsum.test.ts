// anvil's XXH64 (the capture checksum, src/provisioning/xxh64.ts) against Debian's xxhsum, the
// reference implementation's own command (the agent links the same library, libxxhash).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { havePeers } from '../helpers/peers.ts';
import { Xxh64 } from '../../src/provisioning/xxh64.ts';

test("XXH64 agrees with Debian's xxhsum over a disk of data and zeros", async (t) => {
  if (!havePeers(t, 'xxhsum')) return;
  const dir = mkdtempSync(join(tmpdir(), 'anvil-xxh64-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = Buffer.concat([randomBytes(1 << 20), Buffer.alloc(3 << 20), randomBytes(12_345)]);
  writeFileSync(join(dir, 'disk'), data);
  const h = await Xxh64.create();
  for (let at = 0; at < data.length; at += 65_536) h.update(data.subarray(at, at + 65_536));
  const line = execFileSync('xxhsum', ['-H1', join(dir, 'disk')], { encoding: 'utf8' });
  assert.equal(line.split(/\s+/)[0], h.hex());
});
