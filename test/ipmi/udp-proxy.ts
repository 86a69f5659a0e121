// A loopback UDP relay between a client and a BMC that can drop or corrupt the BMC's
// answers on demand, for testing timeouts, idempotency and decode-error recovery.
import { createSocket } from 'node:dgram';
import type { RemoteInfo } from 'node:dgram';
import type { TestContext } from 'node:test';

export type ProxyMode = 'pass' | 'drop-answers' | 'corrupt-answers' | 'duplicate-answers';

export interface UdpProxy {
  readonly port: number;
  mode: ProxyMode;
  /** Datagrams from the client since the counter was last reset. */
  fromClient: number;
  /** When set, BMC answers it returns true for are dropped (it may count and switch itself off). */
  dropAnswer?: (packet: Buffer) => boolean;
  /** Every datagram the client sent, in order. */
  readonly sent: Buffer[];
}

export async function startProxy(t: TestContext, bmcPort: number): Promise<UdpProxy> {
  const front = createSocket('udp4');
  const back = createSocket('udp4');
  let client: RemoteInfo | undefined;
  const proxy: UdpProxy = { port: 0, mode: 'pass', fromClient: 0, sent: [] };
  front.on('message', (msg, rinfo) => {
    client = rinfo;
    proxy.fromClient++;
    proxy.sent.push(msg);
    back.send(msg, bmcPort, '127.0.0.1');
  });
  back.on('message', (msg) => {
    if (!client || proxy.mode === 'drop-answers' || proxy.dropAnswer?.(msg)) return;
    if (proxy.mode === 'corrupt-answers') {
      const bad = Buffer.from(msg);
      bad[bad.length - 1]! ^= 0xff;
      front.send(bad, client.port, client.address);
      return;
    }
    front.send(msg, client.port, client.address);
    if (proxy.mode === 'duplicate-answers') front.send(msg, client.port, client.address);
  });
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => back.bind(0, '127.0.0.1', resolve));
  t.after(() => {
    front.close();
    back.close();
  });
  return Object.assign(proxy, { port: front.address().port });
}
