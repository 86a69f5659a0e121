// The image library: disk images as files in the data directory's images/ folder, a row each.
// An upload (or a capture) streams into a temporary file, is hashed as it arrives (the disk
// content's sha256, decompressed when the file is compressed), is checked against what the
// caller expected, and is renamed into place and given its row only when whole and verified,
// so a half-written image is never visible. qcow2 is converted to raw with qemu-img.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Kysely } from 'kysely';
import type { Database, Image } from '../store/schema.ts';
import { stamp, type Clock } from '../store/store.ts';
import { durably, syncFile } from '../store/durable.ts';
import { AnvilError, conflict, invalid, notFound } from '../common/errors.ts';
import { processAlive, sizeOf, type Leftover } from '../common/leftovers.ts';
import { receiveToFile, type ReceiveSource } from './receive.ts';
import { readFromPeers, type PeerRequest } from './image-copies.ts';
import { extensionOf, MAGIC_BYTES, sniffFormat, type StoredFormat, type UploadFormat } from './image-format.ts';

export type { Image } from '../store/schema.ts';

const run = promisify(execFile);

/** Image names: safe in URLs and file names, like machine names. */
export const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Files being received: swept at start, never listed. */
export const INCOMING_PREFIX = '.incoming-';
/** A file in the images folder that no row names is removed by sweep() once this old. */
export const ORPHAN_AGE_MS = 10 * 60 * 1000;
/** The qemu-img anvil converts qcow2 uploads with (Debian's qemu-utils). */
export const QEMU_IMG = 'qemu-img';

export interface ImportOptions {
  readonly name: string;
  /** The sha256 the caller expects: of the file as sent, or of the disk content. */
  readonly sha256?: string | undefined;
  /** What the file is; sniffed from its first bytes when absent. */
  readonly format?: UploadFormat | undefined;
  readonly notes?: string | undefined;
  readonly origin?: 'upload' | 'capture';
  readonly sourceMachine?: string | undefined;
  /** Told the bytes received so far, at most every MiB (PROGRESS_EVERY_BYTES). */
  readonly onProgress?: (bytes: number) => void;
  /** A stream's chunks are nobody else's (a request body, stdin): each is freed once stored (receive.ts). */
  readonly freeChunks?: boolean;
}

/** An image as the API, CLI and pages show it. */
export interface ImageView {
  readonly name: string;
  readonly format: StoredFormat;
  readonly virtualSize: number;
  readonly storedSize: number;
  /** Disk usage of the file in the library (VCL's get_image_size, in bytes). */
  readonly diskUsage: number;
  readonly sha256: string;
  readonly origin: string;
  readonly sourceMachine: string | null;
  readonly notes: string;
  readonly createdAt: string;
}

/** Counts and hashes what passes through (the disk content of a compressed file). */
class Meter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/** The sha256 and length of a file's disk content, decompressing it on the way. */
async function contentDigest(path: string, format: StoredFormat): Promise<{ sha256: string; bytes: number }> {
  const meter = new Meter();
  const decompress = format === 'gzip' ? createGunzip() : format === 'zstd' ? createZstdDecompress() : new PassThrough();
  const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  try {
    await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), decompress, meter, sink);
  } catch (error) {
    throw invalid('IMAGE_CORRUPT', `the ${format} image does not decompress: ${(error as Error).message}`);
  }
  return { sha256: meter.hash.digest('hex'), bytes: meter.bytes };
}

const toView = (image: Image, diskUsage: number): ImageView => ({
  name: image.name,
  format: image.format,
  virtualSize: Number(image.virtual_size),
  storedSize: Number(image.stored_size),
  diskUsage,
  sha256: image.sha256,
  origin: image.origin,
  sourceMachine: image.source_machine,
  notes: image.notes,
  createdAt: image.created_at,
});

export class ImageLibrary {
  readonly dir: string;
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  /** This process's URL for the others of a cluster, recorded with each file it stores (see image-copies.ts). */
  #peerUrl: string | undefined;

  constructor(db: Kysely<Database>, dir: string, clock: Clock, peerUrl?: string) {
    this.#db = db;
    this.dir = dir;
    this.#clock = clock;
    this.#peerUrl = peerUrl;
  }

  /** From now on the files this library stores are recorded as held at `url` (anvil serve's --peer-url). */
  holdFilesAs(url: string): void {
    this.#peerUrl = url.replace(/\/+$/, '');
  }

