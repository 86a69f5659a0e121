// Real BMC peers for the IPMI client's interop tests: OpenIPMI's ipmi_sim (with a sensor,
// SEL entry and FRU image) and pyghmi's fakebmc, each on a free loopback port, stopped by
// t.after. Readiness is awaited by talking to the peer, never by sleeping.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { freeUdpPort } from '../helpers/ports.ts';
import { requireCondition } from '../helpers/peers.ts';
import { IpmiClient } from '../../src/protocols/ipmi/client/client.ts';
import type { BmcTarget } from '../../src/protocols/ipmi/client/options.ts';

export const USER = 'admin';
export const PASSWORD = 'password';
/** How long a peer may take to start answering. */
const START_TIMEOUT_MS = 15_000;

export interface Peer {
  readonly port: number;
  readonly dir?: string;
  target(extra?: Partial<BmcTarget>): BmcTarget;
}

function stopOnExit(t: TestContext, child: ChildProcess, dir?: string): void {
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
}

/** Waits until a BMC on the port completes a login and a Get Device ID (a fresh client per try). */
async function waitReady(port: number, target: Partial<BmcTarget>, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`peer exited with ${child.exitCode}: ${log()}`);
    const client = new IpmiClient({ policy: { timeoutMs: 100, retries: 0, loginAttempts: 1 } });
    try {
      await client.bmc({ host: '127.0.0.1', port, user: USER, password: PASSWORD, ...target }).deviceId();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`peer on port ${port} never answered: ${(error as Error).message}; ${log()}`);
    } finally {
      await client.close();
    }
  }
}

function fru(): number[] {
  const tl = (s: string) => [0xc0 | s.length, ...Buffer.from(s)];
  const board = [1, 0, 0, 0x10, 0, 0, ...tl('Acme'), ...tl('Board'), ...tl('B-SN'), ...tl('B-PN'), 0xc0, 0xc1];
  const length = Math.ceil((board.length + 1) / 8) * 8;
  board[1] = length / 8;
  while (board.length < length - 1) board.push(0);
  board.push((0x100 - (board.reduce((a, b) => a + b, 0) & 0xff)) & 0xff);
  const header = [1, 0, 0, 1, 0, 0, 0];
  header.push((0x100 - (header.reduce((a, b) => a + b, 0) & 0xff)) & 0xff);
  const image = [...header, ...board];
  while (image.length < 64) image.push(0);
  return image;
}

/** A full sensor record: "CPU Temp", sensor 0x30, degrees C, M=1, UNC/UCR/UNR 80/90/100. */
export const CPU_TEMP_SDR = [
  0x00,
  0x00,
  0x51,
  0x01,
  0x33,
  0x20,
  0x00,
  0x30,
  0x03,
  0x01,
  0x7f,
  0x68,
  0x01,
  0x01,
  0x00,
  0x00,
  0x00,
  0x00,
  0x38,
  0x3f,
  0x00,
  0x01,
  0x00,
  0x00,
  0x01,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0xff,
  0x00,
  0x64,
  0x5a,
  0x50,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0xc8,
  ...Buffer.from('CPU Temp'),
];

/** A compact sensor record: "Watchdog", sensor 0x31, Watchdog 2 type, sensor-specific (discrete) events. */
export const WATCHDOG_SDR = [
  0x00,
  0x00,
  0x51,
  0x02,
  0x23,
  0x20,
  0x00,
  0x31,
  0x07,
  0x01,
  0x7f,
  0x40,
  0x23,
  0x6f,
  0x00,
  0x00,
  0x00,
  0x00,
  0x3f,
  0x00,
  0xc0,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0xc8,
  ...Buffer.from('Watchdog'),
];

