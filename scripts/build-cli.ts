// Builds anvil's command lines, src/cli/anvil.ts and src/cli/pxemngr.ts and everything they
// import, into JavaScript under .build/, so that bin/anvil and bin/pxemngr start without Node's
// type stripper (~45 ms for a process's first .ts file) and without resolving and stripping
// dozens of modules one by one. esbuild's code splitting keeps every lazy import a file of its
// own: `anvil ipmi` still loads only what ipmi imports, `anvil --help` only the command table.
// npm packages are not bundled, but for BUNDLED_PACKAGES: they are resolved in node_modules at
// run time, as before.
//
//   node scripts/build-cli.ts [--if-stale] [--quiet]
//
// The commands in SCRIPT_COMMANDS are also built as one CommonJS script each (the command with
// the dispatcher's error handling, src/cli/run-command.ts), which bin/start.js runs through
// node:vm with a V8 code cache made after a run: Node's module compile cache is made when a
// module is compiled, so it holds only top-level code and every function is compiled again at
// every start (~30% of a one-BMC `anvil ipmi` run's CPU).
//
// scripts/install and scripts/test run it; bin/start.js runs it when a source changed since.
// The build records every file it read, with its size and modification time, in .build/cli.json,
// and which of them each command can run (following the imports from its module), so that
// bin/start.js compares before each run only the files that run can execute. Each build is written to its own folder
// (.build/cli-<hash of its contents>/) and cli.json is replaced with a rename, so a process that
// starts during a rebuild runs one complete build or the other, never a mix.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Loader, Metafile, Plugin } from 'esbuild';
import {
  BUILD_DIR,
  COMPILE_CACHE,
  ENTRIES,
  MANIFEST,
  RACY_MS,
  contentHash,
  readManifest,
  staleInput,
  type EntryInputs,
  type Input,
  type Manifest,
} from '../bin/start.js';

/**
 * Files that shape the output without being imported: the build itself and the compiler's
 * settings. (Not esbuild's version: a newer esbuild does not make a build wrong, and a
 * production install may drop dev dependencies after building.)
 */
/**
 * npm packages bundled into the build rather than resolved at run time: pure ESM of many small
 * files, no native code and nothing read beside itself. kysely is ~260 files, each resolved,
 * read and linked by Node's ESM loader at every start of a command that opens the database:
 * ~100 ms of CPU of the ~280 ms an `anvil image list` took before its first query.
 */
const BUNDLED_PACKAGES = ['kysely'];
const BUILD_INPUTS = [
  'scripts/build-cli.ts',
  'bin/start.js',
  'package.json',
  'tsconfig.json',
  // A bundled package's files are written together by npm, its manifest (and version) with them.
  ...BUNDLED_PACKAGES.map((name) => `node_modules/${name}/package.json`),
];
/** Unfinished build folders (a build that crashed) older than this are removed by the next build. */
const ABANDONED_AFTER_MS = 10 * 60_000;
/**
 * anvil's commands built also as a single script (see above): those run in loops and scripts,
 * whose start-up is most of their time. Their code must be CommonJS-able: no top-level await
 * and no import.meta (the build fails on either).
 */
const SCRIPT_COMMANDS = ['ipmi'];
/** anvil's command table: each `lazy('words', 'summary', () => import('./module.ts'))` names a command's module. */
const COMMAND_TABLE = 'src/cli/commands.ts';
const LAZY_COMMAND = /^\s*lazy\(\s*'([^']+)',\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"),\s*\(\) => import\('\.\/([\w.-]+\.ts)'\)\s*\)/gm;
const LOADERS: Readonly<Record<string, Loader>> = { '.ts': 'ts', '.js': 'js', '.mjs': 'js', '.json': 'json' };

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const buildRoot = join(ROOT, BUILD_DIR);

/**
 * Reads a file for the build and describes it as it was: stat first, so that an edit during the
 * read makes it look changed at the next start, never unchanged.
 */
function readInput(path: string): { input: Input; bytes: Buffer } {
  const statedAt = Date.now();
  const s = statSync(join(ROOT, path));
  const bytes = readFileSync(join(ROOT, path));
  const racy = statedAt - s.mtimeMs < RACY_MS;
  return { input: racy ? [path, s.size, s.mtimeMs, contentHash(bytes)] : [path, s.size, s.mtimeMs], bytes };
}

/**
 * Reads each source for esbuild, recording it as an input, and gives import.meta.url,
 * dirname and filename the values they have in the source file: code that reads files beside
 * itself (web views, the stylesheet, the native TFTP addon, scripts it spawns) keeps finding them.
 */
