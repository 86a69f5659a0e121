// anvil's DHCP library: codec, client classification and boot-file policy, proxyDHCP and
// server mode. Usable on its own; imports nothing from the rest of anvil.
export * from './constants.ts';
export { DhcpError, DhcpDecodeError, type DhcpErrorCode } from './errors.ts';
export { ProtocolError } from '../protocol-error.ts';
export {
  decode,
  encode,
  formatMac,
  parseMac,
  packetMac,
  ipToBytes,
  ipToString,
  ipToNumber,
  numberToIp,
  directedBroadcast,
  type DhcpOptions,
  type DhcpPacket,
} from './codec.ts';
export * from './options.ts';
export * from './classify.ts';
export { proxyReply, leaseReply, informReply, nakReply, bootTarget } from './responder.ts';
export type { ProxyReplyConfig, LeaseReplyConfig } from './responder.ts';
export * from './lease-store.ts';
export * from './lease-pool.ts';
export * from './server.ts';
