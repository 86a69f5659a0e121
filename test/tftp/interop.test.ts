// anvil's TFTP server against real clients it did not write: curl, tftp-hpa and atftp
// fetch files byte-exact; traversal attempts and write requests fail with an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { engineTest, makeRoot, outDir, run, startServer, waitFor } from './fixture.ts';
import { tftpGet } from '../../src/protocols/tftp/client.ts';
import { decodePacket, encodeRequest } from '../../src/protocols/tftp/codec.ts';
import { NETASCII_MAX_BYTES } from '../../src/protocols/tftp/constants.ts';
import { TftpRemoteError } from '../../src/protocols/tftp/errors.ts';
import { ChainHandler, DEBIAN_BOOT_LOADERS, StaticFilesHandler, findBootLoaders } from '../../src/protocols/tftp/handler.ts';
import { RootDirectoryHandler } from '../../src/protocols/tftp/root-handler.ts';

const url = (port: number, path: string) => `tftp://127.0.0.1:${port}/${path}`;

engineTest('curl fetches every file byte-exact, at blksize 512, 1468 and an over-cap 8192 (clamped)', async (t, engine) => {
  if (!havePeers(t, 'curl')) return;
  const root = await makeRoot(t);
  const out = await outDir(t);
  const { port, events } = await startServer(t, engine, root.dir);
  const variants = [[], ['--tftp-blksize', '1468'], ['--tftp-blksize', '8192']];
  // All at once: the server runs each transfer on its own socket.
  await Promise.all(
    [...root.files].flatMap(([name, content]) =>
      variants.map(async (extra, i) => {
        const file = join(out, `${name.replaceAll('/', '_')}.${i}`);
        const result = await run('curl', ['-sS', ...extra, '-o', file, url(port, name)]);
        assert.equal(result.code, 0, `curl ${extra.join(' ')} ${name}: ${result.stderr}`);
        assert.ok((await readFile(file)).equals(content), `curl ${extra.join(' ')} ${name} differs`);
      }),
    ),
  );
  const blockSizes = new Set(events.flatMap((e) => (e.type === 'transfer-start' ? [e.blockSize] : [])));
  assert.deepEqual(
    [...blockSizes].sort((a, b) => a - b),
    [512, 1468],
    '8192 is clamped to the 1468 cap',
  );
});

engineTest('curl at blksize 8 crosses the 16-bit block number wrap (more than 65535 blocks)', async (t, engine) => {
  if (!havePeers(t, 'curl')) return;
  const root = await makeRoot(t);
  const out = await outDir(t);
  const content = randomBytes(8 * 70_000 + 3);
  await writeFile(join(root.dir, 'wrap.bin'), content);
  const { port } = await startServer(t, engine, root.dir);
  const result = await run('curl', ['-sS', '--tftp-blksize', '8', '-o', join(out, 'wrap.bin'), url(port, 'wrap.bin')], 50_000);
  assert.equal(result.code, 0, result.stderr);
  assert.ok((await readFile(join(out, 'wrap.bin'))).equals(content));
});

engineTest('tftp-hpa fetches every file byte-exact in binary mode, also with -v', async (t, engine) => {
  if (!havePeers(t, 'tftp')) return;
  const root = await makeRoot(t);
  const out = await outDir(t);
  const { port } = await startServer(t, engine, root.dir);
  for (const [name, content] of root.files) {
    for (const extra of [[], ['-v']]) {
      const file = join(out, `${name.replaceAll('/', '_')}${extra.join('')}`);
      const result = await run('tftp', [...extra, '-m', 'binary', '127.0.0.1', String(port), '-c', 'get', name, file]);
      // tftp-hpa exits 0 even after an error packet, so its output is checked too.
      assert.doesNotMatch(result.stdout + result.stderr, /Error code|Transfer timed out/, name);
      assert.ok((await readFile(file)).equals(content), `tftp-hpa ${extra.join(' ')} ${name} differs`);
    }
  }
});

engineTest("tftp-hpa's default netascii mode gets text files as they are; a file too large for netascii is refused with a hint", async (t, engine) => {
  if (!havePeers(t, 'tftp')) return;
  const root = await makeRoot(t);
  const out = await outDir(t);
  const text = 'DEFAULT local\nLABEL local\n  LOCALBOOT 0\r\nwindows line\r\n';
  await writeFile(join(root.dir, 'pxelinux.txt'), text);
  const { port } = await startServer(t, engine, root.dir);
  const file = join(out, 'pxelinux.txt');
  // No -m: tftp-hpa asks for netascii by default.
  const result = await run('tftp', ['127.0.0.1', String(port), '-c', 'get', 'pxelinux.txt', file]);
  assert.doesNotMatch(result.stdout + result.stderr, /Error code|Transfer timed out/);
  assert.equal(await readFile(file, 'utf8'), text, 'converted to netascii on the wire and back by the client');
  await writeFile(join(root.dir, 'big.bin'), Buffer.alloc(NETASCII_MAX_BYTES + 1));
  const refused = await run('tftp', ['-m', 'netascii', '127.0.0.1', String(port), '-c', 'get', 'big.bin', join(out, 'big.bin')]);
  assert.match(refused.stdout + refused.stderr, /Error code 4: netascii transfers are for text files of at most \d+ bytes; use octet \(binary\) mode/);
});

