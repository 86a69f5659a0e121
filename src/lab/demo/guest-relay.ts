// A program, not a module: QEMU runs it for each TCP connection a lab VM opens to anvil's
// guest address (slirp's guestfwd=…-cmd:; with restrict=on that is the VM's only way out of
// its user-mode network; see ../guest-network.ts). Its stdin and stdout are the connection,
// relayed to HOST PORT, or with `--data DIR` to the anvil serving DIR now: the URL in
// DIR/serve.json, which `anvil serve` writes (src/app/server-file.ts). When none serves it,
// the guest gets an HTTP 503 saying so.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

function target(argv: string[]): { host: string; port: number } | string {
  if (argv[0] !== '--data') return { host: argv[0] ?? '127.0.0.1', port: Number(argv[1]) };
  const data = argv[1] ?? '.';
  try {
    const url = new URL((JSON.parse(readFileSync(join(data, 'serve.json'), 'utf8')) as { url: string }).url);
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80) };
  } catch {
    return `no anvil server is serving ${data}; start one: bin/anvil serve --data ${data}`;
  }
}

const to = target(process.argv.slice(2));
if (typeof to === 'string') {
  process.stdout.end(`HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(to) + 1}\r\n\r\n${to}\n`, () =>
    process.exit(0),
  );
} else {
  const socket = connect(to.port, to.host);
  process.stdin.pipe(socket);
  socket.pipe(process.stdout);
  // anvil closed the connection: done once the guest has it all, whether or not the guest closed its side.
  process.stdout.on('finish', () => process.exit(0));
  socket.on('error', () => process.exit(1));
}
