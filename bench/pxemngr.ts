// The PXE Manager under a large fleet: a database of 10,000 machines and 100,000 test runs,
// then /profile/ and /nexttest/ requests per second and the fleet page's render time,
// against `bin/anvil serve` in its own process.
//
//   source scripts/env.sh && node bench/pxemngr.ts [--machines 10000] [--runs 100000] [--seconds 10] [--concurrency 32]
//
// No peer runs beside it: pxemngr itself is a Django 1.x application that cannot be installed
// here (no PyPI), so the figures are anvil's alone. Requests go over loopback with keep-alive.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openServices } from '../src/app/compose.ts';

const { values } = parseArgs({
  options: {
    machines: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '32' },
  },
});
const MACHINES = Number(values.machines);
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const ROOT = new URL('../', import.meta.url).pathname;

const macOf = (i: number) => `52:54:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function fill(data: string): Promise<string> {
  const profiles = join(data, 'tftp/pxelinux.cfg/profiles');
  mkdirSync(profiles, { recursive: true });
  mkdirSync(join(data, 'tests'), { recursive: true });
  writeFileSync(join(profiles, 'local.prof'), 'LOCALBOOT 0\n');
  writeFileSync(join(profiles, 'install.prof'), 'KERNEL vmlinuz\nAPPEND url={{ server }}/{{ system }}\n');
  writeFileSync(join(data, 'tests/wait.test'), 'sleep 10\n');
  writeFileSync(join(data, 'tests/burnin.test'), '#!/bin/sh\n# {{ system }} {{ mac }} run {{ log }}\nstress-ng --cpu 2 --timeout 60\n');
  const s = await openServices({ data });
  await s.profiles.sync(new Date().toISOString());
  await s.testing.sync();
  const started = Date.now();
  const db = s.store.db;
  const now = new Date().toISOString();
  const batch = 500;
  for (let i = 0; i < MACHINES; i += batch) {
    const n = Math.min(batch, MACHINES - i);
    const rows = Array.from({ length: n }, (_, k) => ({
      name: `node-${String(i + k).padStart(5, '0')}`,
      created_at: now,
      updated_at: now,
      next_profile: (i + k) % 3 ? 'local' : 'install',
    }));
    const ids = await db.insertInto('machines').values(rows).returning('id').execute();
    await db
      .insertInto('macs')
      .values(ids.map((r, k) => ({ mac: macOf(i + k), machine_id: r.id })))
      .execute();
  }
  // Most runs are history (done, with counts); the newest ones per machine are queued for /nexttest/.
  for (let i = 0; i < RUNS; i += batch) {
    const n = Math.min(batch, RUNS - i);
    const rows = Array.from({ length: n }, (_, k) => {
      const j = i + k;
      const queued = j >= RUNS * 0.8;
      return {
        machine_id: (j % MACHINES) + 1,
        test: 'burnin',
        state: queued ? ('requested' as const) : ('done' as const),
        requested_at: now,
        sent_at: queued ? null : now,
        finished_at: queued ? null : now,
        infos: j % 7,
        warnings: j % 3,
        errors: j % 11 === 0 ? 1 : 0,
        version: null,
        upload_path: null,
        upload_bytes: null,
        error_reason: null,
      };
    });
    await db.insertInto('runs').values(rows).execute();
  }
  const { token } = await s.tokens.create('viewer', 'bench');
  await s.close();
  console.log(`filled ${MACHINES} machines and ${RUNS} runs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return token;
}

interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
}

async function load(name: string, url: (i: number) => string, seconds: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let i = 0;
  const deadline = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const response = await fetch(url(i++));
      await response.arrayBuffer();
      if (!response.ok) errors++;
      latencies.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const result = {
    requests: latencies.length,
    errors,
    rps: latencies.length / elapsed,
    p50: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
  };
  console.log(
    `${name.padEnd(12)} ${result.rps.toFixed(0).padStart(6)} req/s   p50 ${result.p50.toFixed(1)} ms   p99 ${result.p99.toFixed(1)} ms   ${result.requests} requests, ${errors} errors, concurrency ${CONCURRENCY}`,
  );
  return result;
}

const data = mkdtempSync(join(tmpdir(), 'anvil-bench-'));
try {
  const token = await fill(data);
  const port = await freePort();
  const server = spawn(join(ROOT, 'bin/anvil'), ['serve', '--data', data, '--http', `127.0.0.1:${port}`, '--tftp', 'off', '--log-level', 'warn'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let tries = 0; ; tries++) {
      try {
        if ((await fetch(`${base}/api/v1/health`)).ok) break;
      } catch {
        if (tries > 200) throw new Error('anvil serve did not start');
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const random = () => macOf(Math.floor(Math.random() * MACHINES));
    await load('warm-up', () => `${base}/profile/${random()}/`, 1);
    await load('/profile/', () => `${base}/profile/${random()}/`, SECONDS);
    await load('/nexttest/', () => `${base}/nexttest/${random()}/`, SECONDS);
    const times: number[] = [];
    let bytes = 0;
    for (let k = 0; k < 11; k++) {
      const t0 = performance.now();
      const response = await fetch(`${base}/`, { headers: { authorization: `Bearer ${token}` } });
      bytes = (await response.arrayBuffer()).byteLength;
      if (!response.ok) throw new Error(`fleet page: ${response.status}`);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    console.log(
      `fleet page   median ${times[5]!.toFixed(0)} ms, min ${times[0]!.toFixed(0)} ms, max ${times[10]!.toFixed(0)} ms over 11 renders of ${MACHINES} machines (${(bytes / 1e6).toFixed(1)} MB); target under 200 ms`,
    );
    const rss = Number((await import('node:fs')).readFileSync(`/proc/${server.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1] ?? 0);
    console.log(`server memory ${(rss / 1024).toFixed(0)} MiB resident`);
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  }
} finally {
  rmSync(data, { recursive: true, force: true });
}
