// Serves files under one directory, the TFTP root, as a jail: a client path can never
// name a file outside it, whether by `..`, an absolute path, backslashes, a NUL byte or a
// symlink that points out of the root.
import { constants } from 'node:fs';
import { open, readlink, realpath } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { TftpAccessDeniedError } from './errors.ts';
import { diskFile } from './handler.ts';
import type { TftpClient, TftpFile, TftpFileHandler } from './handler.ts';

/** Open errors that mean "no such file" rather than a fault worth reporting. */
const NOT_FOUND_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG']);

export class RootDirectoryHandler implements TftpFileHandler {
  readonly #root: string;
  #realRoot: Promise<string> | undefined;

  constructor(root: string) {
    this.#root = root;
  }

  /**
   * The path relative to the root as segments. Like tftp-hpa, a leading `/` means the
   * root; like dnsmasq, `\` is a separator (Windows-style clients send it). `..` is refused
   * outright rather than resolved, so no spelling of it can climb out.
   */
  static segments(path: string): string[] {
    if (path.includes('\0')) throw new TftpAccessDeniedError(path, 'NUL byte in path');
    const segments = path
      .replaceAll('\\', '/')
      .split('/')
      .filter((s) => s !== '' && s !== '.');
    if (segments.includes('..')) throw new TftpAccessDeniedError(path, '".." is not allowed');
    return segments;
  }

  async open(path: string, _client?: TftpClient): Promise<TftpFile | undefined> {
    const segments = RootDirectoryHandler.segments(path);
    if (segments.length === 0) return undefined;
    this.#realRoot ??= realpath(this.#root);
    const realRoot = await this.#realRoot;
    let handle: FileHandle;
    try {
      // O_NONBLOCK so a FIFO planted in the root cannot hang the open.
      handle = await open(join(realRoot, ...segments), constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (NOT_FOUND_CODES.has(code)) return undefined;
      if (code === 'EACCES' || code === 'ELOOP') throw new TftpAccessDeniedError(path, code);
      throw error;
    }
    try {
      // Check where the opened file really is, after the open, so a symlink swapped in
      // between a check and the open cannot escape (no time-of-check/time-of-use gap).
      const real = await openedPath(handle, join(realRoot, ...segments));
      if (real !== realRoot && !real.startsWith(realRoot + sep)) {
        throw new TftpAccessDeniedError(path, 'it resolves outside the TFTP root');
      }
      const stats = await handle.stat();
      if (!stats.isFile()) {
        await handle.close();
        return undefined;
      }
      return await diskFile(handle);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }
}

/** The real path of an open file: /proc/self/fd on Linux, else realpath of the name (best effort). */
async function openedPath(handle: FileHandle, name: string): Promise<string> {
  try {
    return await readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    return realpath(name);
  }
}
