import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFile, parseText, PARSE_LIMITS } from './result-parser.ts';

test('counts I/W/E lines, keeps them, and takes the last V: line as the version', () => {
  const r = parseText('boot ok\nI: disk sda found\nW: fan slow\nE: memtest failed\nV: 1.0\nI: done\nV: 1.1\nE:no space so ignored\n');
  assert.equal(r.infos, 2);
  assert.equal(r.warnings, 1);
  assert.equal(r.errors, 1);
  assert.equal(r.version, '1.1');
  assert.deepEqual(
    r.lines.map((l) => `${l.lineNo}${l.kind}:${l.text}`),
    ['2I:disk sda found', '3W:fan slow', '4E:memtest failed', '5V:1.0', '6I:done', '7V:1.1'],
  );
});

test('CRLF line ends are accepted', () => {
  assert.equal(
    parseText('I: a\r\nE: b\r\n')
      .lines.map((l) => l.text)
      .join(','),
    'a,b',
  );
});

test('binary and non-UTF-8 uploads parse safely', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-parse-'));
  const file = join(dir, 'x.log');
  writeFileSync(
    file,
    Buffer.concat([
      Buffer.from('I: caf'),
      Buffer.from([0xe9, 0x00, 0xff, 0xfe]),
      Buffer.from('\nE: \u0000x\n'),
      Buffer.alloc(5000, 0x41),
      Buffer.from('\nW: end'),
    ]),
  );
  const r = await parseFile(file);
  assert.equal(r.infos, 1);
  assert.equal(r.errors, 1);
  assert.equal(r.warnings, 1);
  assert.equal(r.lines[0]!.text, 'caf\uFFFD\uFFFD\uFFFD');
  assert.equal(r.lines[1]!.text, 'x');
  assert.equal(r.lines[2]!.lineNo, 4);
});

test('only so many lines are stored, but all are counted', () => {
  const n = PARSE_LIMITS.maxStoredLines + 5;
  const r = parseText(Array.from({ length: n }, (_, i) => `I: ${i}`).join('\n'));
  assert.equal(r.infos, n);
  assert.equal(r.lines.length, PARSE_LIMITS.maxStoredLines);
  assert.equal(r.dropped, 5);
});
