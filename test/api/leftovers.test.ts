// Temp files a crashed server left (half-received uploads and images, half-staged agent
// copies) are removed at the next start, and the log says how many and how many bytes; a
// live process's temp file is left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAnvil } from '../../src/app/start.ts';
import { tempDir } from '../helpers/anvil-process.ts';
import { LOG_LEVEL, LogCapture } from '../helpers/log-capture.ts';

test('temp files of a crashed server are swept at start, and the log counts them and their bytes', async (t) => {
  const data = tempDir();
  const dead = spawnSync('true').pid!;
  const live = process.ppid;
  const uploads = join(data, 'uploads');
  const images = join(data, 'images');
  const agent = join(data, 'tftp', 'anvil-agent');
  for (const dir of [uploads, images, agent]) mkdirSync(dir, { recursive: true });
  const plant = (path: string, bytes: number) => writeFileSync(path, Buffer.alloc(bytes, 0x61));
  plant(join(uploads, `.incoming-${dead}-0123456789abcdef`), 1000);
  plant(join(uploads, '.incoming-0123456789abcdef'), 200); // an older server's name, with no pid
  plant(join(uploads, `.incoming-${live}-0123456789abcdef`), 7);
  plant(join(uploads, '12.log'), 5);
  plant(join(images, `.incoming-${dead}-fedcba9876543210`), 3000);
  plant(join(agent, `initrd.gz.${dead}.0badcafe.tmp`), 40);
  plant(join(agent, 'initrd.gz'), 9);

  const log = new LogCapture();
  const controller = new AbortController();
  const running = await startAnvil({ http: { host: '127.0.0.1', port: 0 }, data, logLevel: 'info', logStream: log, powerSync: false }, controller.signal);
  t.after(async () => {
    controller.abort();
    await running.stopped;
  });
  assert.deepEqual(readdirSync(uploads).sort(), [`.incoming-${live}-0123456789abcdef`, '12.log']);
  assert.deepEqual(readdirSync(images), []);
  assert.deepEqual(readdirSync(agent), ['initrd.gz']);
  const swept = log.lines.filter((line) => /temp file\(s\)/.test(String(line.msg)));
  assert.equal(swept.length, 1, JSON.stringify(log.lines));
  assert.equal(swept[0]!.level, LOG_LEVEL.warn);
  assert.equal(swept[0]!.files, 4);
  assert.equal(swept[0]!.bytes, 4240);
  assert.match(String(swept[0]!.msg), /removed 4 temp file\(s\), 4240 bytes/);
  assert.ok(existsSync(join(agent, 'initrd.gz')));
});
