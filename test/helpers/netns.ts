// Private networks for tests that need real peers on a LAN: a network namespace with a
// bridge (br0), tap devices for QEMU on the bridge, an address on it, and optional "peer"
// namespaces joined to the bridge by veth pairs (another host on the same LAN, such as a
// site's DHCP server). Nothing inside can reach any other network. Needs root.
//
// Cleanup always runs: destroy() kills every process started with spawn() by its pid (they
// would outlive `ip netns del`), then deletes the namespaces. createNetns registers it
// with t.after, and a process 'exit' hook catches a test runner that dies first.
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';

const run = promisify(execFile);
const live = new Set<Netns>();
let counter = 0;

process.once('exit', () => {
  for (const ns of live) ns.destroySync();
});
// A runner that kills a test file (timeout, Ctrl-C) would otherwise leave VMs and namespaces.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    for (const ns of live) ns.destroySync();
    process.exit(128 + (signal === 'SIGTERM' ? 15 : 2));
  });
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * A /24 no other test file picks: namespaces are isolated anyway, but distinct subnets keep
 * captures and logs unambiguous. Derived from the pid and a per-process counter.
 */
export function uniqueSubnet(): string {
  const n = (process.pid * 7 + counter++) % (64 * 256);
  return `10.${128 + (n >> 8)}.${n & 255}`;
}

export interface NetnsOptions {
  /** A name prefix; the pid and a counter are appended. */
  readonly prefix?: string;
  /** The first three octets of the /24, e.g. '10.200.3'; default uniqueSubnet(). */
  readonly subnet?: string;
  /** Host part of the bridge address; default 1 (so br0 is SUBNET.1/24). */
  readonly host?: number;
  /** Tap devices to create on the bridge; default ['tap0']. */
  readonly taps?: readonly string[];
  /**
   * Add `default dev br0` (default true), so a server bound to 0.0.0.0 can send to
   * 255.255.255.255. false leaves only the subnet's route: a test of a server that picks its
   * interface itself, as on a host whose default route leaves by another interface.
   */
  readonly defaultRoute?: boolean;
}

export class Netns {
  readonly name: string;
  readonly subnet: string;
  readonly address: string;
  readonly broadcast: string;
  readonly bridge = 'br0';
  readonly taps: readonly string[];
  readonly peers: string[] = [];
  readonly #children = new Set<ChildProcess>();
  #destroyed = false;

  constructor(name: string, subnet: string, host: number, taps: readonly string[]) {
    this.name = name;
    this.subnet = subnet;
    this.address = `${subnet}.${host}`;
    this.broadcast = `${subnet}.255`;
    this.taps = taps;
  }

  /** Runs a command inside the namespace and waits for it; rejects on a non-zero exit. */
  async exec(command: string, args: readonly string[] = [], namespace = this.name): Promise<string> {
    const { stdout } = await run('ip', ['netns', 'exec', namespace, command, ...args]);
    return stdout;
  }

  /** Starts a long-running process inside the namespace; destroy() kills it by pid. */
  spawn(command: string, args: readonly string[], options: SpawnOptions = {}, namespace = this.name): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', namespace, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /**
   * Adds another namespace joined to the bridge by a veth pair, with address SUBNET.host/24:
   * a second host on the same LAN. Returns its name (pass it as `namespace` to exec/spawn).
   */
  async addPeer(host: number): Promise<string> {
    const peer = `${this.name}-p${this.peers.length}`;
    const outside = `vp${this.peers.length}`;
    await run('ip', ['netns', 'add', peer]);
    this.peers.push(peer);
    await this.exec('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer]);
    await this.exec('ip', ['link', 'set', outside, 'master', this.bridge, 'up']);
    await this.exec('ip', ['link', 'set', 'lo', 'up'], peer);
    await this.exec('ip', ['addr', 'add', `${this.subnet}.${host}/24`, 'brd', '+', 'dev', 'eth0'], peer);
    await this.exec('ip', ['link', 'set', 'eth0', 'up'], peer);
    // Broadcast replies to 255.255.255.255 need a route out of the LAN interface.
    await this.exec('ip', ['route', 'add', 'default', 'dev', 'eth0'], peer);
    return peer;
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    const children = [...this.#children];
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }),
    );
    this.destroySync();
  }

  /** Synchronous last resort (process exit): kill by pid, delete the namespaces. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    live.delete(this);
    for (const child of this.#children) {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const ns of [...this.peers, this.name]) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // never created, or already deleted
      }
    }
  }
}

/** Creates the namespace, bridge, taps and address; destroys them after the test. */
export async function createNetns(t: TestContext, opts: NetnsOptions = {}): Promise<Netns> {
  const name = `${opts.prefix ?? 'anvil'}-${process.pid}-${counter++}`;
  const ns = new Netns(name, opts.subnet ?? uniqueSubnet(), opts.host ?? 1, opts.taps ?? ['tap0']);
  live.add(ns);
  t.after(() => ns.destroy());
  await run('ip', ['netns', 'add', name]);
  await ns.exec('ip', ['link', 'set', 'lo', 'up']);
  await ns.exec('ip', ['link', 'add', ns.bridge, 'type', 'bridge']);
  // No STP forwarding delay: a DHCP client would otherwise shout into a blocked port.
  await ns.exec('ip', ['link', 'set', ns.bridge, 'type', 'bridge', 'forward_delay', '0']);
  for (const tap of ns.taps) {
    await ns.exec('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    await ns.exec('ip', ['link', 'set', tap, 'master', ns.bridge, 'up']);
  }
  await ns.exec('ip', ['addr', 'add', `${ns.address}/24`, 'brd', '+', 'dev', ns.bridge]);
  await ns.exec('ip', ['link', 'set', ns.bridge, 'up']);
  // Lets a server bound to 0.0.0.0 send to 255.255.255.255: the route says which interface.
  if (opts.defaultRoute ?? true) await ns.exec('ip', ['route', 'add', 'default', 'dev', ns.bridge]);
  return ns;
}
