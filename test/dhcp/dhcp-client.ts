// A raw DHCP client for tests on loopback: builds requests with the codec, sends them from a
// UDP socket on 127.0.0.1, and decodes what comes back. The server under test is told to
// send its "broadcast" replies to 127.0.0.1 and this socket's port, so nothing leaves lo.
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { BOOTP_OP, decode, encode, HTYPE_ETHERNET, OPTION, parseMac, type DhcpOptions, type DhcpPacket } from '../../src/protocols/dhcp/index.ts';

export interface RequestSpec {
  readonly mac: string;
  readonly type: number;
  readonly xid?: number;
  readonly ciaddr?: string;
  readonly giaddr?: string;
  readonly options?: ReadonlyArray<readonly [number, Uint8Array]>;
}

let nextXid = 0x1000;

export function buildRequest(spec: RequestSpec): DhcpPacket {
  const chaddr = new Uint8Array(16);
  chaddr.set(parseMac(spec.mac));
  const options: DhcpOptions = new Map([[OPTION.MESSAGE_TYPE, Uint8Array.of(spec.type)]]);
  for (const [code, value] of spec.options ?? []) options.set(code, value);
  return {
    op: BOOTP_OP.REQUEST,
    htype: HTYPE_ETHERNET,
    hlen: 6,
    hops: 0,
    xid: spec.xid ?? nextXid++,
    secs: 0,
    flags: 0,
    ciaddr: spec.ciaddr ?? '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: spec.giaddr ?? '0.0.0.0',
    chaddr,
    sname: '',
    file: '',
    options,
  };
}

export class DhcpTestClient {
  readonly socket: Socket;
  readonly #inbox: { packet: DhcpPacket; from: number }[] = [];
  #wake: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      this.#inbox.push({ packet: decode(msg), from: rinfo.port });
      this.#wake?.();
    });
  }

  static async open(): Promise<DhcpTestClient> {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    return new DhcpTestClient(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  async send(packet: DhcpPacket | Uint8Array, port: number): Promise<void> {
    const bytes = packet instanceof Uint8Array ? packet : encode(packet);
    await new Promise<void>((resolve, reject) => this.socket.send(bytes, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }

  /** The next reply, in arrival order; rejects after timeoutMs. */
  async receive(timeoutMs = 5000): Promise<DhcpPacket> {
    const deadline = Date.now() + timeoutMs;
    while (this.#inbox.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no DHCP reply within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    return this.#inbox.shift()!.packet;
  }

  /** Sends and waits for the reply with the same xid (earlier replies must not exist). */
  async exchange(packet: DhcpPacket, port: number): Promise<DhcpPacket> {
    await this.send(packet, port);
    const reply = await this.receive();
    if (reply.xid !== packet.xid) throw new Error(`expected the reply to xid ${packet.xid}, got ${reply.xid}`);
    return reply;
  }

  close(): void {
    this.socket.close();
  }
}