engineTest('atftp fetches every file byte-exact, plain and with blksize 1428, tsize and windowsize 8', async (t, engine) => {
  if (!havePeers(t, 'atftp')) return;
  const root = await makeRoot(t);
  const out = await outDir(t);
  const { port, events } = await startServer(t, engine, root.dir);
  const withOptions = ['--option', 'blksize 1428', '--option', 'tsize', '--option', 'windowsize 8'];
  for (const [name, content] of root.files) {
    for (const [i, extra] of [[], withOptions].entries()) {
      const file = join(out, `${name.replaceAll('/', '_')}.${i}`);
      const result = await run('atftp', ['--get', '-r', name, '-l', file, ...extra, '127.0.0.1', String(port)]);
      assert.equal(result.code, 0, `atftp ${name}: ${result.stderr}`);
      assert.ok((await readFile(file)).equals(content), `atftp ${extra.join(' ')} ${name} differs`);
    }
  }
  const negotiated = events.filter((e) => e.type === 'transfer-start' && e.blockSize === 1428 && e.windowSize === 8);
  assert.equal(negotiated.length, root.files.size, 'atftp negotiated blksize 1428 and windowsize 8 on every optioned fetch');
});

engineTest('anvil client: windowsizes 1, 8 and 64 and 30 concurrent transfers, byte-exact', async (t, engine) => {
  const root = await makeRoot(t);
  const { port, server } = await startServer(t, engine, root.dir);
  const big = root.files.get('big.bin')!;
  const fetch = async (windowSize: number, blockSize = 1468) => {
    const parts: Buffer[] = [];
    const result = await tftpGet({
      host: '127.0.0.1',
      port,
      filename: 'big.bin',
      blockSize,
      windowSize,
      tsize: true,
      onData: (p) => parts.push(Buffer.from(p)),
    });
    assert.ok(Buffer.concat(parts).equals(big), `windowsize ${windowSize} differs`);
    assert.deepEqual(result.oack, [
      ['blksize', String(blockSize)],
      ['windowsize', String(windowSize)],
      ['tsize', String(big.length)],
    ]);
  };
  for (const windowSize of [1, 8, 64]) await fetch(windowSize);
  await Promise.all(Array.from({ length: 30 }, (_, i) => fetch([1, 4, 16][i % 3]!, [512, 1024, 1468][i % 3]!)));
  // The client is done when it sends its last ACK; the server, when that ACK arrives.
  // Generous: on a loaded 2-core CI machine the last ACKs can trail the clients by seconds.
  await waitFor(() => server.counters.transfersCompleted === 33, 'the server to see 33 final ACKs', 60_000);
  assert.equal(server.counters.activeTransfers, 0);
  assert.equal(server.counters.transfersFailed, 0);
});

