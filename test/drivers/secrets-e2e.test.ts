// Passwords never leave: real processes — `bin/anvil bmc fake` and `bin/anvil bmc amt` given
// their passwords by file and environment, `bin/anvil serve --log-level debug`, and
// `bin/anvil machine` — drive an IPMI and an AMT machine through the API and the CLI, with a
// wrong password too. No password may appear in any API response, CLI output, server log
// line, or the command line (/proc/PID/cmdline) of any process the test starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANVIL, exec, startServer, tempDir } from '../helpers/anvil-process.ts';
import { freeUdpPort } from '../helpers/ports.ts';

const IPMI_PASSWORD = 'ipmi-Zq7-secret';
const AMT_PASSWORD = 'Amt-Xw9-secret!';
const WRONG_PASSWORD = 'wrong-Kp4-secret';
const SECRETS = [IPMI_PASSWORD, AMT_PASSWORD, WRONG_PASSWORD];

/** Starts a process and resolves once its output matches `ready`; stopped (SIGTERM) after the test. */
async function startUntil(
  t: { after(fn: () => Promise<void>): void },
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(ANVIL, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  );
  let output = '';
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = ready.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}:\n${output}`));
    });
  });
  return { child, match };
}

function cmdline(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
}

test('no password in any API response, CLI output, log line or process command line', async (t) => {
  const data = tempDir();
  const passwordFile = join(data, 'ipmi.pw');
  writeFileSync(passwordFile, `${IPMI_PASSWORD}\n`, { mode: 0o600 });
  const ipmiPort = await freeUdpPort();
  const bmc = await startUntil(t, ['bmc', 'fake', '--port', String(ipmiPort), '--password-file', passwordFile], {}, /listening on 127\.0\.0\.1:(\d+)/);
  const amt = await startUntil(t, ['bmc', 'amt', '--port', '0'], { AMT_PASSWORD }, /listening on http:\/\/127\.0\.0\.1:(\d+)/);
  const amtPort = Number(amt.match[1]);

  const profiles = join(data, 'tftp/pxelinux.cfg/profiles');
  await exec('mkdir', ['-p', profiles]);
  writeFileSync(join(profiles, 'local.prof'), 'LOCALBOOT 0\n');
  const server = await startServer(data, ['--log-level', 'debug']);
  t.after(async () => {
    await server.stop();
  });
  const token = (await exec(ANVIL, ['token', 'create', '--data', data, '--role', 'admin', '--name', 'e2e'])).stdout.trim().split(/\s+/).pop()!;
  const seen: string[] = [];
  const api = async (path: string, method = 'GET', json?: unknown) => {
    const res = await fetch(server.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(json ? { 'content-type': 'application/json' } : {}) },
      ...(json ? { body: JSON.stringify(json) } : {}),
    });
    const text = await res.text();
    seen.push(`${method} ${path} ${res.status} ${text}`);
    return { status: res.status, body: text };
  };

  for (const [name, mac] of [
    ['srv', '52:54:00:00:10:01'],
    ['desk', '52:54:00:00:10:02'],
    ['desk2', '52:54:00:00:10:03'],
  ] as const) {
    assert.equal((await api('/api/v1/machines', 'POST', { name, macs: [mac] })).status, 201);
  }
  // The IPMI machine's password through the API, the AMT ones through the CLI (from the environment).
  assert.equal(
    (
      await api('/api/v1/machines/srv', 'PATCH', {
        driver: 'ipmi',
        driver_info: { ipmi_address: '127.0.0.1', ipmi_port: ipmiPort, ipmi_username: 'admin', ipmi_password: IPMI_PASSWORD },
      })
    ).status,
    200,
  );
  const cli: string[] = [];
  const machine = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = await exec(ANVIL, ['machine', '--data', data, ...args], env);
    cli.push(`${args.join(' ')} ${r.code} ${r.stdout} ${r.stderr}`);
    return r;
  };
  assert.equal(
    (
      await machine(['set', 'desk', '--driver', 'amt', '--driver-info', `amt_address=127.0.0.1,amt_port=${amtPort}`, '--password-env', 'DESK_PW'], {
        DESK_PW: AMT_PASSWORD,
      })
    ).code,
    0,
  );
  assert.equal(
    (
      await machine(['set', 'desk2', '--driver', 'amt', '--driver-info', `amt_address=127.0.0.1,amt_port=${amtPort}`, '--password-env', 'DESK_PW'], {
        DESK_PW: WRONG_PASSWORD,
      })
    ).code,
    0,
  );

  assert.match((await api('/api/v1/machines/srv/power', 'PUT', { target: 'on', timeout: 10 })).body, /"powerState":"on"/);
  assert.match((await api('/api/v1/machines/desk/power', 'PUT', { target: 'on', timeout: 10 })).body, /"powerState":"on"/);
  const denied = await api('/api/v1/machines/desk2/power', 'PUT', { target: 'on', timeout: 10 });
  assert.equal(denied.status, 503);
  assert.match(denied.body, /CONTROLLER_AUTH_FAILED/);
  assert.match((await api('/api/v1/machines/srv/boot-device', 'PUT', { device: 'pxe', persistent: true })).body, /"device":"pxe"/);
  for (const name of ['srv', 'desk', 'desk2']) {
    const shown = await api(`/api/v1/machines/${name}/driver`);
    assert.match(shown.body, /_password":"\*\*\*\*\*\*"/);
    await api(`/api/v1/machines/${name}/events`);
    await api(`/api/v1/machines/${name}`);
    assert.match((await machine(['show', name])).stdout, /_password: \*\*\*\*\*\*/);
  }
  assert.equal((await machine(['power', 'srv', 'status'])).stdout, 'srv: power on\n');
  assert.match((await machine(['power', 'desk2', 'off'])).stderr, /AMT authentication failed/);
  await api('/api/v1/machines');

  const stored = Buffer.concat(
    readdirSync(data)
      .filter((f) => f.startsWith('anvil.db'))
      .map((f) => readFileSync(join(data, f))),
  );
  const cmdlines = [bmc.child.pid!, amt.child.pid!, server.child.pid!].map(cmdline);
  assert.match(cmdlines[0]!, /bmc fake --port \d+ --password-file/, 'the BMC emulator is the process we think it is');
  for (const secret of SECRETS) {
    for (const line of seen) assert.ok(!line.includes(secret), `API response holds a password: ${line}`);
    for (const line of cli) assert.ok(!line.includes(secret), `CLI output holds a password: ${line}`);
    assert.ok(!server.logs().includes(secret), 'the server log holds a password');
    for (const line of cmdlines) assert.ok(!line.includes(secret), `a command line holds a password: ${line}`);
    assert.ok(!stored.includes(secret), 'the database holds a password in clear');
  }
  assert.ok(server.logs().split('\n').length > 20, 'the server did log (debug level)');
});