function sourcesPlugin(inputs: Map<string, Input>, outdir: string): Plugin {
  return {
    name: 'anvil-sources',
    setup(b) {
      b.onLoad({ filter: /.*/, namespace: 'file' }, (args) => {
        // As it is (node_modules may be a link to elsewhere); recorded by its manifest in BUILD_INPUTS.
        if (BUNDLED_PACKAGES.some((name) => args.path.includes(`/node_modules/${name}/`))) return undefined;
        const path = relative(ROOT, args.path);
        const loader = LOADERS[args.path.slice(args.path.lastIndexOf('.'))];
        if (loader === undefined || path.startsWith('..') || path.startsWith('node_modules/'))
          return { errors: [{ text: `${path}: the CLI build bundles only the project's own .ts/.js/.json files` }] };
        const { input, bytes } = readInput(path);
        inputs.set(path, input);
        let contents = bytes.toString('utf8');
        if (loader !== 'json') {
          const url = `new URL(${JSON.stringify(relative(outdir, args.path))}, import.meta.url)`;
          contents = contents
            .replaceAll('import.meta.url', `${url}.href`)
            .replaceAll('import.meta.filename', `decodeURIComponent(${url}.pathname)`)
            .replaceAll('import.meta.dirname', `decodeURIComponent(new URL(".", ${url}).pathname.slice(0, -1))`);
        }
        return { contents, loader };
      });
    },
  };
}

/** Leaves every npm package to be resolved at run time, but BUNDLED_PACKAGES. */
function packagesPlugin(): Plugin {
  return {
    name: 'anvil-packages',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) =>
        args.path.startsWith('node:') || BUNDLED_PACKAGES.some((name) => args.path === name || args.path.startsWith(`${name}/`))
          ? undefined
          : { path: args.path, external: true },
      );
    },
  };
}

/**
 * Gives the bundle Node's built-in modules through process.getBuiltinModule() rather than
 * `import { readFileSync } from 'node:fs'`: an ESM import of a builtin reads every export to
 * make its namespace, which runs the lazy getters (fs.promises alone loads fs/promises, streams
 * and readline: ~4 ms of every start). Each export is read only where something imports it.
 */
function builtinsPlugin(): Plugin {
  return {
    name: 'anvil-builtins',
    setup(b) {
      // One copy per importing file (the suffix makes it a module of its own), so that a builtin
      // is never a shared chunk: every chunk file is ~0.4 ms more to load.
      b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'node-builtin', suffix: `?${relative(ROOT, args.importer)}` }));
      b.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => {
        const module = process.getBuiltinModule(args.path) as Record<string, unknown> | undefined;
        if (module === undefined) return { errors: [{ text: `${args.path} is not one of Node's built-in modules` }] };
        const names = Object.getOwnPropertyNames(module).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== 'default');
        const unused = (name: string): string => (names.includes(name) ? unused(`_${name}`) : name);
        const [builtin, read] = [unused('builtin'), unused('read')];
        const contents = [
          `const ${builtin} = process.getBuiltinModule(${JSON.stringify(args.path)});`,
          `const ${read} = (name) => ${builtin}[name];`,
          `export default ${builtin};`,
          // Pure, so esbuild drops the exports nobody imports, and their getters never run.
          ...names.map((n) => `export const ${n} = /* @__PURE__ */ ${read}(${JSON.stringify(n)});`),
        ].join('\n');
        return { contents, loader: 'js' };
      });
    },
  };
}

/**
 * Each command's module in the command table, by its words. Read from the table's text, and
 * checked against the table itself: a command the pattern missed would run unchecked.
 */
async function commandModules(): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const [, words, module] of readFileSync(join(ROOT, COMMAND_TABLE), 'utf8').matchAll(LAZY_COMMAND)) found.set(words!, `src/cli/${module}`);
  const { commands } = (await import(join(ROOT, COMMAND_TABLE))) as { commands: readonly { name: string }[] };
  const names = commands.map((c) => c.name);
  if (names.length !== found.size || names.some((n) => !found.has(n)))
    throw new Error(
      `${COMMAND_TABLE}: every command must be one line lazy('words', 'summary', () => import('./module.ts')); found ${[...found.keys()].join(', ')}`,
    );
  return found;
}

/**
 * The inputs each entry's runs can execute, as indices into `inputs`: the files reached from
 * `from` through the source imports (lazy ones too unless `staticOnly`). Source imports, not
 * the output chunks' inputs: a file tree-shaken to nothing still shapes the output when edited.
 */
