// bin/anvil bmc fake: starts a fleet, prints where each BMC listens, serves ipmitool, takes
// the password from IPMI_PASSWORD or a file, and stops cleanly on SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { havePeers } from '../helpers/peers.ts';
import { runPeer } from './emulator-helpers.ts';

const ANVIL = fileURLToPath(new URL('../../bin/anvil', import.meta.url));

interface Running {
  readonly lines: Promise<string[]>;
  readonly exited: Promise<{ code: number | null; stderr: string }>;
  stop(): void;
}

/** Starts `anvil bmc fake` and resolves `lines` once it says how many BMCs run. */
function start(args: string[], env: Record<string, string>): Running {
  const child = spawn(ANVIL, ['bmc', 'fake', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const lines = new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start-up line; stdout ${out}; stderr ${err}`)), 15_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/BMC\(s\) running/.test(out)) {
        clearTimeout(timer);
        resolve(out.trim().split('\n'));
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`exited early; stderr ${err}`));
    });
  });
  lines.catch(() => undefined);
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stderr: err })));
  return { lines, exited, stop: () => child.exitCode === null && child.kill('SIGTERM') };
}

test('anvil bmc fake --count 3 on consecutive ports, password from IPMI_PASSWORD', async (t) => {
  if (!havePeers(t, 'ipmitool')) return;
  // A random base port below the ephemeral range; another try if something holds it.
  let running: Running | undefined;
  let lines: string[] = [];
  let base = 0;
  for (let attempt = 0; attempt < 5 && running === undefined; attempt++) {
    base = 21_000 + Math.floor(Math.random() * 10_000);
    const candidate = start(['--port', String(base), '--count', '3'], { IPMI_PASSWORD: 'fleet-pw' });
    t.after(() => candidate.stop());
    try {
      lines = await candidate.lines;
      running = candidate;
    } catch (error) {
      if (!/in use/.test(String(error))) throw error;
    }
  }
  assert.ok(running);
  const ports = lines.filter((l) => l.startsWith('bmc ')).map((l) => Number(/127\.0\.0\.1:(\d+)/.exec(l)?.[1]));
  assert.deepEqual(ports, [base, base + 1, base + 2]);
  for (const [i, port] of ports.entries()) {
    const fru = await runPeer('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-E', 'fru', 'print'], {
      IPMI_PASSWORD: 'fleet-pw',
    });
    assert.match(fru.stdout, new RegExp(`Product Serial\\s+: ANVIL000${i + 1}`));
  }
  running.stop();
  const { code, stderr } = await running.exited;
  assert.equal(code, 0);
  // Each ipmitool run opened a session and closed it: none expired, none left open.
  assert.match(stderr, /stopped: \d+ packets, 0 bad; sessions 3 opened, 3 closed, 0 expired, 0 still open\n/);
});

test('anvil bmc fake --spread-addresses with --password-file and a custom user', async (t) => {
  if (!havePeers(t, 'ipmitool')) return;
  const dir = mkdtempSync(join(tmpdir(), 'anvil-bmc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'pw'), 'from-a-file\n', { mode: 0o600 });
  // Port 0 gives each address its own free port; the addresses are 127.0.0.2 and 127.0.0.3.
  const running = start(
    ['--address', '127.0.0.2', '--port', '0', '--count', '2', '--spread-addresses', '--user', 'ops', '--password-file', join(dir, 'pw')],
    {},
  );
  t.after(() => running.stop());
  const lines = await running.lines;
  const hosts = lines.filter((l) => l.startsWith('bmc ')).map((l) => /on ([\d.]+):(\d+)/.exec(l)?.slice(1) as [string, string]);
  assert.deepEqual(
    hosts.map((h) => h[0]),
    ['127.0.0.2', '127.0.0.3'],
  );
  for (const [host, port] of hosts) {
    const r = await runPeer('ipmitool', ['-I', 'lanplus', '-H', host, '-p', port, '-U', 'ops', '-E', 'power', 'status'], { IPMI_PASSWORD: 'from-a-file' });
    assert.match(r.stdout, /Chassis Power is off/);
  }
  running.stop();
  assert.equal((await running.exited).code, 0);
});

test('anvil bmc fake --help and bad options', async () => {
  const help = await runPeer(ANVIL, ['bmc', 'fake', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--password-file F/);
  assert.match(help.stdout, /IPMI_PASSWORD/);
  const bad = await runPeer(ANVIL, ['bmc', 'fake', '--count', 'many']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--count 'many' must be an integer/);
});
