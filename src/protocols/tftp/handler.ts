// The narrow policy seam of the TFTP server: "give me the file for this path and client".
// The server knows nothing of machines; a handler may read a directory, map fixed names,
// or render pxelinux.cfg/01-<mac> from a database.
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { accessSync, constants } from 'node:fs';

export type TftpClient = { readonly address: string; readonly port: number };

/**
 * A file being served. Reads are random-access so the server can stream a large file in
 * chunks (never buffered whole) and re-read a window it must retransmit.
 */
export interface TftpFile {
  /** Bytes in the file, answered to tsize (RFC 2349); undefined when unknown, and tsize is then refused. */
  readonly size: number | undefined;
  /** Fills `target` from byte `position`; returns the bytes read, fewer than asked only at end of file. */
  read(target: Buffer, position: number): Promise<number>;
  /** Releases the file; called once, when the transfer ends for any reason. */
  close(): Promise<void>;
  /**
   * Where the bytes are, for the native engine, which reads them off the event loop
   * (native-transfer.ts). Without it, only read() knows, and the JS engine serves the file.
   */
  readonly source?: TftpFileSource;
}

/** A file descriptor to pread from (open until close()), or the whole content in memory. */
export type TftpFileSource = { readonly fd: number } | { readonly content: Buffer };

export interface TftpFileHandler {
  /**
   * The file for `path` as the client sent it, or undefined when there is none (error 1).
   * Throw TftpAccessDeniedError to refuse a path (error 2).
   */
  open(path: string, client: TftpClient): Promise<TftpFile | undefined>;
}

/** A file held in memory, for small rendered files such as a pxelinux configuration. */
export function bufferFile(content: Buffer | string): TftpFile {
  const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  return {
    size: data.length,
    read: async (target, position) => (position >= data.length ? 0 : data.copy(target, 0, position)),
    close: async () => {},
    source: { content: data },
  };
}

/** A file on disk read through an open handle, so its size and content match even if the path is replaced. */
export async function diskFile(handle: FileHandle): Promise<TftpFile> {
  const { size } = await handle.stat();
  return {
    size,
    async read(target, position) {
      let filled = 0;
      while (filled < target.length) {
        const { bytesRead } = await handle.read(target, filled, target.length - filled, position + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled;
    },
    close: () => handle.close(),
    source: { fd: handle.fd },
  };
}

/** Tries handlers in order; the first that has the file serves it. An access refusal stops the chain. */
export class ChainHandler implements TftpFileHandler {
  readonly #handlers: readonly TftpFileHandler[];

  constructor(handlers: readonly TftpFileHandler[]) {
    this.#handlers = handlers;
  }

  async open(path: string, client: TftpClient): Promise<TftpFile | undefined> {
    for (const handler of this.#handlers) {
      const file = await handler.open(path, client);
      if (file !== undefined) return file;
    }
    return undefined;
  }
}

/** Where Debian's packages install the network boot loaders (packages ipxe, pxelinux, syslinux-common). */
export const DEBIAN_BOOT_LOADERS: Readonly<Record<string, string>> = {
  'undionly.kpxe': '/usr/lib/ipxe/undionly.kpxe',
  'ipxe.efi': '/usr/lib/ipxe/ipxe.efi',
  'pxelinux.0': '/usr/lib/PXELINUX/pxelinux.0',
  'ldlinux.c32': '/usr/lib/syslinux/modules/bios/ldlinux.c32',
};

export type BootLoader = { readonly name: string; readonly path: string; readonly installed: boolean };

/** Which boot loaders are installed, so `serve` can say which package to install for a missing one. */
export function findBootLoaders(paths: Readonly<Record<string, string>> = DEBIAN_BOOT_LOADERS): BootLoader[] {
  return Object.entries(paths).map(([name, path]) => {
    let installed = true;
    try {
      accessSync(path, constants.R_OK);
    } catch {
      installed = false;
    }
    return { name, path, installed };
  });
}

/**
 * Serves fixed names (`undionly.kpxe`, …) from fixed paths, e.g. the Debian package
 * paths. Only exact names match (a leading `/` is ignored, as tftp-hpa does), so no
 * client-supplied text ever reaches the file system.
 */
export class StaticFilesHandler implements TftpFileHandler {
  readonly #paths: ReadonlyMap<string, string>;

  constructor(paths: Readonly<Record<string, string>> = DEBIAN_BOOT_LOADERS) {
    this.#paths = new Map(Object.entries(paths));
  }

  async open(path: string, _client?: TftpClient): Promise<TftpFile | undefined> {
    const target = this.#paths.get(path.replace(/^\/+/, ''));
    if (target === undefined) return undefined;
    let handle: FileHandle;
    try {
      handle = await open(target, 'r');
    } catch {
      return undefined; // not installed
    }
    try {
      return await diskFile(handle);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }
}
