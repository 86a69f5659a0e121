// The README's PXE Manager section runs as written: its two sh blocks are taken from the README
// and run with bash (set -euo pipefail) from the checkout, in one data directory; only
// /srv/anvil becomes a fresh folder, and `bin/anvil serve` is told a free port and no TFTP by its
// environment (ANVIL_HTTP, ANVIL_TFTP). Then the test plays node1 as the section describes it:
// iPXE's boot, the install script's /profile/ and /localboot/, its next boot from disk, and
// /nexttest/ with the README's own curl line uploading the script's output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec, PXEMNGR, ROOT, tempDir } from '../helpers/anvil-process.ts';
import { havePeers } from '../helpers/peers.ts';
import { freeTcpPort } from '../helpers/ports.ts';
import { Output, stopChild } from '../lab/helpers.ts';

const MAC = '52:54:00:12:34:56';
/** The line the test points at a fresh folder instead. */
const ANVIL_DATA_LINE = 'export ANVIL_DATA=/srv/anvil                    # database, profiles, tests, uploads';

/** A `## title` section of the README, up to the next one. */
function readmeSection(readme: string, title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  assert.notEqual(start, -1, `the README has a section '${title}'`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

/** The contents of its sh blocks. */
function shBlocks(section: string): string[] {
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** The README's upload line, from the prose after the blocks. */
function curlLine(section: string): string {
  const match = /`(curl [^`]*http:\/\/SERVER:8080\/upload\/)`/.exec(section);
  assert.ok(match, 'the section gives the curl line machines upload with');
  return match[1]!;
}

test("the README's PXE Manager section runs as written, and a machine boots, installs and uploads a test as it says", { timeout: 120_000 }, async (t) => {
  if (!havePeers(t, 'bash', 'curl')) return;
  const section = readmeSection(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'The PXE Manager flow');
  const [setup, tests] = shBlocks(section);
  assert.ok(setup && tests, 'the section has two sh blocks');
  assert.ok(setup.split('\n').includes(ANVIL_DATA_LINE), `the first block starts with '${ANVIL_DATA_LINE}'`);
  assert.equal(setup.trim().split('\n').at(-1)!.split('#')[0]!.trim(), 'bin/anvil serve', 'the first block ends by starting the server');

  const dir = tempDir('anvil-readme-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const data = join(dir, 'srv-anvil');
  const exportLine = `export ANVIL_DATA=${data}`;
  const asWritten = (block: string) => `set -euo pipefail\n${block.replace(ANVIL_DATA_LINE, exportLine)}`;
  const port = await freeTcpPort();
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, ANVIL_HTTP: `127.0.0.1:${port}`, ANVIL_TFTP: 'off' };
  delete env.ANVIL_DATA;

  const script = join(dir, 'setup.sh');
  await writeFile(script, asWritten(setup));
  // Its own process group: the server it starts goes with it.
  const shell = spawn('bash', [script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  t.after(async () => {
    try {
      process.kill(-shell.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    const killer = setTimeout(() => {
      try {
        process.kill(-shell.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, 10_000);
    await stopChild(shell);
    clearTimeout(killer);
  });
  const output = new Output(shell, shell.stdout, shell.stderr);
  await output.waitFor('anvil is serving', 60_000);
  assert.match(output.text, /profiles in .*: install local/);
  assert.match(output.text, new RegExp(`Added system node1: ${MAC}`, 'i'));

  const second = await exec('bash', ['-c', asWritten(`${ANVIL_DATA_LINE}\n${tests}`)], env, ROOT);
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.match(second.stdout, /tests in .*: memtest smart wait/);
  assert.match(second.stdout, /memtest\s+requested/);
  assert.match(second.stdout, /smart\s+requested/);

  // node1 PXE-boots: iPXE gets install.prof with its variables filled in, once.
  const url = `http://127.0.0.1:${port}`;
  const get = async (path: string) => {
    const response = await fetch(`${url}${path}`);
    assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
    return response;
  };
  const boot = await (await get(`/boot/${MAC}`)).text();
  assert.match(boot, new RegExp(`kernel ${url}/tftp/debian/vmlinuz initrd=initrd.gz auto=true priority=critical url=${url}/preseed/node1.cfg`));
  assert.match(boot, new RegExp(`initrd ${url}/tftp/debian/initrd.gz`));
  // Its install script asks for its profile and says when it is done.
  assert.equal((await (await get(`/profile/${MAC}/`)).text()).trim(), 'install', 'nextboot without --once: install until the install calls back');
  await get(`/localboot/${MAC}/`);
  assert.match(await (await get(`/boot/${MAC}`)).text(), /boots from its local disk/);

  // Its test loop: the first queued test, rendered with pxemngr's variables, run and uploaded with the README's curl line.
  const next = await get(`/nexttest/${MAC}/`);
  const run = next.headers.get('x-anvil-run');
  assert.ok(run, 'a queued test carries its run id');
  const body = await next.text();
  assert.match(body, new RegExp(`I: run ${run} of memtest on node1`));
  const out = join(dir, 'output');
  const ran = await exec('sh', ['-c', body], {}, dir);
  await writeFile(out, ran.stdout + ran.stderr);
  // Without the machine in the URL anvil finds it from the source address; on loopback the test names the run.
  const curl = curlLine(section).replace('http://SERVER:8080/upload/', `${url}/upload/${run}/`);
  const uploaded = await exec('bash', ['-c', curl], { output: out });
  assert.equal(uploaded.code, 0, `${curl}: ${uploaded.stdout}${uploaded.stderr}`);

  const after = await exec(PXEMNGR, ['--json', 'dpytest', 'node1'], { ...env, ANVIL_DATA: data }, ROOT);
  assert.equal(after.code, 0, after.stderr);
  const runs = JSON.parse(after.stdout) as { id: number; test: string; state: string; infos: number }[];
  const memtest = runs.find((r) => String(r.id) === run)!;
  assert.deepEqual([memtest.test, memtest.state], ['memtest', 'done']);
  assert.ok(memtest.infos >= 1, JSON.stringify(memtest));
});