function reach(metafile: Metafile, from: string, index: ReadonlyMap<string, number>, staticOnly: boolean): number[] {
  const seen = new Set<string>();
  const visit = (path: string): void => {
    if (seen.has(path) || !index.has(path)) return;
    seen.add(path);
    for (const i of metafile.inputs[path]?.imports ?? []) if (!(staticOnly && i.kind === 'dynamic-import')) visit(i.path);
  };
  visit(from);
  if (seen.size === 0) throw new Error(`${from} is not among the build's inputs`);
  return [...seen].map((p) => index.get(p)!);
}

function entryInputs(metafile: Metafile, inputs: readonly Input[], commands: ReadonlyMap<string, string>): Record<string, EntryInputs> {
  const index = new Map(inputs.map((input, i) => [input[0], i]));
  const always = BUILD_INPUTS.map((p) => index.get(p)!);
  const entries: Record<string, EntryInputs> = {};
  for (const name of ENTRIES) {
    const source = `src/cli/${name}.ts`;
    if (name !== 'anvil') {
      entries[name] = { base: [...new Set([...always, ...reach(metafile, source, index, false)])].sort((a, b) => a - b) };
      continue;
    }
    const base = [...new Set([...always, ...reach(metafile, source, index, true)])].sort((a, b) => a - b);
    const byCommand: Record<string, number[]> = {};
    for (const [words, module] of commands) byCommand[words] = reach(metafile, module, index, false).sort((a, b) => a - b);
    const scripts = Object.fromEntries(SCRIPT_COMMANDS.map((words) => [words, scriptFile(words)]));
    entries[name] = { base, commands: byCommand, scripts };
  }
  return entries;
}

/** The file, in a build's folder, of a command's single script. */
const scriptFile = (words: string): string => `command-${words.replaceAll(' ', '-')}.cjs`;

/**
 * Each SCRIPT_COMMANDS entry as a module of its own: the command's run() behind runCommand,
 * exporting run(argv) with argv as anvil's (the command's words first), as anvil.js does.
 */
function commandEntryPlugin(commands: ReadonlyMap<string, string>): Plugin {
  return {
    name: 'anvil-command-entry',
    setup(b) {
      b.onResolve({ filter: /^anvil-command:/ }, (args) => ({ path: args.path.slice('anvil-command:'.length), namespace: 'anvil-command' }));
      b.onLoad({ filter: /.*/, namespace: 'anvil-command' }, (args) => {
        const module = commands.get(args.path);
        if (module === undefined) return { errors: [{ text: `SCRIPT_COMMANDS names '${args.path}', which is not in ${COMMAND_TABLE}` }] };
        const words = args.path.split(' ').length;
        const contents = [
          `import { runCommand } from './src/cli/run-command.ts';`,
          `import { run as command } from ${JSON.stringify(`./${module}`)};`,
          `export function run(argv) { return runCommand({ name: ${JSON.stringify(args.path)}, run: command }, argv.slice(${words})); }`,
        ].join('\n');
        return { contents, loader: 'js', resolveDir: ROOT };
      });
    },
  };
}

/**
 * The built code as ASCII. esbuild escapes non-ASCII characters in strings and names, but keeps
 * comments as written, and one '§' in a comment makes the whole source a two-byte string: the
 * ipmi script was read ~1 ms slower at every start (1.2-1.6 ms against 0.4-0.6 for the same
 * bytes in ASCII). Each is escaped as esbuild escapes the others, \\uXXXX: in a comment it is
 * text, in a string, regular expression or name the same character.
 */
