// Boots a VM for the deploy agent's tests and bench: QEMU under TCG with the serial console on
// stdout, a virtio disk, and QEMU's user network isolated (restrict=on) but for one guest
// address, GUEST_SERVER:80, that slirp relays to a server on the host's loopback (guestfwd with
// src/lab/demo/guest-relay.ts, one relay process per connection, as the demo lab does). The
// guest boots either a kernel directly (-kernel/-initrd/-append: the agent) or its disk.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { escapeOptionValue } from '../../src/lab/qemu-args.ts';
import { QEMU, Vm } from './qemu.ts';

export const AGENT_DIR = fileURLToPath(new URL('../../.tools/anvil-agent/', import.meta.url));
export const TINY_LINUX_DIR = fileURLToPath(new URL('../../.tools/tiny-linux/', import.meta.url));
/** Where the guest reaches the host's server: an address in slirp's 10.0.2.0/24, port 80. */
export const GUEST_SERVER = '10.0.2.100';
const RELAY = fileURLToPath(new URL('../../src/lab/demo/guest-relay.ts', import.meta.url));
export const DEFAULT_AGENT_VM_MEMORY_MB = 384;

/** A word for the shell-like parsing slirp applies to a guestfwd command (GLib's g_shell_parse_argv). */
function shellWord(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The -netdev of an isolated user network whose GUEST_SERVER:80 is the host's 127.0.0.1:port,
 * and with sshPort, the host's 127.0.0.1:sshPort the guest's port 22.
 */
export function relayNetdev(port: number, sshPort?: number): string {
  const relay = [process.execPath, '--disable-warning=ExperimentalWarning', RELAY, '127.0.0.1', String(port)].map(shellWord).join(' ');
  const forward = sshPort === undefined ? [] : [`hostfwd=tcp:127.0.0.1:${sshPort}-:22`];
  return ['user', 'id=n0', 'restrict=on', `guestfwd=tcp:${GUEST_SERVER}:80-cmd:${relay}`, ...forward].map(escapeOptionValue).join(',');
}

export interface RelayVmOptions {
  /** The host port GUEST_SERVER:80 leads to. */
  readonly port: number;
  readonly disk: string;
  /** Boot this kernel (with initrd and append) instead of the disk. */
  readonly kernel?: { readonly dir: string; readonly append: string };
  /** Discard the guest's writes to the disk (QEMU's snapshot=on). */
  readonly snapshot?: boolean;
  readonly mac?: string;
  /** The host's 127.0.0.1:sshPort leads to the guest's port 22. */
  readonly sshPort?: number;
  readonly memoryMb?: number;
  /** QEMU exits instead of rebooting when the guest reboots. */
  readonly noReboot?: boolean;
  /** A pipe to the serial console's input (the bench types into the agent's shell). */
  readonly stdin?: boolean;
  readonly extraArgs?: readonly string[];
}

/** Starts the VM; it is killed after the test (or by the caller, without one), its temp dir removed when it exits. */
export function bootRelayVm(t: TestContext | undefined, options: RelayVmOptions): Vm {
  const dir = mkdtempSync(join(tmpdir(), 'anvil-agent-vm-'));
  const mac = options.mac ?? '52:54:00:a6:00:01';
  const boot = options.kernel
    ? ['-kernel', join(options.kernel.dir, 'vmlinuz'), '-initrd', join(options.kernel.dir, 'initrd.gz'), '-append', options.kernel.append]
    : ['-boot', 'c'];
  const args = [
    '-accel',
    'tcg',
    '-m',
    String(options.memoryMb ?? DEFAULT_AGENT_VM_MEMORY_MB),
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    ...(options.noReboot ? ['-no-reboot'] : []),
    '-drive',
    `file=${escapeOptionValue(options.disk)},if=virtio,format=raw,cache=writeback${options.snapshot ? ',snapshot=on' : ''}`,
    '-netdev',
    relayNetdev(options.port, options.sshPort),
    // No option ROM: nothing boots from the network here.
    '-device',
    `virtio-net-pci,netdev=n0,mac=${mac},romfile=`,
    ...boot,
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(QEMU, args, { stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const vm = new Vm(mac, child, join(dir, 'serial.log'));
  // ANVIL_KEEP_VM_LOGS=1 keeps the serial log (a failed waitFor() carries the console's tail).
  child.once('exit', () => {
    if (process.env.ANVIL_KEEP_VM_LOGS !== '1') rmSync(dir, { recursive: true, force: true });
  });
  t?.after(() => vm.kill());
  return vm;
}

/** The agent's kernel command line. */
export function agentAppend(token: string, extra = ''): string {
  return `console=ttyS0 quiet no_timer_check anvil.agent=1 anvil.server=${GUEST_SERVER} anvil.token=${token} ${extra}`.trim();
}
