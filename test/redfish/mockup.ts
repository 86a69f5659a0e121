// DMTF's Redfish Mockup Server (../shared/peers/redfish-mockup-server, a peer anvil did not
// write) with its public-rackmount1 mockup, started on a free port for one test and killed
// after it. Debian's python3 with python3-requests runs it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TestContext } from 'node:test';
import { tempDir } from '../helpers/anvil-process.ts';
import { freeTcpPort } from '../helpers/ports.ts';
import { requireCondition } from '../helpers/peers.ts';

export const MOCKUP_DIR = resolve(import.meta.dirname, '../../../shared/peers/redfish-mockup-server');
export const PYTHON = '/usr/bin/python3';
export const MOCKUP_SYSTEM = '437XR1138R2';

/** Whether the mockup server can run here; skips locally, fails under CI. */
export function haveMockup(t: TestContext): boolean {
  const present = existsSync(join(MOCKUP_DIR, 'redfishMockupServer.py'));
  if (!requireCondition(t, present, `DMTF's Redfish Mockup Server is not in ${MOCKUP_DIR}`)) return false;
  const requests = spawnSync(PYTHON, ['-c', 'import requests'], { timeout: 20_000 }).status === 0;
  return requireCondition(t, requests, 'python3-requests is not installed (the Redfish Mockup Server needs it)');
}

function answers(url: string): Promise<boolean> {
  return new Promise((done) => {
    const send = url.startsWith('https:') ? httpsRequest : request;
    const req = send(url, { timeout: 2000, rejectUnauthorized: false }, (res) => {
      res.resume();
      done(res.statusCode === 200);
    });
    req.on('error', () => done(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Starts the mockup server; it is killed when the test ends. */
export async function startMockup(t: TestContext, tls?: { cert: string; key: string }): Promise<string> {
  const port = await freeTcpPort();
  const args = ['redfishMockupServer.py', '-S', '-D', join(MOCKUP_DIR, 'public-rackmount1'), '-H', '127.0.0.1', '-p', String(port)];
  if (tls) {
    const dir = tempDir();
    writeFileSync(join(dir, 'cert.pem'), tls.cert);
    writeFileSync(join(dir, 'key.pem'), tls.key);
    args.push('-s', '--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem'));
  }
  const child = spawn(PYTHON, args, { cwd: MOCKUP_DIR, env: { ...process.env, PYTHONPATH: join(MOCKUP_DIR, 'shim') }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  t.after(async () => {
    if (child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(timer);
  });
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  // Generous: under load python takes its time to import.
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`the Redfish Mockup Server exited (${child.exitCode}): ${stderr}`);
    if (await answers(`${url}/redfish/v1/`)) return url;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the Redfish Mockup Server did not answer on ${url} within 30 s: ${stderr}`);
}
