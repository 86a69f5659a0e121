// Builds replies: the pure half of the server. Given a request, what the client is and
// what was decided, it returns the reply packet; the server owns sockets and leases.
// proxyDHCP follows the PXE spec 2.1 §2.2 and pixiecore/Smee's choices (netboot-and-labs §2).
import { type DhcpOptions, type DhcpPacket } from './codec.ts';
import { BOOTP_OP, FLAG_BROADCAST, MESSAGE_TYPE, OPTION, PXE_DISCOVERY, PXE_SUBOPTION } from './constants.ts';
import { type BootDecision, type ClientInfo, VENDOR_CLASS_PXE, VENDOR_CLASS_HTTP } from './classify.ts';
import { encodeSubOptions, ip, ips, str, u32, u8 } from './options.ts';

const ZERO = '0.0.0.0';
/** The `file` field holds 127 characters and a NUL (RFC 2131 §2). */
const FILE_FIELD_MAX = 127;

function baseReply(request: DhcpPacket, type: number, serverAddress: string): DhcpPacket {
  const options: DhcpOptions = new Map();
  options.set(OPTION.MESSAGE_TYPE, u8(type));
  options.set(OPTION.SERVER_ID, ip(serverAddress));
  return {
    op: BOOTP_OP.REPLY,
    htype: request.htype,
    hlen: request.hlen,
    hops: 0,
    xid: request.xid,
    secs: 0,
    // RFC 2131 §4.1: the server copies the broadcast bit; replies here are always broadcast
    // while the client has no address, so set it.
    flags: request.flags | FLAG_BROADCAST,
    ciaddr: ZERO,
    yiaddr: ZERO,
    siaddr: ZERO,
    giaddr: request.giaddr,
    chaddr: request.chaddr,
    sname: '',
    file: '',
    options,
  };
}

/** The boot file name or URL a decision puts in the reply, or undefined for 'none'. */
export function bootTarget(decision: BootDecision): string | undefined {
  switch (decision.kind) {
    case 'script':
    case 'http-loader':
      return decision.url;
    case 'loader':
      return decision.file;
    case 'none':
      return undefined;
  }
}

/**
 * Adds the boot file to a reply: the `file` field when it fits (what PXE ROMs read) and
 * option 67 as well for iPXE and long URLs (RFC 2132 §9.5).
 */
function withBoot(reply: DhcpPacket, client: ClientInfo, decision: BootDecision, nextServer: string): DhcpPacket {
  const target = bootTarget(decision);
  if (target === undefined) return reply;
  const fits = Buffer.byteLength(target, 'latin1') <= FILE_FIELD_MAX;
  if (!fits || client.ipxe || decision.kind !== 'loader') reply.options.set(OPTION.BOOTFILE_NAME, str(target));
  // UEFI HTTP boot requires option 60 HTTPClient in the reply (UEFI 2.5+ §24.7.2).
  if (decision.kind === 'http-loader') reply.options.set(OPTION.VENDOR_CLASS, str(VENDOR_CLASS_HTTP));
  return { ...reply, siaddr: nextServer, file: fits ? target : '' };
}

export interface ProxyReplyConfig {
  readonly serverAddress: string;
  /** siaddr: where the loader is fetched over TFTP; usually serverAddress. */
  readonly nextServer: string;
}

/**
 * proxyDHCP reply (PXE spec 2.1 §2.2.5): no address, option 54, option 60 "PXEClient",
 * option 97 echoed when sent, siaddr and the boot file.
 * `via` is the port the request came in on: 'dhcp' (67) answers DISCOVER with an OFFER;
 * 'pxe' (4011) answers the PXE boot-server REQUEST with an ACK.
 * Option 43 sub-option 6 = 8 ("boot the file in the header, skip discovery") goes to BIOS
 * ROMs and iPXE on port 67. UEFI firmware gets no option 43 there, so it asks again on 4011
 * — the variant pixiecore found "seemingly all firmwares support" and dnsmasq uses too.
 */
