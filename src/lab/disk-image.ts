// A small bootable raw disk image made from Debian's packages, for the demo and the provisioning
// tests to upload and deploy: syslinux's MBR, one active FAT partition (mtools) with syslinux installed
// in it, the tiny Linux's kernel and initrd (.tools/tiny-linux), and a syslinux.cfg that boots
// it with anvil.run=nexttest-upload against a given server. Built once per set of inputs and
// cached under .tools/disk-images/<hash of the inputs>/, so the demo and tests share one image
// (scripts/install builds the demo's: scripts/disk-image.ts).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DISK_IMAGES_DIR = fileURLToPath(new URL('../../.tools/disk-images/', import.meta.url));
export const TINY_LINUX = fileURLToPath(new URL('../../.tools/tiny-linux/', import.meta.url));
/** syslinux's MBR boot code (package syslinux-common): boots the active partition. */
export const SYSLINUX_MBR = '/usr/lib/syslinux/mbr/mbr.bin';
/** The commands the build runs (packages syslinux and mtools). */
export const DISK_IMAGE_PEERS = ['syslinux', 'mformat', 'mcopy'] as const;

const MIB = 1024 * 1024;
const SECTOR = 512;
/** The tiny Linux is ~15 MB; 32 MiB holds it with room for syslinux and the FAT. */
export const DEFAULT_IMAGE_BYTES = 32 * MIB;
/** The partition starts at 1 MiB, as partitioning tools align it. */
const PARTITION_OFFSET = MIB;
/** The geometry the FAT and the MBR's CHS fields describe (any will do for an LBA boot). */
const HEADS = 64;
const SECTORS_PER_TRACK = 32;
/** FAT16 with LBA addressing (MBR partition type). */
const PARTITION_TYPE = 0x0e;
/** Each command of the build (mformat, syslinux, mcopy) takes well under a second. */
const COMMAND_TIMEOUT_MS = 60_000;
/** Bumped when the build changes in a way its inputs do not show. */
const BUILD_VERSION = 1;

export interface DiskImageOptions {
  /** anvil.server= for the booted tiny Linux: HOST[:PORT]. */
  readonly server: string;
  /** More kernel arguments, appended. */
  readonly append?: string;
  /** Where vmlinuz and initrd.gz come from; default the tiny Linux. */
  readonly linuxDir?: string;
  readonly bytes?: number;
}

export interface DiskImage {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** The syslinux.cfg in it. */
  readonly config: string;
}

/** The syslinux.cfg: boot the kernel at once, with syslinux's own output on the serial line too. */
export function syslinuxConfig(options: DiskImageOptions): string {
  // no_timer_check: under QEMU's TCG on a busy host the kernel's IO-APIC timer check can fail and panic.
  const append = ['console=ttyS0', 'no_timer_check', `anvil.server=${options.server}`, 'anvil.run=nexttest-upload', options.append ?? ''].join(' ').trim();
  return `SERIAL 0 115200
DEFAULT anvil
PROMPT 0
TIMEOUT 0
LABEL anvil
  LINUX vmlinuz
  INITRD initrd.gz
  APPEND ${append}
`;
}

/** A CHS address of an LBA in an MBR partition entry (3 bytes: head, sector + cylinder high bits, cylinder). */
function chs(lba: number): [number, number, number] {
  const cylinder = Math.min(Math.floor(lba / (HEADS * SECTORS_PER_TRACK)), 1023);
  const head = Math.floor(lba / SECTORS_PER_TRACK) % HEADS;
  const sector = (lba % SECTORS_PER_TRACK) + 1;
  return [head, sector | ((cylinder >> 8) << 6), cylinder & 0xff];
}

