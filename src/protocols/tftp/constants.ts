// TFTP wire numbers and anvil's named defaults, in one place with their spec sections.

/** Opcodes, RFC 1350 §5 (OACK: RFC 2347). */
export const Opcode = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Error codes, RFC 1350 appendix (8: RFC 2347). */
export const ErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The well-known server port, RFC 1350 §4. Binding it needs privilege on Linux. */
export const TFTP_PORT = 69;

/** Data bytes per block without the blksize option, RFC 1350 §2. */
export const DEFAULT_BLOCK_SIZE = 512;
/** Smallest and largest blksize a client may ask for, RFC 2348. */
export const MIN_BLOCK_SIZE = 8;
export const MAX_BLOCK_SIZE = 65464;
/**
 * anvil's default cap on blksize: a 1500-byte Ethernet MTU minus IPv4 (20), UDP (8) and
 * TFTP (4) headers, so a DATA packet is never IP-fragmented (fragments are what breaks
 * PXE ROMs behind some switches). Raise it with `maxBlockSize` on jumbo-frame networks.
 */
export const DEFAULT_MAX_BLOCK_SIZE = 1468;

/** timeout option bounds in seconds, RFC 2349. */
export const MIN_TIMEOUT_SECONDS = 1;
export const MAX_TIMEOUT_SECONDS = 255;

/**
 * Longest client timeout option (RFC 2349) anvil accepts. RFC 2349 lets the server only
 * accept or refuse the value, not lower it; a vanished client holds its transfer slot for
 * timeout × (retries + 1), so 255 s would pin a slot for over 20 minutes.
 */
export const DEFAULT_MAX_CLIENT_TIMEOUT_SECONDS = 60;

/** windowsize bounds, RFC 7440 §3 (the RFC allows 65535; anvil caps lower, see below). */
export const MIN_WINDOW_SIZE = 1;
export const MAX_WINDOW_SIZE = 65535;
/**
 * anvil's default cap on windowsize: 64 blocks (≈94 KiB at 1468) already fills a LAN;
 * larger windows only deepen the burst a slow ROM must absorb (u-root caps at 64 too).
 */
export const DEFAULT_MAX_WINDOW_SIZE = 64;

/** Retransmission timeout when the client sets none (RFC 1350 leaves it to the implementation). */
export const DEFAULT_RETRANSMIT_TIMEOUT_MS = 1000;
/**
 * How long the native pump busy-polls for a client's answer before it sleeps, counted from
 * its send. Waking a thread whose CPU went idle costs more than a block's work (on a 2-vCPU
 * VM ~20 µs against ~2.5 µs), and a client on loopback or a LAN answers a lock-step block
 * well within this; the pump backs off from clients that do not (native/tftp_pump.c).
 */
export const DEFAULT_BUSY_POLL_MICROSECONDS = 50;
export const MAX_BUSY_POLL_MICROSECONDS = 10_000;
/** Retransmissions of one window before a transfer is abandoned as a vanished client. */
export const DEFAULT_MAX_RETRIES = 5;
/** How long a file handler may take to open a file before the request is refused (error 0) and its slot freed. */
export const DEFAULT_OPEN_TIMEOUT_MS = 10_000;
/** Concurrent transfers before new requests are dropped (firmware retries its RRQ later). */
export const DEFAULT_MAX_TRANSFERS = 1000;

/**
 * Longest filename served, in bytes. Longer names name no file (a path segment over 255 bytes
 * cannot exist on Linux, and boot loaders ask for short names), so they are answered error 1
 * before any handler or filesystem call sees them.
 */
export const MAX_FILENAME_BYTES = 255;

/** Largest count of option pairs anvil parses in one request; RFC 2347 keeps requests ≤512 bytes. */
export const MAX_OPTIONS = 32;

/** Transfer modes, RFC 1350 §5; anvil serves `octet` only (netascii would rewrite the bytes). */
export const TRANSFER_MODES = ['netascii', 'octet', 'mail'] as const;
/** netascii files are converted in memory (their size changes): text files, not loaders or kernels. */
export const NETASCII_MAX_BYTES = 16 * 1024 * 1024;
export type TransferMode = (typeof TRANSFER_MODES)[number];