  /**
   * The image's stored bytes: from this library's file, or, when another process of the cluster
   * holds it, from that process (`via` says what to ask it and with which credentials).
   */
  async open(image: Image, via: PeerRequest): Promise<{ stream: Readable; from?: string }> {
    const path = this.pathOf(image);
    const here = await stat(path).then(
      (s) => s.isFile(),
      () => false,
    );
    if (here) return { stream: createReadStream(path, { highWaterMark: 1024 * 1024 }) };
    const peers = (await this.#db.selectFrom('image_copies').select('peer_url').where('image_id', '=', image.id).orderBy('created_at', 'desc').execute())
      .map((r) => r.peer_url)
      .filter((url) => url !== this.#peerUrl);
    return readFromPeers(image, peers, via);
  }

  /** The image's row, or a not-found error listing the library. */
  async get(name: string): Promise<Image> {
    const image = await this.#db.selectFrom('images').selectAll().where('name', '=', name).executeTakeFirst();
    if (image) return image;
    const names = (await this.#db.selectFrom('images').select('name').orderBy('name').limit(20).execute()).map((r) => r.name);
    throw notFound(
      'UNKNOWN_IMAGE',
      `no image '${name}' in the library; ${names.length ? `images: ${names.join(', ')}` : 'it is empty (anvil image upload FILE --name NAME)'}`,
    );
  }

  async byId(id: number): Promise<Image | undefined> {
    return this.#db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirst();
  }

  pathOf(image: Pick<Image, 'file'>): string {
    return join(this.dir, image.file);
  }

  /** Bytes the image's file takes on disk (du; VCL's get_image_size). */
  async diskUsage(image: Pick<Image, 'file' | 'stored_size'>): Promise<number> {
    const info = await stat(this.pathOf(image)).catch(() => undefined);
    // A file another process of the cluster holds: its size as stored, which its du is within a block of.
    return info ? info.blocks * 512 : Number(image.stored_size);
  }

  async view(image: Image): Promise<ImageView> {
    return toView(image, await this.diskUsage(image));
  }

  async list(): Promise<ImageView[]> {
    const rows = await this.#db.selectFrom('images').selectAll().orderBy('name').execute();
    return Promise.all(rows.map((r) => this.view(r)));
  }

  async show(name: string): Promise<ImageView> {
    return this.view(await this.get(name));
  }

  /** A temporary path in the images folder for content being received, named by this process. */
  incomingPath(): string {
    return join(this.dir, `${INCOMING_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}`);
  }

  /**
   * Streams `source` into the library as image `name`. Nothing is visible, and nothing is left
   * behind, unless the whole content arrived and matches the expected checksum.
   */
  async import(source: ReceiveSource, options: ImportOptions): Promise<ImageView> {
    const { name } = options;
    if (!IMAGE_NAME.test(name))
      throw invalid('INVALID_IMAGE_NAME', `'${name}' is not a valid image name: up to 128 letters, digits, '.', '_' or '-', starting with a letter or digit`);
    if (options.sha256 !== undefined && !/^[0-9a-f]{64}$/i.test(options.sha256))
      throw invalid('INVALID_SHA256', `'${options.sha256}' is not a sha256: 64 hex digits`);
    await this.assertFree(name);
    const temp = this.incomingPath();
    const converted = `${temp}.raw`;
    try {
      const received = await receiveToFile(source, temp, {
        mode: 0o640,
        headBytes: MAGIC_BYTES,
        onProgress: options.onProgress,
        freeChunks: options.freeChunks,
      });
      const fileSha = received.sha256;
      const sent = options.format ?? sniffFormat(received.head);
      let file = temp;
      let format: StoredFormat;
      let content: { sha256: string; bytes: number };
      if (sent === 'qcow2') {
        await this.#convertQcow2(temp, converted);
        file = converted;
        format = 'raw';
        content = await contentDigest(converted, 'raw');
      } else {
        format = sent;
        content = sent === 'raw' ? { sha256: fileSha, bytes: received.bytes } : await contentDigest(temp, sent);
      }
      if (content.bytes === 0) throw invalid('IMAGE_EMPTY', `the upload of '${name}' has no disk content`);
      const expected = options.sha256?.toLowerCase();
      if (expected !== undefined && expected !== fileSha && expected !== content.sha256) {
        throw invalid(
          'IMAGE_CHECKSUM_MISMATCH',
          `the upload of '${name}' does not match sha256 ${expected}: the file received has ${fileSha}${content.sha256 !== fileSha ? `, its disk content ${content.sha256}` : ''}; nothing was stored`,
        );
      }
      return await this.#file(file, { name, format, virtualSize: content.bytes, sha256: content.sha256, options });
    } finally {
      await rm(temp, { force: true });
      await rm(converted, { force: true });
    }
  }

  /**
   * Adds a file already received and verified (a capture) to the library: renamed into place,
   * then its row. The caller vouches for the checksum and size.
   */
  async adopt(
    path: string,
    image: { name: string; format: StoredFormat; virtualSize: number; sha256: string },
    options: Omit<ImportOptions, 'name'>,
  ): Promise<ImageView> {
    await this.assertFree(image.name);
    return this.#file(path, { ...image, options: { ...options, name: image.name } });
  }

  async #file(path: string, image: { name: string; format: StoredFormat; virtualSize: number; sha256: string; options: ImportOptions }): Promise<ImageView> {
    const fileName = `${image.name}-${randomBytes(4).toString('hex')}${extensionOf(image.format)}`;
    const final = join(this.dir, fileName);
    const stored = (await stat(path)).size;
    await rename(path, final);
    try {
      // The image on disk, then its row, each surviving power loss once the import is answered.
      await syncFile(final);
      const row = await durably(this.#db, async (trx) => {
        const inserted = await trx
          .insertInto('images')
          .values({
            name: image.name,
            format: image.format,
            virtual_size: image.virtualSize,
            stored_size: stored,
            sha256: image.sha256,
            file: fileName,
            origin: image.options.origin ?? 'upload',
            source_machine: image.options.sourceMachine ?? null,
            notes: image.options.notes ?? '',
            created_at: stamp(this.#clock),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        if (this.#peerUrl !== undefined)
          await trx.insertInto('image_copies').values({ image_id: inserted.id, peer_url: this.#peerUrl, created_at: inserted.created_at }).execute();
        return inserted;
      });
      return await this.view(row);
    } catch (error) {
      await rm(final, { force: true });
      if (/unique|duplicate/i.test((error as Error).message))
        throw conflict('IMAGE_EXISTS', `an image named '${image.name}' was added meanwhile; choose another name`);
      throw error;
    }
  }

  /** Throws unless no image has this name yet. */
  async assertFree(name: string): Promise<void> {
    const taken = await this.#db.selectFrom('images').select('id').where('name', '=', name).executeTakeFirst();
    if (taken)
      throw conflict('IMAGE_EXISTS', `the library already has an image named '${name}'; delete it first (anvil image delete ${name}) or choose another name`);
  }

  async #convertQcow2(from: string, to: string): Promise<void> {
    let info: { 'backing-filename'?: string; format?: string };
    try {
      info = JSON.parse((await run(QEMU_IMG, ['info', '--output=json', '-f', 'qcow2', from])).stdout) as typeof info;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new AnvilError(
          'QEMU_IMG_MISSING',
          'unavailable',
          'a qcow2 image needs qemu-img to be converted (apt-get install qemu-utils), or upload it as raw',
        );
      }
      throw invalid('IMAGE_CORRUPT', `the qcow2 image is not readable: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`);
    }
    // A backing file would make qemu-img read another file of this host into the image.
    if (info['backing-filename'])
      throw invalid('IMAGE_BACKING_FILE', 'the qcow2 image names a backing file; flatten it first (qemu-img convert -O qcow2 in.qcow2 out.qcow2)');
    try {
      await run(QEMU_IMG, ['convert', '-f', 'qcow2', '-O', 'raw', from, to]);
    } catch (error) {
      throw invalid(
        'IMAGE_CORRUPT',
        `qemu-img could not convert the qcow2 image: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`,
      );
    }
  }

  /** Removes an image; refused while a deploy or capture uses it. */
  async delete(name: string): Promise<void> {
    const image = await this.get(name);
    const busy = await this.#db
      .selectFrom('deployments')
      .innerJoin('machines', 'machines.id', 'deployments.machine_id')
      .select('machines.name')
      .where('deployments.image_id', '=', image.id)
      .where('deployments.finished_at', 'is', null)
      .execute();
    if (busy.length > 0) {
      throw conflict(
        'IMAGE_IN_USE',
        `image '${name}' is being deployed to ${busy.map((b) => b.name).join(', ')}; wait for it to finish or abort it (anvil machine abort NAME)`,
      );
    }
    // The copies other processes hold go with the row; their files are swept at their next start (sweep()).
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('image_copies').where('image_id', '=', image.id).execute();
      await trx.deleteFrom('images').where('id', '=', image.id).execute();
    });
    await rm(this.pathOf(image), { force: true });
  }

  /**
   * Removes what a crash left (returns the names): files being received by a process that is
   * gone, and files no row names that are older than ORPHAN_AGE_MS (younger ones may be an
   * import of another process between its rename and its row).
   */
  async sweep(): Promise<Leftover[]> {
    const known = new Set((await this.#db.selectFrom('images').select('file').execute()).map((r) => r.file));
    const removed: Leftover[] = [];
    const now = this.#clock().getTime();
    for (const entry of await readdir(this.dir).catch(() => [] as string[])) {
      if (known.has(entry)) continue;
      const path = join(this.dir, entry);
      const incoming = entry.startsWith(INCOMING_PREFIX);
      if (
        incoming
          ? processAlive(Number(entry.slice(INCOMING_PREFIX.length).split('-')[0]))
          : now - ((await stat(path).catch(() => undefined))?.mtimeMs ?? now) < ORPHAN_AGE_MS
      )
        continue;
      const bytes = await sizeOf(path);
      await rm(path, { force: true, recursive: true });
      removed.push({ path, bytes });
    }
    return removed;
  }
}
