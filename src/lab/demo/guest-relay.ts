// A program, not a module: QEMU runs it for each TCP connection a demo VM opens to anvil's
// guest address (slirp's guestfwd=…-cmd:; with restrict=on that is the VM's only way out of
// its user-mode network). Its stdin and stdout are the connection, relayed to HOST PORT.
import { connect } from 'node:net';

const [host, port] = process.argv.slice(2);
const socket = connect(Number(port), host ?? '127.0.0.1');
process.stdin.pipe(socket);
socket.pipe(process.stdout);
// anvil closed the connection: done once the guest has it all, whether or not the guest closed its side.
process.stdout.on('finish', () => process.exit(0));
socket.on('error', () => process.exit(1));