export function proxyReply(request: DhcpPacket, client: ClientInfo, decision: BootDecision, via: 'dhcp' | 'pxe', config: ProxyReplyConfig): DhcpPacket {
  const type = via === 'dhcp' && client.messageType === MESSAGE_TYPE.DISCOVER ? MESSAGE_TYPE.OFFER : MESSAGE_TYPE.ACK;
  const reply = baseReply(request, type, config.serverAddress);
  reply.options.set(OPTION.VENDOR_CLASS, str(VENDOR_CLASS_PXE));
  const uuid = request.options.get(OPTION.CLIENT_UUID);
  if (uuid !== undefined) reply.options.set(OPTION.CLIENT_UUID, uuid);
  const efiFirmware = client.firmware !== undefined && client.firmware !== 'bios';
  const binl = via === 'dhcp' && efiFirmware && !client.ipxe;
  if (via === 'dhcp' && !binl) {
    reply.options.set(OPTION.VENDOR_SPECIFIC, encodeSubOptions(new Map([[PXE_SUBOPTION.DISCOVERY_CONTROL, u8(PXE_DISCOVERY.USE_BOOTFILE)]])));
  }
  const withFile = withBoot(reply, client, decision, config.nextServer);
  return {
    ...withFile,
    // EDK2 sends its port-4011 request to the offer's siaddr (NetworkPkg/UefiPxeBcDxe
    // PxeBcDhcp4.c, PxeBcRetryBinlOffer), so that offer names this server; the ACK from
    // 4011 then names the TFTP server.
    siaddr: binl ? config.serverAddress : withFile.siaddr,
    // Smee: without sname some ROMs go on to query port 4011 even with a boot file.
    sname: binl ? config.serverAddress : config.nextServer,
    ciaddr: via === 'pxe' ? request.ciaddr : ZERO,
  };
}

export interface LeaseReplyConfig {
  readonly serverAddress: string;
  readonly nextServer: string;
  readonly subnetMask: string;
  readonly routers?: readonly string[];
  readonly dnsServers?: readonly string[];
  readonly domainName?: string;
  /** Seconds. */
  readonly leaseTime: number;
}

/** OFFER or ACK carrying an address (RFC 2131 §4.3.1, §4.3.2; T1/T2 per §4.4.5). */
export function leaseReply(
  request: DhcpPacket,
  type: typeof MESSAGE_TYPE.OFFER | typeof MESSAGE_TYPE.ACK,
  address: string,
  client: ClientInfo,
  decision: BootDecision,
  config: LeaseReplyConfig,
): DhcpPacket {
  const reply = baseReply(request, type, config.serverAddress);
  reply.options.set(OPTION.LEASE_TIME, u32(config.leaseTime));
  reply.options.set(OPTION.RENEWAL_TIME, u32(Math.floor(config.leaseTime * 0.5)));
  reply.options.set(OPTION.REBINDING_TIME, u32(Math.floor(config.leaseTime * 0.875)));
  addNetworkOptions(reply.options, config);
  return { ...withBoot(reply, client, decision, config.nextServer), yiaddr: address };
}

/** ACK to DHCPINFORM: configuration only, no address, no lease time (RFC 2131 §4.3.5). */
export function informReply(request: DhcpPacket, client: ClientInfo, decision: BootDecision, config: LeaseReplyConfig): DhcpPacket {
  const reply = baseReply(request, MESSAGE_TYPE.ACK, config.serverAddress);
  addNetworkOptions(reply.options, config);
  return { ...withBoot(reply, client, decision, config.nextServer), ciaddr: request.ciaddr, flags: request.flags };
}

/** NAK (RFC 2131 §4.3.2): no address, no options but 53, 54 and an explanatory 56. */
export function nakReply(request: DhcpPacket, serverAddress: string, message: string): DhcpPacket {
  const reply = baseReply(request, MESSAGE_TYPE.NAK, serverAddress);
  reply.options.set(OPTION.MESSAGE, str(message));
  return reply;
}

function addNetworkOptions(options: DhcpOptions, config: LeaseReplyConfig): void {
  options.set(OPTION.SUBNET_MASK, ip(config.subnetMask));
  if (config.routers !== undefined && config.routers.length > 0) options.set(OPTION.ROUTER, ips(config.routers));
  if (config.dnsServers !== undefined && config.dnsServers.length > 0) {
    options.set(OPTION.DNS_SERVERS, ips(config.dnsServers));
  }
  if (config.domainName !== undefined) options.set(OPTION.DOMAIN_NAME, str(config.domainName));
}