engineTest('boot loaders from the Debian packages are served by name through a ChainHandler', async (t, engine) => {
  if (!havePeers(t, 'curl')) return;
  const loaders = findBootLoaders();
  if (
    !requireCondition(
      t,
      loaders.every((l) => l.installed),
      'Debian packages ipxe, pxelinux and syslinux-common',
    )
  )
    return;
  const root = await makeRoot(t);
  const out = await outDir(t);
  const { port } = await startServer(t, engine, new ChainHandler([new StaticFilesHandler(), new RootDirectoryHandler(root.dir)]));
  for (const [name, path] of Object.entries(DEBIAN_BOOT_LOADERS)) {
    const result = await run('curl', ['-sS', '--tftp-blksize', '1468', '-o', join(out, name), url(port, name)]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok((await readFile(join(out, name))).equals(await readFile(path)), name);
  }
  const small = await run('curl', ['-sS', '-o', join(out, 'small.txt'), url(port, 'small.txt')]);
  assert.equal(small.code, 0, 'names the static handler lacks fall through to the root');
});

engineTest('traversal attempts fail with an error from every client, and never leak the outside file', async (t, engine) => {
  if (!havePeers(t, 'curl', 'tftp', 'atftp')) return;
  const root = await makeRoot(t);
  const out = await outDir(t);
  const { port } = await startServer(t, engine, root.dir);
  const secret = await readFile(root.outside);
  const passwd = await readFile('/etc/passwd');

  // Error codes, through anvil's own client: 2 (access violation) for an escape, 1 where
  // the name stays inside the root and simply does not exist there.
  const expected: [string, number][] = [
    ['../secret.txt', 2],
    ['sub/../../secret.txt', 2],
    ['/../secret.txt', 2],
    ['..\\secret.txt', 2],
    ['escape', 2],
    ['etc-link/passwd', 2],
    ['/etc/passwd', 1],
    ['..%2fsecret.txt', 1],
    ['%2e%2e/secret.txt', 1],
  ];
  for (const [path, code] of expected) {
    await assert.rejects(tftpGet({ host: '127.0.0.1', port, filename: path }), (e: unknown) => e instanceof TftpRemoteError && e.errorCode === code, path);
  }
  // A leading '/' means the root (as tftp-hpa), and a symlink that stays inside is followed.
  for (const path of ['/small.txt', 'inside-link', './sub//dir/nested.bin']) {
    assert.ok((await tftpGet({ host: '127.0.0.1', port, filename: path })).bytes > 0, path);
  }

  const leaked = async (file: string) => {
    const content = await readFile(file).catch(() => Buffer.alloc(0));
    return content.length > 0 && (content.equals(secret) || content.equals(passwd));
  };
  // curl: --path-as-is keeps the dots; %2f is decoded by curl itself, so the server sees '../'.
  for (const [i, path] of ['../secret.txt', '..%2fsecret.txt', 'escape', 'etc-link/passwd', '/etc/passwd', '..%5csecret.txt'].entries()) {
    const file = join(out, `curl.${i}`);
    const result = await run('curl', ['-sS', '--path-as-is', '-o', file, url(port, path)]);
    assert.notEqual(result.code, 0, `curl ${path} must fail`);
    assert.equal(await leaked(file), false, `curl ${path} leaked`);
  }
  for (const [i, path] of ['../secret.txt', '/etc/passwd', 'escape', 'etc-link/passwd', '..\\secret.txt', '..%2fsecret.txt'].entries()) {
    const file = join(out, `hpa.${i}`);
    const result = await run('tftp', ['-l', '-m', 'binary', '127.0.0.1', String(port), '-c', 'get', path, file]);
    assert.match(result.stdout + result.stderr, /Error code [12]/, `tftp-hpa ${path} must fail`);
    assert.equal(await leaked(file), false, `tftp-hpa ${path} leaked`);
  }
  for (const [i, path] of ['../secret.txt', '/etc/passwd', 'escape'].entries()) {
    const file = join(out, `atftp.${i}`);
    const result = await run('atftp', ['--get', '-r', path, '-l', file, '127.0.0.1', String(port)]);
    assert.notEqual(result.code, 0, `atftp ${path} must fail`);
    assert.equal(await leaked(file), false, `atftp ${path} leaked`);
  }
});

engineTest('write requests are refused with error 2, from tftp-hpa, atftp and a raw WRQ', async (t, engine) => {
  if (!havePeers(t, 'tftp', 'atftp')) return;
  const root = await makeRoot(t);
  const { port, server } = await startServer(t, engine, root.dir);
  const hpa = await run('tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'put', join(root.dir, 'small.txt'), 'uploaded']);
  assert.match(hpa.stdout + hpa.stderr, /Error code 2/);
  const atftp = await run('atftp', ['--put', '-l', join(root.dir, 'small.txt'), '-r', 'uploaded', '127.0.0.1', String(port)]);
  assert.notEqual(atftp.code, 0);

  const socket = createSocket('udp4');
  t.after(() => socket.close());
  const answer = new Promise<Buffer>((resolve) => socket.once('message', resolve));
  socket.send(encodeRequest({ kind: 'wrq', filename: 'new.bin', mode: 'octet' }), port, '127.0.0.1');
  const packet = decodePacket(await answer);
  assert.equal(packet.kind, 'error');
  assert.equal(packet.kind === 'error' && packet.code, 2);
  assert.equal(server.counters.requestsRefused, 3);
  await assert.rejects(readFile(join(root.dir, 'uploaded')), { code: 'ENOENT' });
});

engineTest('IPv6: curl fetches from a server on ::1', async (t, engine) => {
  if (!havePeers(t, 'curl')) return;
  const root = await makeRoot(t);
  const out = await outDir(t);
  let server;
  try {
    server = await startServer(t, engine, root.dir, { host: '::1' });
  } catch (error) {
    if (!requireCondition(t, false, `IPv6 loopback (::1) to bind: ${(error as Error).message}`)) return;
    throw error;
  }
  const result = await run('curl', ['-sS', '--tftp-blksize', '1468', '-o', join(out, 'big.bin'), `tftp://[::1]:${server.port}/big.bin`]);
  assert.equal(result.code, 0, result.stderr);
  assert.ok((await readFile(join(out, 'big.bin'))).equals(root.files.get('big.bin')!));
});
