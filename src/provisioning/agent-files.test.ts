import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_TFTP_DIR, stageAgent } from './agent-files.ts';

test('several processes staging the agent at once all succeed and leave no temp file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-agent-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const build = join(dir, 'build');
  const root = join(dir, 'tftp');
  mkdirSync(build);
  writeFileSync(join(build, 'vmlinuz'), Buffer.alloc(4 * 1024 * 1024, 1));
  writeFileSync(join(build, 'initrd.gz'), Buffer.alloc(2 * 1024 * 1024, 2));
  // Three deploys started together on a fresh data directory, as the lab deploy test does.
  const staged = await Promise.all([1, 2, 3, 4, 5].map(() => stageAgent(build, root)));
  assert.equal(staged.length, 5);
  assert.deepEqual(readdirSync(join(root, AGENT_TFTP_DIR)).sort(), ['initrd.gz', 'vmlinuz']);
  assert.ok(readFileSync(join(root, AGENT_TFTP_DIR, 'vmlinuz')).equals(readFileSync(join(build, 'vmlinuz'))));
});
