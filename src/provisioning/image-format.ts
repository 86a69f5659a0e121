// How an image file holds its disk content, told by its first bytes: raw, gzip, zstd, or qcow2
// (converted to raw on upload, since the agent writes raw). Pure: bytes in, a word out.

export type StoredFormat = 'raw' | 'gzip' | 'zstd';
export type UploadFormat = StoredFormat | 'qcow2';
export const UPLOAD_FORMATS: readonly UploadFormat[] = ['raw', 'gzip', 'zstd', 'qcow2'];

/** Bytes needed to tell the formats apart. */
export const MAGIC_BYTES = 4;

const GZIP = [0x1f, 0x8b];
/** RFC 8878 §3.1.1. */
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];
/** "QFI\xfb", QEMU's qcow2 header. */
const QCOW2 = [0x51, 0x46, 0x49, 0xfb];

const startsWith = (head: Uint8Array, magic: readonly number[]) => magic.every((b, i) => head[i] === b);

/** The format of a file whose first bytes are `head` (anything unrecognised is raw disk content). */
export function sniffFormat(head: Uint8Array): UploadFormat {
  if (startsWith(head, ZSTD)) return 'zstd';
  if (startsWith(head, GZIP)) return 'gzip';
  if (startsWith(head, QCOW2)) return 'qcow2';
  return 'raw';
}

/** The file extension the library gives a stored format. */
export function extensionOf(format: StoredFormat): string {
  return format === 'raw' ? '.raw' : format === 'gzip' ? '.raw.gz' : '.raw.zst';
}
