// Requests no file can answer — a 4 KB filename, a request cut short — get a TFTP error of the
// client's kind (1, never 0 "server error") or none (a malformed datagram), no error-level log line, and the log keeps
// only the start of what the client sent. Raw datagrams to anvil's own TFTP server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { testAnvil } from '../helpers/anvil-inproc.ts';
import { LOG_LEVEL, LogCapture } from '../helpers/log-capture.ts';
import { decodePacket, encodeRequest } from '../../src/protocols/tftp/codec.ts';

test('a TFTP filename over 255 bytes gets error 1, a malformed request is dropped, the log is clipped', async (t) => {
  const log = new LogCapture();
  const a = await testAnvil(t, { logLevel: 'info', logStream: log, netboot: { tftp: { host: '127.0.0.1', port: 0 } } });
  const port = a.netboot!.tftp!.address!.port;
  const socket = createSocket('udp4');
  t.after(() => socket.close());
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const answer = async (datagram: Buffer) => {
    const reply = once(socket, 'message', { signal: AbortSignal.timeout(5000) });
    socket.send(datagram, port, '127.0.0.1');
    const [message] = (await reply) as [Buffer];
    return decodePacket(message);
  };

  const longName = `pxelinux.cfg/${'A'.repeat(4096)}`;
  for (const filename of [longName, `${'b/'.repeat(200)}x`, 'C'.repeat(300)]) {
    const reply = await answer(encodeRequest({ kind: 'rrq', filename, mode: 'octet' }));
    assert.equal(reply.kind, 'error');
    assert.equal(reply.kind === 'error' && reply.code, 1, `${filename.slice(0, 20)}…: ${JSON.stringify(reply)}`);
  }
  // An RRQ without the NUL after its mode is dropped and counted, never answered (a spoofed
  // source would make the server a reflector): the next answer is the next request's.
  const tftp = a.netboot!.tftp!;
  const malformed = tftp.counters.malformedDropped;
  socket.send(Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${'D'.repeat(4096)}\0octet`)]), port, '127.0.0.1');
  const ok = await answer(encodeRequest({ kind: 'rrq', filename: 'pxelinux.cfg/default', mode: 'octet' }));
  assert.equal(ok.kind, 'data');
  assert.equal(tftp.counters.malformedDropped, malformed + 1);

  assert.deepEqual(log.atLeast(LOG_LEVEL.error), []);
  assert.ok(log.atLeast(LOG_LEVEL.warn).length <= 4, JSON.stringify(log.atLeast(LOG_LEVEL.warn)));
  const refused = log.lines.filter((line) => line.msg === 'tftp refused');
  assert.ok(refused.length >= 3);
  for (const line of log.lines) assert.ok(JSON.stringify(line).length < 600, `a log line carries what the client sent: ${JSON.stringify(line).slice(0, 200)}…`);
  assert.ok(refused.some((line) => String(line.tftp).endsWith(`… (${longName.length} bytes)`)));
});
