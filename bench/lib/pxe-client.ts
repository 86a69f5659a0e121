// One simulated machine's network boot, as a BIOS machine with a plain PXE ROM does it
// against anvil in server mode, every step timed:
//   offer      the ROM's DHCPDISCOVER until anvil's OFFER (a lease and the loader's name)
//   ack        its DHCPREQUEST until the ACK
//   tftp       the loader the ACK names (undionly.kpxe), over TFTP from the leased address
//   ipxe-dhcp  iPXE's own DISCOVER/REQUEST (user class iPXE): the ACK names the script URL
//   script     GET of that URL (/boot/<mac>), an iPXE script naming a kernel and an initrd
//   kernel, initrd   GET of each, over the same keep-alive connection, every byte counted
// The DHCP packets are the captured ones of a real iPXE (src/protocols/dhcp/testdata), with
// this machine's MAC, xid and UUID; the ROM's are the same without iPXE's options 77 and 175.
import { createHash } from 'node:crypto';
import { tftpGet } from '../../src/protocols/tftp/client.ts';
import { udpSocketFactory, type SocketFactory } from '../../src/protocols/tftp/io.ts';
import { decode, getString, MESSAGE_TYPE, OPTION, parseMac, type DhcpPacket } from '../../src/protocols/dhcp/index.ts';
import { testdata } from '../../src/protocols/dhcp/testdata/packets.ts';
import { DhcpPort, IPXE_TIMEOUTS_MS, PXE_ROM_TIMEOUTS_MS } from './dhcp-port.ts';
import { httpGet, machineAgent } from './http-get.ts';

export const STEPS = ['offer', 'ack', 'tftp', 'ipxe-dhcp', 'script', 'kernel', 'initrd'] as const;
export type Step = (typeof STEPS)[number];

export const STEP_LABELS: Readonly<Record<Step, string>> = {
  offer: 'DHCP DISCOVER → OFFER (ROM)',
  ack: 'DHCP REQUEST → ACK (ROM)',
  tftp: 'TFTP loader',
  'ipxe-dhcp': 'DHCP DISCOVER → ACK (iPXE)',
  script: 'HTTP script /boot/<mac>',
  kernel: 'HTTP kernel',
  initrd: 'HTTP initrd',
};

/** The blksize asked (RFC 2348): a block that fits one 1500-byte Ethernet frame, about what PXE ROMs ask. */
export const TFTP_BLOCK_SIZE = 1432;

export interface ExpectedFile {
  readonly bytes: number;
  readonly sha256: string;
}

export interface BootPlan {
  /** The loader name anvil's ACK must give (BIOS, iPXE loader). */
  readonly loaderName: string;
  /** Its content, to compare every TFTP transfer with. */
  readonly loader: Buffer;
  readonly kernel: ExpectedFile;
  readonly initrd: ExpectedFile;
  /** Hash the artifacts of every n-th client (1: all). Hashing 30 GB would cost this process more than anvil's serving. */
  readonly verifyEvery: number;
}

export interface ClientResult {
  readonly index: number;
  readonly mac: string;
  readonly address?: string;
  /** Duration of each step done, in ms. */
  readonly ms: Partial<Record<Step, number>>;
  readonly totalMs?: number;
  readonly failed?: { readonly step: Step; readonly message: string };
  /** Requests sent again after a timeout, per step (DHCP requests, TFTP ACKs). */
  readonly resent: Partial<Record<Step, number>>;
  readonly artifactBytes: number;
  /** performance.now() when the kernel request left and when the initrd's last byte came. */
  readonly artifactsFrom?: number;
  readonly artifactsTo?: number;
}

/** A locally administered MAC per client index. */
export function stormMac(index: number): string {
  return ['02', 'b5', (index >> 24) & 255, (index >> 16) & 255, (index >> 8) & 255, index & 255]
    .map((b) => (typeof b === 'string' ? b : b.toString(16).padStart(2, '0')))
    .join(':');
}

const IPXE_DISCOVER = decode(testdata('ipxe-bios-discover.hex'));
const IPXE_REQUEST = decode(testdata('ipxe-bios-request.hex'));
const IPXE_ONLY_OPTIONS: readonly number[] = [OPTION.USER_CLASS, OPTION.IPXE_ENCAPSULATED];

