// A folder of Liquid templates named by file (`*.prof` boot profiles, `*.test` test scripts):
// scanning it for syncbootnames/synctestnames, and reading one template by name.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AnvilError, listWords } from './errors.ts';
import { checkTemplate } from './templates.ts';

/** Template names are file names without the extension: letters, digits, '.', '_', '-'. */
export const TEMPLATE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface ScanProblem {
  readonly file: string;
  readonly line: number | undefined;
  readonly message: string;
}

export interface ScanResult {
  /** Names whose templates parse. */
  readonly names: string[];
  /** Files skipped because they do not parse (or cannot be read). */
  readonly problems: ScanProblem[];
}

export async function scanTemplates(dir: string, extension: string): Promise<ScanResult> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    throw new AnvilError(
      'TEMPLATE_DIR_MISSING',
      'not-found',
      `cannot read the folder ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; create it or point anvil at another one`,
    );
  }
  const names: string[] = [];
  const problems: ScanProblem[] = [];
  for (const entry of entries.sort()) {
    if (!entry.endsWith(extension)) continue;
    const name = entry.slice(0, -extension.length);
    const file = join(dir, entry);
    if (!TEMPLATE_NAME.test(name)) {
      problems.push({ file, line: undefined, message: `'${name}' is not a usable name (letters, digits, '.', '_' and '-' only)` });
      continue;
    }
    try {
      if (!(await stat(file)).isFile()) continue;
      const problem = checkTemplate(await readFile(file, 'utf8'));
      if (problem) problems.push({ file, ...problem });
      else names.push(name);
    } catch (error) {
      problems.push({ file, line: undefined, message: (error as Error).message });
    }
  }
  return { names, problems };
}

/** The source of template `name`, or a not-found error listing the known names. */
export async function readTemplate(dir: string, name: string, extension: string, known: () => Promise<string[]>, kind: string): Promise<string> {
  if (TEMPLATE_NAME.test(name)) {
    try {
      return await readFile(join(dir, name + extension), 'utf8');
    } catch {
      // fall through to the error below
    }
  }
  throw new AnvilError(`UNKNOWN_${kind.toUpperCase()}`, 'not-found', `no ${kind} '${name}' in ${dir}; known ${kind}s: ${listWords(await known())}`);
}

export function formatProblem(p: ScanProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`;
}
