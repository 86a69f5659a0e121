// How the captures in this folder were made: a UDP relay between a real client (ipmitool)
// and a real BMC emulator (OpenIPMI ipmi_sim, or anvil's), writing every datagram as hex.
// Usage: node capture-proxy.ts <listen-port> <bmc-port> <out.json>   (loopback only; Ctrl-C writes the file)
import { createSocket } from 'node:dgram';
import type { RemoteInfo } from 'node:dgram';
import { writeFileSync } from 'node:fs';

const [listenPort, bmcPort, out] = process.argv.slice(2);
if (listenPort === undefined || bmcPort === undefined || out === undefined) {
  process.stderr.write('usage: capture-proxy.ts <listen-port> <bmc-port> <out.json>\n');
  process.exit(2);
}
const packets: { from: 'console' | 'bmc'; hex: string }[] = [];
const front = createSocket('udp4');
const back = createSocket('udp4');
let client: RemoteInfo | undefined;
front.on('message', (msg, rinfo) => {
  client = rinfo;
  packets.push({ from: 'console', hex: msg.toString('hex') });
  back.send(msg, Number(bmcPort), '127.0.0.1');
});
back.on('message', (msg) => {
  packets.push({ from: 'bmc', hex: msg.toString('hex') });
  if (client) front.send(msg, client.port, client.address);
});
front.bind(Number(listenPort), '127.0.0.1');
back.bind(0, '127.0.0.1');
const stop = () => {
  writeFileSync(out, JSON.stringify(packets, null, 1) + '\n');
  front.close();
  back.close();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