/** The captured packet, made this machine's: chaddr, xid, client id (61) and UUID (97). */
function packetFor(
  template: DhcpPacket,
  mac: string,
  xid: number,
  firmware: 'rom' | 'ipxe',
  extra: ReadonlyArray<readonly [number, Uint8Array]> = [],
): DhcpPacket {
  const macBytes = parseMac(mac);
  const chaddr = new Uint8Array(16);
  chaddr.set(macBytes);
  const options = new Map([...template.options].filter(([code]) => firmware === 'ipxe' || !IPXE_ONLY_OPTIONS.includes(code)));
  options.set(OPTION.CLIENT_ID, Uint8Array.of(1, ...macBytes));
  const uuid = new Uint8Array(17); // type 0, then the machine's UUID (here: derived from its MAC)
  uuid.set(macBytes, 11);
  options.set(OPTION.CLIENT_UUID, uuid);
  options.delete(OPTION.SERVER_ID);
  options.delete(OPTION.REQUESTED_ADDRESS);
  for (const [code, value] of extra) options.set(code, value);
  return { ...template, xid, secs: 0, chaddr, options };
}

function requestAfter(offer: DhcpPacket, template: DhcpPacket, mac: string, xid: number, firmware: 'rom' | 'ipxe'): DhcpPacket {
  const serverId = offer.options.get(OPTION.SERVER_ID);
  if (serverId === undefined) throw new Error('the OFFER has no server identifier (option 54)');
  return packetFor(template, mac, xid, firmware, [
    [OPTION.SERVER_ID, serverId],
    [OPTION.REQUESTED_ADDRESS, Uint8Array.from(offer.yiaddr.split('.').map(Number))],
  ]);
}

/** A TFTP socket bound to the leased address, so anvil sees the machine where its lease says. */
function boundTo(address: string): SocketFactory {
  return (family) => {
    const socket = udpSocketFactory(family);
    return {
      bind: (port) => socket.bind(port, address),
      connect: (port, host) => socket.connect(port, host),
      send: (parts, to) => socket.send(parts, to),
      onMessage: (listener) => socket.onMessage(listener),
      onError: (listener) => socket.onError(listener),
      close: () => socket.close(),
    };
  };
}

