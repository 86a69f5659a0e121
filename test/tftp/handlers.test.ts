// File handlers on a real file system: the root jail, the chain, fixed names, and the
// block reader streaming a file in chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeRoot } from './fixture.ts';
import { BlockReader } from '../../src/protocols/tftp/block-reader.ts';
import { TftpAccessDeniedError } from '../../src/protocols/tftp/errors.ts';
import { ChainHandler, StaticFilesHandler, bufferFile, findBootLoaders } from '../../src/protocols/tftp/handler.ts';
import type { TftpFile } from '../../src/protocols/tftp/handler.ts';
import { RootDirectoryHandler } from '../../src/protocols/tftp/root-handler.ts';

const client = { address: '127.0.0.1', port: 1 };

async function readAll(file: TftpFile): Promise<Buffer> {
  const out = Buffer.alloc(file.size ?? 0);
  const n = await file.read(out, 0);
  await file.close();
  return out.subarray(0, n);
}

test('the root jail refuses every spelling of an escape', async (t) => {
  const root = await makeRoot(t);
  const handler = new RootDirectoryHandler(root.dir);
  const denied = [
    '../secret.txt',
    'sub/../../secret.txt',
    '..',
    '..\\secret.txt',
    'sub\\..\\..\\secret.txt',
    'escape',
    'etc-link/passwd',
    'small.txt\0.png',
    '/../secret.txt',
  ];
  for (const path of denied) {
    await assert.rejects(
      handler.open(path, client),
      (e: unknown) => e instanceof TftpAccessDeniedError && e.code === 'TFTP_ACCESS_DENIED',
      JSON.stringify(path),
    );
  }
  // Names that stay inside: absent, or served. '%2f' is a literal name in TFTP, never decoded.
  for (const path of ['/etc/passwd', '..%2fsecret.txt', '...', 'sub', 'sub/dir', '', '/', 'missing/x']) {
    assert.equal(await handler.open(path, client), undefined, JSON.stringify(path));
  }
  const small = root.files.get('small.txt')!;
  for (const path of ['small.txt', '/small.txt', '//./small.txt', 'inside-link']) {
    const file = await handler.open(path, client);
    assert.ok(file, path);
    assert.equal(file.size, small.length);
    assert.ok((await readAll(file)).equals(small), path);
  }
  // A backslash is a separator, as Windows-style clients mean it.
  assert.ok((await readAll((await handler.open('sub\\dir\\nested.bin', client))!)).equals(root.files.get('sub/dir/nested.bin')!));
});

test('a FIFO in the root is not opened (it would block) and a directory is not a file', async (t) => {
  const root = await makeRoot(t);
  execFileSync('mkfifo', [join(root.dir, 'pipe')]);
  const handler = new RootDirectoryHandler(root.dir);
  assert.equal(await handler.open('pipe', client), undefined);
  assert.equal(await handler.open('sub/dir', client), undefined);
});

test('ChainHandler tries handlers in order; StaticFilesHandler maps only exact names', async (t) => {
  const root = await makeRoot(t);
  const first = bufferFile('from the first');
  const chain = new ChainHandler([
    { open: async (path) => (path === 'both' ? first : undefined) },
    new StaticFilesHandler({ 'loader.bin': join(root.dir, 'small.txt'), 'absent.bin': join(root.dir, 'nope') }),
    new RootDirectoryHandler(root.dir),
  ]);
  assert.equal(await chain.open('both', client), first);
  assert.ok((await readAll((await chain.open('/loader.bin', client))!)).equals(root.files.get('small.txt')!));
  assert.equal(await chain.open('absent.bin', client), undefined);
  const fallthrough = await chain.open('exact512.bin', client);
  assert.ok(fallthrough, 'falls through to the root');
  await fallthrough.close();
  await assert.rejects(chain.open('../secret.txt', client), TftpAccessDeniedError);
});

test('findBootLoaders reports which loaders are installed', async (t) => {
  const root = await makeRoot(t);
  const found = findBootLoaders({ 'a.kpxe': join(root.dir, 'small.txt'), 'b.efi': join(root.dir, 'missing.efi') });
  assert.deepEqual(found, [
    { name: 'a.kpxe', path: join(root.dir, 'small.txt'), installed: true },
    { name: 'b.efi', path: join(root.dir, 'missing.efi'), installed: false },
  ]);
  assert.deepEqual(
    findBootLoaders().map((l) => l.name),
    ['undionly.kpxe', 'ipxe.efi', 'pxelinux.0', 'ldlinux.c32'],
  );
});

test('BlockReader streams a file in chunks, ends on a short or empty final block, reading each chunk once', async (t) => {
  const root = await makeRoot(t);
  await mkdir(join(root.dir, 'r'), { recursive: true });
  for (const size of [0, 1, 511, 512, 1024, 10_000, 1_000_000]) {
    const content = randomBytes(size);
    await writeFile(join(root.dir, 'r', 'f'), content);
    const file = (await new RootDirectoryHandler(root.dir).open('r/f', client))!;
    let reads = 0;
    const counting: TftpFile = { size: undefined, read: (b, p) => (reads++, file.read(b, p)), close: () => file.close() };
    // An unknown size (as for a generated file) must be found by reading, in 4 KiB chunks here.
    const reader = new BlockReader(counting, 512, 2, 4096);
    const parts: Buffer[] = [];
    for (let n = 1; reader.lastBlock === undefined || n <= reader.lastBlock; n++) {
      let block = reader.block(n);
      if (block === undefined) {
        await reader.load(n);
        block = reader.block(n)!;
      }
      parts.push(Buffer.from(block));
    }
    await file.close();
    assert.equal(reader.lastBlock, Math.floor(size / 512) + 1, `size ${size}`);
    assert.ok(Buffer.concat(parts).equals(content), `size ${size}`);
    assert.equal(parts.at(-1)!.length, size % 512, 'the final block is short, empty for an exact multiple');
    assert.ok(reads <= Math.ceil(size / 4096) + 2, `size ${size}: ${reads} reads`);
  }
});
