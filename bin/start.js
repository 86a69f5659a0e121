// Starts one of anvil's command lines, `node bin/start.js anvil|pxemngr [arguments]`, as bin/anvil
// and bin/pxemngr do. It runs the JavaScript build of src/cli/<name>.ts in .build/ when that build
// is current for this run: every file whose code the run can execute still has the size and
// modification time it had when it was built. For `anvil <command>` those are the dispatcher's
// files and everything the command's module can import (~70 stat calls for `anvil ipmi`, not the
// ~320 of the whole build: 2 ms of every start). Otherwise it rebuilds first
// (scripts/build-cli.ts), or, when it cannot (no esbuild, a read-only checkout), runs the
// TypeScript sources; either way it says so in one line on stderr. A stale build never runs.
// A command with a single-script build (`anvil ipmi`) runs that script, with a V8 code cache
// (runScript); every other run imports .build/<build>/<name>.js with Node's module compile cache.
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
 * Which inputs a run can execute, as indices into Manifest.inputs: `base` always (the entry's
 * static imports and the build's own files), and `commands[words]` when argv starts with those
 * words (the command's module and everything it imports, statically or lazily).
 * `scripts[words]` names a command's single-script build in the build folder (run by runScript).
 * @typedef {{ base: number[], commands?: Record<string, number[]>, scripts?: Record<string, string> }} EntryInputs
 * @typedef {{ build: string, inputs: Input[], entries?: Record<string, EntryInputs> }} Manifest
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
 * The inputs whose code `name` run with `argv` can execute. anvil picks its command as
 * src/cli/anvil.ts's findCommand() does, by command words that all equal argv's first words; every
 * command so named is taken (test/project/cli-build.test.ts holds the two rules together).
 * A manifest without `entries` for the name (from an older build) gives every input.
 * @param {Manifest} manifest
 * @param {string} name
 * @param {readonly string[]} argv the arguments after the command line's name
 * @returns {Input[]}
 */
export function inputsFor(manifest, name, argv) {
  const entry = manifest.entries?.[name];
  if (entry === undefined) return manifest.inputs;
  const picked = new Set(entry.base);
  for (const [words, indices] of Object.entries(entry.commands ?? {})) {
    if (words.split(' ').every((w, i) => argv[i] === w)) for (const i of indices) picked.add(i);
  }
  return [...picked].map((i) => /** @type {Input} */ (manifest.inputs[i]));
}

/**
 * The single-script build of the command argv names, if it has one: the command with the most
 * words that all equal argv's first words, as src/cli/anvil.ts's findCommand() chooses.
 * @param {Manifest} manifest
 * @param {string} name
 * @param {readonly string[]} argv
 * @returns {string | undefined} a file name in the build's folder
 */
export function scriptFor(manifest, name, argv) {
  const entry = manifest.entries?.[name];
  let best;
  for (const words of Object.keys(entry?.commands ?? {})) {
    const split = words.split(' ');
    if (split.every((w, i) => argv[i] === w) && (best === undefined || split.length > best.split(' ').length)) best = words;
  }
  return best === undefined ? undefined : entry?.scripts?.[best];
}

/**
 * Runs a single-script build through node:vm, with the V8 code cache of an earlier run. The cache
 * is made at exit, after the run, when there was none (or V8 refused it: another Node): it then
 * holds every function the run compiled, where Node's module compile cache holds only top-level
 * code. Only a run that did its work makes it (exit status 0, not asked for help): a cache from
 * `anvil ipmi --help` or a usage error lacks the protocol code, which a one-BMC run would then
 * compile at every start (~6 ms of CPU). Written through a rename, so a process never reads half
 * a cache; not written where .build/ is read-only.
 * @param {string} file
 * @param {string} cacheFile
 * @param {string[]} argv anvil's arguments
 * @returns {Promise<number>}
 */
function runScript(file, cacheFile, argv) {
  const { Script } = process.getBuiltinModule('node:vm');
  const { createRequire } = process.getBuiltinModule('node:module');
  const { mkdirSync, renameSync, writeFileSync } = process.getBuiltinModule('node:fs');
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`;
  const script = new Script(wrapped, { filename: file, ...(cachedData ? { cachedData } : {}) });
  const module = { exports: /** @type {{ run(argv: string[]): Promise<number> }} */ ({}) };
  script.runInThisContext()(module.exports, createRequire(file), module, file, file.slice(0, file.lastIndexOf('/')));
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once('exit', (code) => {
      if (code !== 0 || argv.some((a) => a === '--help' || a === '-h' || a === 'help')) return;
      try {
        mkdirSync(cacheFile.slice(0, cacheFile.lastIndexOf('/')), { recursive: true });
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch {
        // A read-only .build/: the next run compiles as this one did.
      }
    });
  }
  return module.exports.run(argv);
}

/**
 * Why the build is out of date ("src/cli/ipmi.ts changed"), or undefined when it is current:
 * for the given inputs (a run's, from inputsFor), else for all of them.
 * @param {Manifest} manifest
 * @param {string} root the project folder, ending in '/'
 * @param {readonly Input[]} [inputs]
 * @returns {string | undefined}
 */
export function staleInput(manifest, root, inputs = manifest.inputs) {
  for (const [path, size, mtimeMs, hash] of inputs) {
    const s = statSync(root + path, { throwIfNoEntry: false });
    if (s === undefined) return `${path} is gone`;
    if (s.size !== size || s.mtimeMs !== mtimeMs || (hash !== undefined && contentHash(readFileSync(root + path)) !== hash)) return `${path} changed`;
  }
  return undefined;
}

/**
 * What to run for `name`: its current build (with the manifest, for its single-script builds),
 * rebuilt first if need be, else its source.
 * @param {string} name
 * @param {readonly string[]} argv the command line's arguments
 * @returns {Promise<{ module: string, manifest?: Manifest }>} a file path
 */
async function moduleFor(name, argv) {
  const manifest = readManifest(ROOT);
  // A build folder removed by hand (its manifest left) is as stale as an edited source.
  const gone = manifest !== undefined && statSync(`${ROOT}${BUILD_DIR}/${manifest.build}/${name}.js`, { throwIfNoEntry: false }) === undefined;
  const stale =
    manifest === undefined
      ? undefined
      : gone
        ? `${BUILD_DIR}/${manifest.build}/${name}.js is gone`
        : staleInput(manifest, ROOT, inputsFor(manifest, name, argv));
  const why = manifest === undefined ? `there is no build of the CLI in ${BUILD_DIR}/ yet` : stale && `${stale} since the CLI was built`;
  if (why === undefined && manifest !== undefined) return { module: `${ROOT}${BUILD_DIR}/${manifest.build}/${name}.js`, manifest };
  const started = performance.now();
  const { spawnSync } = process.getBuiltinModule('node:child_process'); // ~2 ms to load: only for a rebuild
  const r = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', `${ROOT}scripts/build-cli.ts`, '--quiet'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  const rebuilt = r.status === 0 ? readManifest(ROOT) : undefined;
  // A source edited while it was being built is caught here: the new build is already stale.
  if (rebuilt !== undefined && staleInput(rebuilt, ROOT, inputsFor(rebuilt, name, argv)) === undefined) {
    process.stderr.write(`${name}: ${why}; built ${BUILD_DIR}/${rebuilt.build} in ${Math.round(performance.now() - started)} ms\n`);
    return { module: `${ROOT}${BUILD_DIR}/${rebuilt.build}/${name}.js`, manifest: rebuilt };
  }
  const reason = r.error?.message ?? (r.stderr.split('\n')[0] || `exit status ${r.status}`);
  process.stderr.write(`${name}: ${why}, and building it failed (${reason}); running from the TypeScript sources, which start slower\n`);
  // Caches the stripped sources (in the OS temp folder), so the next slow start is less slow.
  enableCompileCache();
  return { module: `${ROOT}src/cli/${name}.ts` };
}

/** Whether anything made process.stdout; watchStdout sets it. */
let stdoutMade = false;

/**
 * Notes when process.stdout is first made. Node makes the stream at the first read of the
 * property, and for a pipe that is ~2 ms of a start; the single-script commands write through the
 * descriptor (src/cli/output.ts writeStdout) and make it only when that would block, so
 * exitWhenWritten must learn whether there is a stream to wait for without making one. The
 * getter is wrapped, not replaced: the stream is Node's own, made when first asked for.
 */
function watchStdout() {
  const made = Object.getOwnPropertyDescriptor(process, 'stdout');
  if (typeof made?.get !== 'function' || !made.configurable) {
    stdoutMade = true;
    return;
  }
  const get = made.get;
  Object.defineProperty(process, 'stdout', {
    configurable: true,
    enumerable: made.enumerable ?? true,
    get() {
      stdoutMade = true;
      return get.call(process);
    },
  });
}

/**
 * Ends the process with `code` now that a single-script command is done, rather than letting
 * the event loop run dry: process.exit() skips the heap teardown a natural exit does (V8 frees
 * the heap page by page, ~40 munmap calls), 4-7 ms of CPU of a one-BMC `anvil ipmi ... power
 * status` (measured interleaved, 30 runs each: 49-50 ms of CPU, 42-46 with this). Such a
 * command's run() resolves only when its work is done (sessions closed, output written); the
 * 'exit' event still fires, so runScript's code cache is still written. Output is never cut
 * short: Node writes stdout to files, pipes and terminals synchronously on Linux, the only
 * platform bin/anvil runs Node for, and stdout is waited for should it ever hold unwritten data.
 * @param {number} code
 */
function exitWhenWritten(code) {
  process.exitCode = code;
  // Never made, it holds nothing (and making it now, to ask, would cost ~2 ms): see watchStdout.
  if (!stdoutMade) process.exit();
  const stdout = process.stdout;
  if (stdout.writableLength === 0) process.exit();
  // A reader that went away (EPIPE) ends the wait as a written buffer does.
  for (const event of ['drain', 'error', 'close']) stdout.once(event, () => process.exit());
}

if (import.meta.main) {
  // Taken out of argv, so the command sees the same process.argv as when run from its source.
  const name = process.argv.splice(2, 1)[0] ?? '';
  if (!ENTRIES.includes(name)) {
    process.stderr.write(`bin/start.js: expected one of ${ENTRIES.join(', ')}, not '${name}'\n`);
    process.exit(2);
  }
  const argv = process.argv.slice(2);
  const { module, manifest } = await moduleFor(name, argv);
  const script = manifest && scriptFor(manifest, name, argv);
  if (manifest && script) {
    const cache = `${ROOT}${BUILD_DIR}/${COMPILE_CACHE}/${manifest.build}-${script}.v8`;
    watchStdout();
    exitWhenWritten(await runScript(`${ROOT}${BUILD_DIR}/${manifest.build}/${script}`, cache, argv));
  } else {
    // Fails quietly where .build/ is read-only: the build then compiles at every start, as without it.
    if (manifest) enableCompileCache(`${ROOT}${BUILD_DIR}/${COMPILE_CACHE}`);
    const { run } = await import(pathToFileURL(module).href);
    process.exitCode = await run(argv);
  }
}