/** The kernel and initrd URLs of an iPXE script (`kernel URL args`, `initrd URL`), and that it boots. */
export function parseBootScript(script: string): { kernel: string; initrd: string } {
  const urlOf = (keyword: string) => {
    const line = script.split('\n').find((l) => l.trim().startsWith(`${keyword} `));
    return line
      ?.trim()
      .split(/\s+/)
      .find((token) => /^https?:\/\//.test(token));
  };
  const kernel = urlOf('kernel');
  const initrd = urlOf('initrd');
  if (!script.startsWith('#!ipxe') || kernel === undefined || initrd === undefined || !/^boot\b/m.test(script)) {
    throw new Error(`the script does not boot a kernel and an initrd: ${JSON.stringify(script.slice(0, 300))}`);
  }
  return { kernel, initrd };
}

/** Boots machine `index` through every step; never throws: a failure is recorded with its step. */
export async function bootClient(index: number, port: DhcpPort, plan: BootPlan): Promise<ClientResult> {
  const mac = stormMac(index);
  const ms: Partial<Record<Step, number>> = {};
  const resent: Partial<Record<Step, number>> = {};
  let step: Step = 'offer';
  let address: string | undefined;
  let artifactBytes = 0;
  let artifactsFrom: number | undefined;
  let artifactsTo: number | undefined;
  const timed = async <T>(s: Step, work: () => Promise<T>): Promise<T> => {
    step = s;
    const start = performance.now();
    const result = await work();
    ms[s] = performance.now() - start;
    return result;
  };
  const xid = (stage: number) => (0x5b000000 + index * 4 + stage) >>> 0;
  const started = performance.now();
  const agent = machineAgent();
  try {
    // The PXE ROM: a lease and the loader's name.
    const offer = await timed('offer', async () => {
      const { reply, resent: n } = await port.exchange(packetFor(IPXE_DISCOVER, mac, xid(0), 'rom'), [MESSAGE_TYPE.OFFER], PXE_ROM_TIMEOUTS_MS);
      resent.offer = n;
      return reply;
    });
    const ack = await timed('ack', async () => {
      const { reply, resent: n } = await port.exchange(
        requestAfter(offer, IPXE_REQUEST, mac, xid(1), 'rom'),
        [MESSAGE_TYPE.ACK, MESSAGE_TYPE.NAK],
        PXE_ROM_TIMEOUTS_MS,
      );
      resent.ack = n;
      if (reply.options.get(OPTION.MESSAGE_TYPE)?.[0] === MESSAGE_TYPE.NAK)
        throw new Error(`NAK: ${getString(reply.options, OPTION.MESSAGE) ?? 'no reason given'}`);
      return reply;
    });
    const leased = ack.yiaddr;
    address = leased;
    const loaderName = ack.file || getString(ack.options, OPTION.BOOTFILE_NAME);
    if (loaderName !== plan.loaderName) throw new Error(`the ACK names loader '${loaderName}', not '${plan.loaderName}'`);

    await timed('tftp', async () => {
      const received = Buffer.allocUnsafe(plan.loader.length + TFTP_BLOCK_SIZE);
      let at = 0;
      const result = await tftpGet({
        host: ack.siaddr,
        filename: loaderName,
        blockSize: TFTP_BLOCK_SIZE,
        tsize: true,
        socketFactory: boundTo(leased),
        onData: (payload) => (at += at + payload.length <= received.length ? payload.copy(received, at) : payload.length),
      });
      resent.tftp = result.retransmissions;
      if (result.bytes !== plan.loader.length || !received.subarray(0, at).equals(plan.loader)) {
        throw new Error(`${loaderName}: ${result.bytes} bytes received that differ from the ${plan.loader.length} of the loader`);
      }
    });

    // iPXE, loaded: its own DHCP exchange gets the script URL instead of a loader.
    const scriptUrl = await timed('ipxe-dhcp', async () => {
      const o = await port.exchange(packetFor(IPXE_DISCOVER, mac, xid(2), 'ipxe'), [MESSAGE_TYPE.OFFER], IPXE_TIMEOUTS_MS);
      const a = await port.exchange(requestAfter(o.reply, IPXE_REQUEST, mac, xid(3), 'ipxe'), [MESSAGE_TYPE.ACK, MESSAGE_TYPE.NAK], IPXE_TIMEOUTS_MS);
      resent['ipxe-dhcp'] = o.resent + a.resent;
      if (a.reply.options.get(OPTION.MESSAGE_TYPE)?.[0] === MESSAGE_TYPE.NAK)
        throw new Error(`NAK to iPXE: ${getString(a.reply.options, OPTION.MESSAGE) ?? 'no reason given'}`);
      if (a.reply.yiaddr !== leased) throw new Error(`iPXE was given ${a.reply.yiaddr}, the ROM ${leased}: a MAC should keep its address`);
      const url = getString(a.reply.options, OPTION.BOOTFILE_NAME) ?? a.reply.file;
      if (!/^https?:\/\/.*\/boot\//.test(url)) throw new Error(`iPXE was given '${url}', not its script URL`);
      return url;
    });

    const { kernel, initrd } = await timed('script', async () => {
      const r = await httpGet(scriptUrl, { agent, localAddress: leased, text: true });
      if (r.status !== 200) throw new Error(`${scriptUrl}: HTTP ${r.status}`);
      return parseBootScript(r.text ?? '');
    });
    const verify = index % plan.verifyEvery === 0;
    artifactsFrom = performance.now();
    for (const [s, url, expected] of [
      ['kernel', kernel, plan.kernel],
      ['initrd', initrd, plan.initrd],
    ] as const) {
      await timed(s, async () => {
        const r = await httpGet(url, { agent, localAddress: leased, hash: verify });
        artifactBytes += r.bytes;
        if (r.status !== 200) throw new Error(`${url}: HTTP ${r.status}`);
        if (r.bytes !== expected.bytes) throw new Error(`${url}: ${r.bytes} bytes, expected ${expected.bytes}`);
        if (verify && r.sha256 !== expected.sha256) throw new Error(`${url}: content differs from the file`);
      });
    }
    artifactsTo = performance.now();
    return { index, mac, address, ms, totalMs: performance.now() - started, resent, artifactBytes, artifactsFrom, artifactsTo };
  } catch (error) {
    return { index, mac, ...(address === undefined ? {} : { address }), ms, failed: { step, message: (error as Error).message }, resent, artifactBytes };
  } finally {
    agent.destroy();
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