export function asciiOnly(text: string): string {
  return text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Builds into a new folder and makes it the current one; returns the manifest written. */
export async function buildCli(): Promise<Manifest> {
  // A dev dependency: an install without it (npm ci --omit=dev) runs the CLI from its sources.
  const { build } = await import('esbuild').catch((error: Error) => {
    throw new Error(`esbuild is not installed (npm ci installs it): ${error.message.split('\n')[0]}`);
  });
  mkdirSync(buildRoot, { recursive: true });
  const inputs = new Map<string, Input>(BUILD_INPUTS.map((p) => [p, readInput(p).input]));
  const commands = await commandModules();
  // Output paths are computed for a folder of this depth; the final name is only known after.
  const placeholder = join(buildRoot, 'cli');
  const result = await build({
    // Only the entry points are named: everything else is found by following their imports.
    entryPoints: ENTRIES.map((name) => ({ in: join(ROOT, `src/cli/${name}.ts`), out: name })),
    outdir: placeholder,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    write: false,
    metafile: true,
    // Paths in the metafile are then the project's, as the manifest records them.
    absWorkingDir: ROOT,
    logLevel: 'silent',
    plugins: [builtinsPlugin(), packagesPlugin(), sourcesPlugin(inputs, placeholder)],
  });
  const scripts = await build({
    entryPoints: SCRIPT_COMMANDS.map((words) => ({ in: `anvil-command:${words}`, out: scriptFile(words).slice(0, -'.cjs'.length) })),
    outdir: placeholder,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node24',
    packages: 'external',
    write: false,
    absWorkingDir: ROOT,
    logLevel: 'silent',
    plugins: [commandEntryPlugin(commands), builtinsPlugin(), sourcesPlugin(inputs, placeholder)],
  });
  // import.meta in CommonJS is an empty object: a warning here would be a broken script.
  if (scripts.warnings.length > 0) throw { errors: scripts.warnings };
  const outputFiles = [...result.outputFiles, ...scripts.outputFiles].map((f) => ({ path: f.path, contents: asciiOnly(f.text) }));
  const hash = createHash('sha256');
  for (const f of outputFiles) hash.update(relative(placeholder, f.path)).update('\0').update(f.contents);
  const name = `cli-${hash.digest('hex').slice(0, 12)}`;
  const dir = join(buildRoot, name);
  if (statSync(dir, { throwIfNoEntry: false }) === undefined) {
    const tmp = join(buildRoot, `tmp-${process.pid}-${Date.now()}`);
    for (const f of outputFiles) {
      const path = join(tmp, relative(placeholder, f.path));
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, f.contents);
    }
    try {
      renameSync(tmp, dir);
    } catch (error) {
      // Another process built the same sources meanwhile: its folder is this one.
      rmSync(tmp, { recursive: true, force: true });
      if (statSync(dir, { throwIfNoEntry: false }) === undefined) throw error;
    }
  }
  const previous = readManifest(ROOT);
  const sorted = [...inputs.values()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const manifest: Manifest = { build: name, inputs: sorted, entries: entryInputs(result.metafile, sorted, commands) };
  const tmpManifest = join(buildRoot, `${MANIFEST}.${process.pid}.tmp`);
  // One input a line, for whoever reads it to see why a build was redone.
  writeFileSync(
    tmpManifest,
    `{"build": ${JSON.stringify(name)}, "inputs": [\n${manifest.inputs.map((i) => JSON.stringify(i)).join(',\n')}\n],\n"entries": ${JSON.stringify(manifest.entries)}}\n`,
  );
  renameSync(tmpManifest, join(buildRoot, MANIFEST));
  prune(new Set([name, previous?.build]), previous?.build !== name);
  return manifest;
}

/**
 * Removes older builds, keeping the current one and the one before (a process may have just
 * started it), and their code cache when the build changed: its entries name the old folder.
 */
function prune(keep: ReadonlySet<string | undefined>, changed: boolean): void {
  for (const entry of readdirSync(buildRoot)) {
    const path = join(buildRoot, entry);
    const old = (entry.startsWith('cli-') && !keep.has(entry)) || (entry === COMPILE_CACHE && changed);
    const abandoned = entry.startsWith('tmp-') && Date.now() - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > ABANDONED_AFTER_MS;
    if (old || abandoned) rmSync(path, { recursive: true, force: true });
  }
}

/** One line for bin/start.js's note: esbuild's first error with its place, or the error's message. */
function oneLine(error: unknown): string {
  const first = (error as { errors?: { text: string; location: { file: string; line: number; column: number } | null }[] }).errors?.[0];
  if (first) return `${first.location ? `${first.location.file}:${first.location.line}:${first.location.column}: ` : ''}${first.text}`;
  return String((error as Error).message ?? error).split('\n')[0]!;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { 'if-stale': { type: 'boolean', default: false }, quiet: { type: 'boolean', default: false } } });
  const current = readManifest(ROOT);
  try {
    if (values['if-stale'] && current !== undefined && staleInput(current, ROOT) === undefined) {
      if (!values.quiet) process.stdout.write(`the CLI build ${BUILD_DIR}/${current.build} is up to date\n`);
    } else {
      const started = performance.now();
      const manifest = await buildCli();
      if (!values.quiet)
        process.stdout.write(`built ${BUILD_DIR}/${manifest.build} from ${manifest.inputs.length} files in ${Math.round(performance.now() - started)} ms\n`);
    }
  } catch (error) {
    process.stderr.write(`scripts/build-cli.ts: ${oneLine(error)}\n`);
    process.exitCode = 1;
  }
}
