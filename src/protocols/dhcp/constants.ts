// DHCPv4 numbers in one place, each with the section that defines it, and the named
// defaults every other file of the DHCP library uses.

/** BOOTP `op` field (RFC 951, RFC 2131 §2). */
export const BOOTP_OP = { REQUEST: 1, REPLY: 2 } as const;

/** `htype` for Ethernet (RFC 1700 "ARP hardware types"), `hlen` 6. */
export const HTYPE_ETHERNET = 1;

/** The fixed BOOTP header is 236 bytes; the magic cookie follows (RFC 2131 §3, RFC 2132 §2). */
export const BOOTP_HEADER_LENGTH = 236;
export const MAGIC_COOKIE = 0x63825363;
export const SNAME_OFFSET = 44;
export const SNAME_LENGTH = 64;
export const FILE_OFFSET = 108;
export const FILE_LENGTH = 128;
export const OPTIONS_OFFSET = BOOTP_HEADER_LENGTH + 4;

/**
 * RFC 1542 §3.3: a BOOTP message is at least 300 bytes on the wire; some PXE ROMs and relays
 * drop shorter replies, so encode() pads to this.
 */
export const MIN_BOOTP_MESSAGE_LENGTH = 300;
/** RFC 2131 §2: every client must accept 576-byte IP datagrams, i.e. 548 bytes of DHCP. */
export const DEFAULT_MAX_MESSAGE_LENGTH = 576 - 28;

/** Broadcast bit of `flags` (RFC 2131 §2, figure 2). */
export const FLAG_BROADCAST = 0x8000;

/** Option codes used by anvil (RFC 2132 unless noted). */
export const OPTION = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS_SERVERS: 6,
  HOST_NAME: 12,
  DOMAIN_NAME: 15,
  BROADCAST_ADDRESS: 28,
  VENDOR_SPECIFIC: 43, // PXE spec 2.1 §2.4.1: PXE sub-options
  REQUESTED_ADDRESS: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58, // T1
  REBINDING_TIME: 59, // T2
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER_NAME: 66,
  BOOTFILE_NAME: 67,
  USER_CLASS: 77, // RFC 3004
  CLIENT_ARCH: 93, // RFC 4578 §2.1
  CLIENT_NDI: 94, // RFC 4578 §2.2
  CLIENT_UUID: 97, // RFC 4578 §2.3 (client machine identifier)
  IPXE_ENCAPSULATED: 175, // iPXE's own options (ipxe.org/cfg, include/ipxe/dhcp.h)
  END: 255,
} as const;

/** Option 52 values (RFC 2132 §9.3): which header fields also carry options. */
export const OVERLOAD = { FILE: 1, SNAME: 2, BOTH: 3 } as const;

/** Option 53 values (RFC 2132 §9.6). */
export const MESSAGE_TYPE = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type MessageType = (typeof MESSAGE_TYPE)[keyof typeof MESSAGE_TYPE];

export const MESSAGE_TYPE_NAME: Readonly<Record<number, string>> = {
  1: 'DISCOVER',
  2: 'OFFER',
  3: 'REQUEST',
  4: 'DECLINE',
  5: 'ACK',
  6: 'NAK',
  7: 'RELEASE',
  8: 'INFORM',
};

/** PXE spec 2.1 §2.4.1 table 2-1: sub-options of option 43 for a PXEClient. */
export const PXE_SUBOPTION = {
  MTFTP_IP: 1,
  MTFTP_CPORT: 2,
  MTFTP_SPORT: 3,
  MTFTP_TMOUT: 4,
  MTFTP_DELAY: 5,
  DISCOVERY_CONTROL: 6,
  DISCOVERY_MCAST_ADDR: 7,
  BOOT_SERVERS: 8,
  BOOT_MENU: 9,
  MENU_PROMPT: 10,
  MCAST_ADDRS_ALLOC: 11,
  CREDENTIAL_TYPES: 12,
  BOOT_ITEM: 71,
} as const;

/**
 * Discovery-control bits (PXE spec 2.1 §2.4.1, sub-option 6). Bit 3 means "use the boot file
 * in the header, skip boot-server discovery" — the value proxyDHCP servers send to BIOS ROMs.
 */
export const PXE_DISCOVERY = {
  NO_BROADCAST: 0x01,
  NO_MULTICAST: 0x02,
  ONLY_BOOT_SERVERS: 0x04,
  USE_BOOTFILE: 0x08,
} as const;

/** iPXE option 175 sub-options (iPXE include/ipxe/dhcp.h, DHCP_EB_*). */
export const IPXE_SUBOPTION = {
  PRIORITY: 0x01,
  KEEP_SAN: 0x08,
  SKIP_SAN_BOOT: 0x09,
  FEATURE_PXE_EXT: 0x10,
  FEATURE_ISCSI: 0x11,
  FEATURE_AOE: 0x12,
  FEATURE_HTTP: 0x13,
  FEATURE_HTTPS: 0x14,
  FEATURE_TFTP: 0x15,
  FEATURE_DNS: 0x17,
  FEATURE_BZIMAGE: 0x18,
  FEATURE_MENU: 0x27,
  FEATURE_EFI: 0x24,
  BUS_ID: 0xb1,
  VERSION: 0xeb,
} as const;

/**
 * Client system architecture types, option 93 (RFC 4578 §2.1 and the IANA "Processor
 * Architecture Types" registry). RFC 4578 swapped 7 and 9; both are x86-64 UEFI in practice.
 */
export const ARCH = {
  BIOS: 0,
  NEC_PC98: 1,
  EFI_ITANIUM: 2,
  DEC_ALPHA: 3,
  ARC_X86: 4,
  INTEL_LEAN: 5,
  EFI_IA32: 6,
  EFI_X64: 7,
  EFI_XSCALE: 8,
  EFI_BC: 9,
  EFI_ARM32: 10,
  EFI_ARM64: 11,
  EFI_X86_HTTP: 15,
  EFI_X64_HTTP: 16,
  EFI_ARM32_HTTP: 18,
  EFI_ARM64_HTTP: 19,
  BIOS_HTTP: 20,
  UBOOT_ARM32: 21,
  UBOOT_ARM64: 22,
  EFI_RISCV64: 27,
} as const;

/** Well-known ports (RFC 2131 §4.1; PXE spec 2.1 §2.2.5 for the boot-server/"BINL" port). */
export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
export const PXE_PORT = 4011;
