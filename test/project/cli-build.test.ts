// bin/anvil runs the JavaScript build of the CLI (scripts/build-cli.ts) only while it matches the
// sources: the next run after an edit rebuilds it, or runs the TypeScript sources when it cannot
// be rebuilt, and says so in one line on stderr. Works on a copy of the project, so that its
// edits never reach the other tests running at the same time.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startFake } from '../ipmi/cli-helpers.ts';
import { PASSWORD, USER } from '../ipmi/client-peers.ts';

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
    execFile(join(dir, 'bin/anvil'), args, { timeout: RUN_TIMEOUT_MS, env: { ...process.env, IPMI_PASSWORD: PASSWORD } }, (error, stdout, stderr) => {
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

test('a build folder removed by hand, its manifest left, is rebuilt by the next run', async (t) => {
  const dir = copyProject(t);
  const first = await anvil(dir, ['--help']);
  assert.equal(first.code, 0, first.stderr);
  const { build } = JSON.parse(readFileSync(join(dir, '.build/cli.json'), 'utf8')) as { build: string };
  rmSync(join(dir, '.build', build), { recursive: true });
  for (const args of [['--help'], ['ipmi', '--help']]) {
    const run = await anvil(dir, args);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Usage: anvil/);
  }
  const rebuilt = await anvil(dir, ['--help']);
  assert.deepEqual([rebuilt.code, rebuilt.stderr], [0, '']);
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

/** Appends a comment: a change of size, which the next check of the file must see. */
function touchUp(path: string): void {
  writeFileSync(path, `${readFileSync(path, 'utf8')}// edited by cli-build.test.ts\n`);
}

test('a run checks the files it can execute: a command module and what it imports, statically or lazily, and never less', async (t) => {
  const dir = copyProject(t);
  const built = await anvil(dir, ['--help']);
  assert.equal(built.code, 0, built.stderr);

  // Reached from `anvil ipmi` only, through static imports three modules deep.
  touchUp(join(dir, 'src/protocols/ipmi/rmcp.ts'));
  const help = await anvil(dir, ['--help']);
  assert.deepEqual([help.code, help.stderr], [0, ''], '`anvil --help` cannot run the IPMI codec: its build is current');
  const ipmi = await anvil(dir, ['ipmi', '--help']);
  assert.equal(ipmi.code, 0, ipmi.stderr);
  assert.match(ipmi.stderr, /^anvil: src\/protocols\/ipmi\/rmcp\.ts changed since the CLI was built; built \.build\/cli-[0-9a-f]+ in \d+ ms\n$/);

  // Reached from `anvil token` only through a lazy import (cli/data.ts imports app/compose.ts when it opens services).
  touchUp(join(dir, 'src/app/compose.ts'));
  const quiet = await anvil(dir, ['ipmi', '--help']);
  assert.deepEqual([quiet.code, quiet.stderr], [0, '']);
  const token = await anvil(dir, ['token', '--help']);
  assert.equal(token.code, 0, token.stderr);
  assert.match(token.stderr, /^anvil: src\/app\/compose\.ts changed since the CLI was built; built \.build\/cli-[0-9a-f]+ in \d+ ms\n$/);

  // The dispatcher's own files are checked by every run, a command's or not.
  touchUp(join(dir, 'src/cli/command.ts'));
  const unknown = await anvil(dir, ['no-such-command']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^anvil: src\/cli\/command\.ts changed since the CLI was built; built \.build\/cli-[0-9a-f]+ in \d+ ms\nanvil: unknown command/);
});

test("bin/start.js checks the build of the command that src/cli/anvil.ts's findCommand runs, for every command", async () => {
  const { inputsFor, readManifest } = (await import(join(ROOT, 'bin/start.js'))) as typeof import('../../bin/start.js');
  const { findCommand } = await import('../../src/cli/anvil.ts');
  const { commands } = await import('../../src/cli/commands.ts');
  const manifest = readManifest(ROOT);
  assert.ok(manifest?.entries?.anvil?.commands, 'scripts/test builds the CLI before the tests');
  const table = readFileSync(join(ROOT, 'src/cli/commands.ts'), 'utf8');
  assert.deepEqual(Object.keys(manifest.entries.anvil.commands).sort(), commands.map((c) => c.name).sort());
  for (const c of commands) {
    const argv = [...c.name.split(' '), '--help'];
    assert.equal(findCommand(argv)?.command.name, c.name);
    const module = new RegExp(`lazy\\('${c.name}',[^\\n]*import\\('\\./([\\w.-]+)'\\)`).exec(table)?.[1];
    assert.ok(module, `${c.name}: its module in the command table`);
    const checked = new Set(inputsFor(manifest, 'anvil', argv).map((i) => i[0]));
    for (const path of [`src/cli/${module}`, 'src/cli/anvil.ts', 'src/cli/commands.ts', 'bin/start.js', 'package.json'])
      assert.ok(checked.has(path), `anvil ${c.name}: ${path} is checked`);
  }
  // No command: the dispatcher's files alone.
  const dispatcher = inputsFor(manifest, 'anvil', ['--help']).map((i) => i[0]);
  assert.ok(dispatcher.includes('src/cli/anvil.ts') && !dispatcher.includes('src/cli/ipmi.ts'), dispatcher.join(', '));
});

test('`anvil ipmi` runs its single-script build, with the V8 code cache of its first run that did its work; a bad cache is replaced', async (t) => {
  const dir = copyProject(t);
  const port = await startFake(t);
  const power = ['ipmi', '-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', USER, '-E', 'power', 'status'];
  const help = await anvil(dir, ['ipmi', '--help']);
  assert.equal(help.code, 0, help.stderr);
  const manifest = JSON.parse(readFileSync(join(dir, '.build/cli.json'), 'utf8')) as { build: string; entries: { anvil: { scripts: Record<string, string> } } };
  const script = manifest.entries.anvil.scripts.ipmi;
  assert.ok(script, 'the build names a script for ipmi');
  const cache = join(dir, '.build/compile-cache', `${manifest.build}-${script}.v8`);
  assert.equal(statSync(cache, { throwIfNoEntry: false }), undefined, 'a help run leaves no cache: it never ran the protocol code');
  // ASCII throughout: a non-ASCII character (a comment's '§') would make V8 read the whole script as a two-byte string.
  for (const file of readdirSync(join(dir, '.build', manifest.build))) {
    const text = readFileSync(join(dir, '.build', manifest.build, file), 'latin1');
    assert.equal(/[^\x00-\x7f]/.exec(text)?.index, undefined, `${file} is ASCII`);
  }

  // A usage error is reported as the dispatcher reports it, and leaves no cache either.
  const usage = await anvil(dir, ['ipmi', '-H', '127.0.0.1', '-P', 'x', 'power', 'bogus']);
  assert.equal(usage.code, 2);
  assert.equal(usage.stderr, "anvil ipmi: power bogus: expected status, on, off, cycle, reset, soft or diag\nRun 'anvil ipmi --help' for usage.\n");
  assert.equal(statSync(cache, { throwIfNoEntry: false }), undefined);

  const first = await anvil(dir, power);
  assert.deepEqual([first.code, first.stderr, first.stdout], [0, '', 'Chassis Power is off\n']);
  assert.ok(statSync(cache).size > 1000, 'the first run that did its work left its code cache');
  const { mtimeMs } = statSync(cache);
  const again = await anvil(dir, power);
  assert.deepEqual([again.code, again.stderr, again.stdout], [0, '', first.stdout]);
  assert.equal(statSync(cache).mtimeMs, mtimeMs, 'an accepted cache is kept as it is');

  // Written through stdout's descriptor: a reader gone before the answer (EPIPE) ends the output quietly.
  const gone = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(join(dir, 'bin/anvil'), power, { env: { ...process.env, IPMI_PASSWORD: PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
  assert.deepEqual(gone, { code: 0, stderr: '' });

  writeFileSync(cache, 'not a V8 code cache');
  const rejected = await anvil(dir, power);
  assert.deepEqual([rejected.code, rejected.stderr, rejected.stdout], [0, '', first.stdout]);
  assert.ok(statSync(cache).size > 1000, 'a cache V8 refused is made anew');
});
