// bin/anvil runs the JavaScript build of the CLI (scripts/build-cli.ts) only while it matches the
// sources: the next run after an edit rebuilds it, or runs the TypeScript sources when it cannot
// be rebuilt, and says so in one line on stderr. Works on a copy of the project, so that its
// edits never reach the other tests running at the same time.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUN_TIMEOUT_MS = 60_000;

/** The project's files bin/anvil needs, copied; node_modules and .tools shared through symlinks. */
function copyProject(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-cli-build-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const p of ['bin', 'scripts', 'src', 'package.json', 'tsconfig.json']) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  for (const p of ['node_modules', '.tools']) symlinkSync(realpathSync(join(ROOT, p)), join(dir, p));
  return dir;
}

function anvil(dir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(join(dir, 'bin/anvil'), args, { timeout: RUN_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(error);
      else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

/** The manifest's record of one input: [path, size, mtimeMs] or, when it was just modified, with a content hash. */
function inputEntry(dir: string, path: string): unknown[] {
  const manifest = JSON.parse(readFileSync(join(dir, '.build/cli.json'), 'utf8')) as { inputs: unknown[][] };
  const entry = manifest.inputs.find((i) => i[0] === path);
  assert.ok(entry, `the build recorded ${path}`);
  return entry;
}

/** Backdates a file, as a checkout is by the time it is built: its size and mtime are then what tells an edit. */
function age(path: string): void {
  const hourAgo = Date.now() / 1000 - 3600;
  utimesSync(path, hourAgo, hourAgo);
}

/** Replaces text in a file with text of the same length, so only the mtime (and content) can tell. */
function editSameSize(path: string, from: string, to: string): void {
  assert.equal(from.length, to.length);
  const before = readFileSync(path, 'utf8');
  assert.ok(before.includes(from), `${path} contains '${from}'`);
  writeFileSync(path, before.replace(from, to));
  assert.equal(statSync(path).size, Buffer.byteLength(before));
}

test('an edited source is rebuilt by the next bin/anvil run, and the build then runs silently', async (t) => {
  const dir = copyProject(t);
  const ipmi = join(dir, 'src/cli/ipmi.ts');
  age(ipmi);

  const first = await anvil(dir, ['ipmi', '--help']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /like ipmitool: same options/);
  assert.match(first.stderr, /^anvil: there is no build of the CLI in \.build\/ yet; built \.build\/cli-[0-9a-f]+ in \d+ ms\n$/);

  const quiet = await anvil(dir, ['ipmi', '--help']);
  assert.deepEqual([quiet.code, quiet.stderr], [0, '']);
  assert.equal(inputEntry(dir, 'src/cli/ipmi.ts').length, 3, 'an old file is recorded by size and mtime alone');

  // ipmi.ts is loaded lazily, through commands.ts: the build knows it from following the imports.
  editSameSize(ipmi, 'like ipmitool: same options', 'LIKE ipmitool: same options');
  const edited = await anvil(dir, ['ipmi', '--help']);
  assert.equal(edited.code, 0, edited.stderr);
  assert.match(edited.stdout, /LIKE ipmitool: same options/);
  assert.match(edited.stderr, /^anvil: src\/cli\/ipmi\.ts changed since the CLI was built; built \.build\/cli-[0-9a-f]+ in \d+ ms\n$/);

  const again = await anvil(dir, ['ipmi', '--help']);
  assert.deepEqual([again.code, again.stderr], [0, '']);
  assert.match(again.stdout, /LIKE ipmitool: same options/);
});

test('when the build cannot be redone, bin/anvil runs the edited sources and says why, on one line', async (t) => {
  const dir = copyProject(t);
  const built = await anvil(dir, ['--help']);
  assert.equal(built.code, 0, built.stderr);

  // An install without dev dependencies: node_modules without esbuild.
  rmSync(join(dir, 'node_modules'));
  mkdirSync(join(dir, 'node_modules'));
  const shared = realpathSync(join(ROOT, 'node_modules'));
  for (const name of readdirSync(shared)) if (name !== 'esbuild' && name !== '@esbuild') symlinkSync(join(shared, name), join(dir, 'node_modules', name));
  // Node would also look in node_modules folders above the copy (e.g. /tmp/node_modules).
  assert.throws(() => createRequire(join(dir, 'scripts/build-cli.ts')).resolve('esbuild'), 'esbuild must not be reachable from the copy');

  editSameSize(join(dir, 'src/cli/anvil.ts'), "'Commands:'", "'COMMANDS:'");
  for (let run = 0; run < 2; run++) {
    const r = await anvil(dir, ['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^COMMANDS:$/m);
    assert.match(
      r.stderr,
      /^anvil: src\/cli\/anvil\.ts changed since the CLI was built, and building it failed \(scripts\/build-cli\.ts: esbuild is not installed [^\n]*\); running from the TypeScript sources, which start slower\n$/,
    );
  }
});

test('a same-size edit in the clock tick of the build (mtime unchanged) is caught by the content hash', async (t) => {
  const dir = copyProject(t);
  const source = join(dir, 'src/cli/anvil.ts');
  writeFileSync(source, readFileSync(source)); // modified just now, as by an editor right before the run
  const built = await anvil(dir, ['--help']);
  assert.equal(built.code, 0, built.stderr);
  const [, size, mtimeMs, hash] = inputEntry(dir, 'src/cli/anvil.ts');
  assert.match(String(hash), /^[0-9a-f]{8}$/, 'a file modified within RACY_MS of the build gets a hash');

  const { mtimeNs } = statSync(source, { bigint: true });
  editSameSize(source, "'Commands:'", "'COMMANDS:'");
  // Put the mtime back to the nanosecond, as a coarse filesystem clock would have left it.
  execFileSync('touch', ['-m', '-d', `@${mtimeNs / 1_000_000_000n}.${String(mtimeNs % 1_000_000_000n).padStart(9, '0')}`, source]);
  assert.deepEqual([statSync(source).size, statSync(source).mtimeMs], [size, mtimeMs]);

  const r = await anvil(dir, ['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^COMMANDS:$/m);
  assert.match(r.stderr, /^anvil: src\/cli\/anvil\.ts changed since the CLI was built; built \.build\/cli-[0-9a-f]+ in \d+ ms\n$/);
});
