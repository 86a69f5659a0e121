import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_TESTS } from './seed.ts';

test("the demo's hello test prints its V: line at every minute, 08 and 09 too (sh reads them as octal)", (t) => {
  const line = DEMO_TESTS['hello.test']!.split('\n').find((l) => l.includes('V: demo-os'));
  assert.ok(line, 'hello.test has a V: line');
  const bin = mkdtempSync(join(tmpdir(), 'anvil-demo-date-'));
  t.after(() => rmSync(bin, { recursive: true, force: true }));
  for (const minute of ['00', '07', '08', '09', '10', '59']) {
    writeFileSync(join(bin, 'date'), `#!/bin/sh\necho ${minute}\n`, { mode: 0o755 });
    const r: SpawnSyncReturns<string> = spawnSync('sh', ['-c', line as string], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' });
    assert.equal(r.stdout, `V: demo-os 1.${Number(minute) % 3}\n`, `minute ${minute}: ${r.stderr}`);
  }
});
