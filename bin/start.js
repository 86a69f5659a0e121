// Starts one of anvil's command lines, `node bin/start.js anvil|pxemngr [arguments]`, as bin/anvil
// and bin/pxemngr do. It runs the JavaScript build of src/cli/<name>.ts in .build/ when that build
// is current: every file it was built from still has the size and modification time it had then
// (about 100 stat calls, well under a millisecond). Otherwise it rebuilds first
// (scripts/build-cli.ts), or, when it cannot (no esbuild, a read-only checkout), runs the
// TypeScript sources; either way it says so in one line on stderr. A stale build never runs.
//
// Plain JavaScript on purpose: the first .ts file a process loads costs ~45 ms of type stripping.
// Builtins through process.getBuiltinModule(), not `import`: an ESM import of node:fs reads all
// its exports, and the fs.promises getter alone loads streams and readline (~4 ms).
const { readFileSync, statSync } = process.getBuiltinModule('node:fs');
const { enableCompileCache } = process.getBuiltinModule('node:module');
const { fileURLToPath, pathToFileURL } = process.getBuiltinModule('node:url');

/**
 * A file the build read: its size and mtime then, and for a file modified just before it was
 * read (within RACY_MS), a hash of what was read, since a same-size edit in the same clock tick
 * would leave size and mtime as they were (git's "racily clean" entries).
 * @typedef {[path: string, size: number, mtimeMs: number, hash?: string]} Input
 * @typedef {{ build: string, inputs: Input[] }} Manifest
 */

/** The command lines: src/cli/<name>.ts, built to .build/<build>/<name>.js; each exports run(argv). */
export const ENTRIES = ['anvil', 'pxemngr'];
export const BUILD_DIR = '.build';
/** In BUILD_DIR: which build folder is current and the inputs it was built from. */
export const MANIFEST = 'cli.json';
/** In BUILD_DIR: V8's code cache of the current build (node:module's compile cache), ~6 ms a start. */
export const COMPILE_CACHE = 'compile-cache';

/** A file modified less than this before the build read it gets a content hash in the manifest. */
export const RACY_MS = 2000;

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * FNV-1a, 32 bits, in hex: enough to tell an edit from none, and no node:crypto to load (~5 ms).
 * @param {Uint8Array} bytes
 */
export function contentHash(bytes) {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] ?? 0), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * The current build's manifest, or undefined when there is none.
 * @param {string} root the project folder, ending in '/'
 * @returns {Manifest | undefined}
 */
export function readManifest(root) {
  try {
    return JSON.parse(readFileSync(`${root}${BUILD_DIR}/${MANIFEST}`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Why the build is out of date ("src/cli/ipmi.ts changed"), or undefined when it is current.
 * @param {Manifest} manifest
 * @param {string} root the project folder, ending in '/'
 * @returns {string | undefined}
 */
export function staleInput(manifest, root) {
  for (const [path, size, mtimeMs, hash] of manifest.inputs) {
    const s = statSync(root + path, { throwIfNoEntry: false });
    if (s === undefined) return `${path} is gone`;
    if (s.size !== size || s.mtimeMs !== mtimeMs || (hash !== undefined && contentHash(readFileSync(root + path)) !== hash)) return `${path} changed`;
  }
  return undefined;
}

/**
 * The module to run for `name`: its current build, rebuilt first if need be, else its source.
 * @param {string} name
 * @returns {Promise<string>} a file path
 */
async function moduleFor(name) {
  const manifest = readManifest(ROOT);
  const stale = manifest === undefined ? undefined : staleInput(manifest, ROOT);
  const why = manifest === undefined ? `there is no build of the CLI in ${BUILD_DIR}/ yet` : stale && `${stale} since the CLI was built`;
  if (why === undefined) return `${ROOT}${BUILD_DIR}/${manifest?.build}/${name}.js`;
  const started = performance.now();
  const { spawnSync } = process.getBuiltinModule('node:child_process'); // ~2 ms to load: only for a rebuild
  const r = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', `${ROOT}scripts/build-cli.ts`, '--quiet'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  const rebuilt = r.status === 0 ? readManifest(ROOT) : undefined;
  // A source edited while it was being built is caught here: the new build is already stale.
  if (rebuilt !== undefined && staleInput(rebuilt, ROOT) === undefined) {
    process.stderr.write(`${name}: ${why}; built ${BUILD_DIR}/${rebuilt.build} in ${Math.round(performance.now() - started)} ms\n`);
    return `${ROOT}${BUILD_DIR}/${rebuilt.build}/${name}.js`;
  }
  const reason = r.error?.message ?? (r.stderr.split('\n')[0] || `exit status ${r.status}`);
  process.stderr.write(`${name}: ${why}, and building it failed (${reason}); running from the TypeScript sources, which start slower\n`);
  // Caches the stripped sources (in the OS temp folder), so the next slow start is less slow.
  enableCompileCache();
  return `${ROOT}src/cli/${name}.ts`;
}

if (import.meta.main) {
  // Taken out of argv, so the command sees the same process.argv as when run from its source.
  const name = process.argv.splice(2, 1)[0] ?? '';
  if (!ENTRIES.includes(name)) {
    process.stderr.write(`bin/start.js: expected one of ${ENTRIES.join(', ')}, not '${name}'\n`);
    process.exit(2);
  }
  const module = await moduleFor(name);
  // Fails quietly where .build/ is read-only: the build then compiles at every start, as without it.
  if (module.startsWith(`${ROOT}${BUILD_DIR}/`)) enableCompileCache(`${ROOT}${BUILD_DIR}/${COMPILE_CACHE}`);
  const { run } = await import(pathToFileURL(module).href);
  process.exitCode = await run(process.argv.slice(2));
}