/** The first sector: syslinux's MBR code and one active partition from `start` for `count` sectors. */
export function masterBootRecord(code: Buffer, start: number, count: number): Buffer {
  if (code.length > 440) throw new Error(`${SYSLINUX_MBR} is ${code.length} bytes; MBR boot code is at most 440`);
  const mbr = Buffer.alloc(SECTOR);
  code.copy(mbr);
  const entry = mbr.subarray(446, 462);
  entry[0] = 0x80;
  Buffer.from(chs(start)).copy(entry, 1);
  entry[4] = PARTITION_TYPE;
  Buffer.from(chs(start + count - 1)).copy(entry, 5);
  entry.writeUInt32LE(start, 8);
  entry.writeUInt32LE(count, 12);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

/** True when `command` is an executable in a folder of PATH. */
export function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** What the build needs and this machine lacks (with the package that has it), or undefined. */
export function diskImageMissing(linuxDir = TINY_LINUX): string | undefined {
  for (const file of ['vmlinuz', 'initrd.gz'])
    if (!existsSync(join(linuxDir, file))) return `${join(linuxDir, file)} is missing; build it with scripts/tiny-linux`;
  if (!existsSync(SYSLINUX_MBR)) return `${SYSLINUX_MBR} is missing; install syslinux-common (scripts/install)`;
  const command = DISK_IMAGE_PEERS.find((c) => !onPath(c));
  return command ? `${command} is not installed; install ${command === 'syslinux' ? 'syslinux' : 'mtools'} (scripts/install)` : undefined;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Builds the image (or finds it already built) and returns where it is, its size and sha256. */
export function buildDiskImage(options: DiskImageOptions): DiskImage {
  const linux = options.linuxDir ?? TINY_LINUX;
  const bytes = options.bytes ?? DEFAULT_IMAGE_BYTES;
  const kernel = join(linux, 'vmlinuz');
  const initrd = join(linux, 'initrd.gz');
  const missing = diskImageMissing(linux);
  if (missing) throw new Error(missing);
  const config = syslinuxConfig(options);
  const syslinuxVersion = execFileSync('syslinux', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS }).trim();
  const key = sha256(
    JSON.stringify([
      BUILD_VERSION,
      bytes,
      config,
      syslinuxVersion,
      sha256(readFileSync(SYSLINUX_MBR)),
      sha256(readFileSync(kernel)),
      sha256(readFileSync(initrd)),
    ]),
  ).slice(0, 24);
  const dir = join(DISK_IMAGES_DIR, key);
  const info = join(dir, 'image.json');
  // The file beside image.json, wherever the tree is now: a checkout moved or copied elsewhere
  // keeps its built images (the path recorded at build time would name the old place).
  const built = (): DiskImage => ({ ...(JSON.parse(readFileSync(info, 'utf8')) as DiskImage), path: join(dir, 'disk.img') });
  if (existsSync(info)) return built();

  // Built aside and renamed into place: test files (and a demo) build in parallel.
  const temp = `${dir}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  try {
    const image = join(temp, 'disk.img');
    const start = PARTITION_OFFSET / SECTOR;
    const count = (bytes - PARTITION_OFFSET) / SECTOR;
    const fd = openSync(image, 'w');
    writeSync(fd, masterBootRecord(readFileSync(SYSLINUX_MBR), start, count));
    closeSync(fd);
    truncateSync(image, bytes);
    const fat = `${image}@@${PARTITION_OFFSET}`;
    const run = (command: string, args: string[]): void => {
      execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MTOOLS_SKIP_CHECK: '1' }, timeout: COMMAND_TIMEOUT_MS });
    };
    run('mformat', ['-i', fat, '-T', String(count), '-H', String(start), '-h', String(HEADS), '-s', String(SECTORS_PER_TRACK), '-v', 'ANVIL', '::']);
    run('syslinux', ['--offset', String(PARTITION_OFFSET), '--install', image]);
    const cfg = join(temp, 'syslinux.cfg');
    writeFileSync(cfg, config);
    run('mcopy', ['-i', fat, kernel, initrd, cfg, '::']);
    const result: DiskImage = { path: join(dir, 'disk.img'), size: bytes, sha256: sha256(readFileSync(image)), config };
    writeFileSync(join(temp, 'image.json'), `${JSON.stringify(result, null, 2)}\n`);
    try {
      renameSync(temp, dir);
    } catch (error) {
      // Another process built the same image first: use that one.
      if (!existsSync(info)) throw error;
    }
    return built();
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}