/** Starts OpenIPMI's ipmi_sim with the configuration of ipmi.md §3, plus an analog and a discrete sensor, one SEL entry and a FRU image. */
export async function startIpmiSim(t: TestContext, options: { manufacturerId?: number; solTcpPort?: number } = {}): Promise<Peer> {
  const port = await freeUdpPort();
  const dir = mkdtempSync(join(tmpdir(), 'anvil-ipmi-sim-'));
  mkdirSync(join(dir, 'state'));
  const chassis = join(dir, 'chassis.sh');
  writeFileSync(
    chassis,
    `#!/bin/sh
# ipmi_sim chassis control (lanserv/ipmi_sim_chassiscontrol): power kept in a file.
f="${dir}/power"
case "$2" in
get) shift 2; for k in "$@"; do case $k in power) echo "power:$(cat "$f" 2>/dev/null || echo 0)";; boot) echo "boot:default";; esac; done;;
set) shift 2; while [ $# -gt 0 ]; do case $1 in power) echo "$2" > "$f";; esac; shift 2; done;;
esac
`,
  );
  chmodSync(chassis, 0o755);
  const auths = 'none md2 md5 straight';
  writeFileSync(
    join(dir, 'lan.conf'),
    `name "anvil"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 ${port}
    priv_limit admin
    allowed_auths_callback ${auths}
    allowed_auths_user ${auths}
    allowed_auths_operator ${auths}
    allowed_auths_admin ${auths}
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "${chassis} 0x20"
  user 2 true "${USER}" "${PASSWORD}" admin 10 ${auths}
${options.solTcpPort ? `  sol "tcp:127.0.0.1:${options.solTcpPort}" 115200\n` : ''}`,
  );
  const hex = (bytes: number[]) => bytes.map((b) => '0x' + b.toString(16)).join(' ');
  writeFileSync(
    join(dir, 'cmds.emu'),
    `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x${(options.manufacturerId ?? 0x1291).toString(16)} 0xf02
sel_enable 0x20 1000 0x0a
main_sdr_add 0x20 ${hex(CPU_TEMP_SDR)}
sensor_add 0x20 0 0x30 0x01 0x01
sensor_set_value 0x20 0 0x30 45 0
main_sdr_add 0x20 ${hex(WATCHDOG_SDR)}
sensor_add 0x20 0 0x31 0x23 0x6f
mc_add_fru_data 0x20 0 64 data ${hex(fru())}
sel_add 0x20 0x02 0x00 0xe1 0xf5 0x65 0x20 0x00 0x04 0x01 0x30 0x01 0x59 0x5a 0x5a
mc_enable 0x20
`,
  );
  const child = spawn('ipmi_sim', ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'cmds.emu'), '-s', join(dir, 'state'), '-n'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  stopOnExit(t, child, dir);
  await waitReady(port, { cipherSuite: 3 }, child, () => log.slice(-500));
  return { port, dir, target: (extra = {}) => ({ host: '127.0.0.1', port, user: USER, password: PASSWORD, cipherSuite: 3, ...extra }) };
}

/** The python3 that can import pyghmi (pyenv shims may hide the system one), or undefined. */
export function pyghmiPython(): string | undefined {
  for (const python of ['python3', '/usr/bin/python3']) {
    if (spawnSync(python, ['-c', 'import pyghmi.cmd.fakebmc'], { stdio: 'ignore' }).status === 0) return python;
  }
  return undefined;
}

export function havePyghmi(t: TestContext): boolean {
  return requireCondition(t, pyghmiPython() !== undefined, 'python3-pyghmi (pyghmi.cmd.fakebmc) is not importable');
}

/** Starts pyghmi's fakebmc (admin/password) on a free port. */
export async function startFakeBmc(t: TestContext): Promise<Peer> {
  const python = pyghmiPython();
  if (!python) throw new Error('pyghmi is not installed');
  const port = await freeUdpPort();
  const child = spawn(python, ['-m', 'pyghmi.cmd.fakebmc', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  stopOnExit(t, child);
  await waitReady(port, {}, child, () => log.slice(-500));
  return { port, target: (extra = {}) => ({ host: '127.0.0.1', port, user: USER, password: PASSWORD, ...extra }) };
}
