// Reading a secret from a file's first line, as --password-file options do (a command line is
// visible to every user of the machine; a file is not).
import { readFile } from 'node:fs/promises';
import { UsageError } from './command.ts';

export async function readPasswordFile(path: string, option: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${option} ${path}: ${error.code ?? error.message}`);
  });
  return text.split(/\r?\n/)[0] ?? '';
}
