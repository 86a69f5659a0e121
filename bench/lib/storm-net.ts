// The private network of the boot storm: two network namespaces joined by a veth pair, the
// server's ("srv": anvil and nginx) and the clients' ("cli": every simulated machine). Only
// these two ends exist, so nothing the bench sends can leave the machine. Needs root.
//
// Why routed client addresses: on one real LAN the server would hold an ARP entry per
// machine, and the kernel's neighbour table is shared by every namespace of the host with
// gc_thresh3 = 1024 entries by default: a thousand machines plus whatever else runs here
// would overflow it and drop packets ("neighbor table overflow"), which measures the host's
// sysctls, not anvil. So the DHCP range sits in SUBNET.128.0/17, routed in the server's
// namespace via the clients' own address (one ARP entry), and every leasable address is
// added as a /32 to the clients' end: a client sends from the address its ACK gave it and
// anvil sees that address, as on a LAN. The DHCP exchange itself is real broadcast on the link.
//
// Why capped TCP buffers: the host lets a socket's buffers grow to 32 MiB, and a thousand
// connections whose reader lags (one client process on a busy machine) push the host's TCP
// memory (tcp_mem, shared by every namespace) into pressure, where the kernel prunes receive
// queues: the first full run saw 68,000 retransmitted segments and transfers crawling at a
// few KB/s for minutes. That measures the host, and slows every other test on it. So each
// socket here keeps at most TCP_BUFFER_MAX_BYTES (tcp_rmem/tcp_wmem are per namespace): a
// thousand connections stay within 256 MiB, and anvil and nginx get the same limits.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { numberToIp, ipToNumber } from '../../src/protocols/dhcp/index.ts';

/** The most a socket may buffer, each way, in both namespaces (a firmware's TCP window is small too). */
export const TCP_BUFFER_MAX_BYTES = 256 * 1024;

export interface StormNetworkOptions {
  /** Addresses the DHCP range must hold (one per client). */
  readonly leases: number;
}

export class StormNetwork {
  readonly server: string;
  readonly clients: string;
  /** anvil's address, on the server end (SUBNET.0.1/16). */
  readonly serverAddress: string;
  /** The clients' end's own address, the server's gateway to the leased addresses. */
  readonly clientAddress: string;
  readonly serverInterface = 'storm0';
  readonly clientInterface = 'storm1';
  readonly rangeStart: string;
  readonly rangeEnd: string;
  #destroyed = false;

  private constructor(prefix: string, subnet: string, leases: number) {
    this.server = `${prefix}-srv`;
    this.clients = `${prefix}-cli`;
    this.serverAddress = `${subnet}.0.1`;
    this.clientAddress = `${subnet}.0.2`;
    this.rangeStart = `${subnet}.128.1`;
    this.rangeEnd = numberToIp(ipToNumber(this.rangeStart) + leases - 1);
  }

  /** Creates both namespaces and the link; on any failure, removes what it made. */
  static create(opts: StormNetworkOptions): StormNetwork {
    if (opts.leases < 1 || opts.leases > 32_000) throw new Error(`the DHCP range holds 1 to 32000 leases, not ${opts.leases}`);
    // Distinct per run so logs and `ip netns` listings say whose namespaces these are.
    const net = new StormNetwork(`anvil-storm-${process.pid}`, `10.${200 + (process.pid % 50)}`, opts.leases);
    try {
      net.#setUp(opts.leases);
    } catch (error) {
      net.destroy();
      throw error;
    }
    return net;
  }

  #setUp(leases: number): void {
    const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    ip('netns', 'add', this.server);
    ip('netns', 'add', this.clients);
    ip('-n', this.server, 'link', 'add', this.serverInterface, 'type', 'veth', 'peer', 'name', this.clientInterface, 'netns', this.clients);
    for (const [ns, dev, address] of [
      [this.server, this.serverInterface, this.serverAddress],
      [this.clients, this.clientInterface, this.clientAddress],
    ] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'addr', 'add', `${address}/16`, 'dev', dev);
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    for (const ns of [this.server, this.clients]) {
      for (const key of ['net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem']) {
        execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `${key}=4096 16384 ${TCP_BUFFER_MAX_BYTES}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      }
    }
    const half = `${this.rangeStart.split('.').slice(0, 2).join('.')}.128.0/17`;
    ip('-n', this.server, 'route', 'add', half, 'via', this.clientAddress, 'dev', this.serverInterface);
    // The clients broadcast to 255.255.255.255, which needs a route out of their end.
    ip('-n', this.clients, 'route', 'add', 'default', 'dev', this.clientInterface);
    const start = ipToNumber(this.rangeStart);
    const batch = Array.from({ length: leases }, (_, i) => `addr add ${numberToIp(start + i)}/32 dev ${this.clientInterface}\n`).join('');
    execFileSync('ip', ['-n', this.clients, '-batch', '-'], { input: batch, stdio: ['pipe', 'ignore', 'pipe'] });
  }

  /** Starts a process inside a namespace (`ip netns exec` execs, so the pid is the process's own). */
  spawn(namespace: string, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', namespace, command, ...args], options);
  }

  /** Runs a command inside a namespace and returns its output. */
  exec(namespace: string, command: string, args: readonly string[]): string {
    return execFileSync('ip', ['netns', 'exec', namespace, command, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /**
   * A namespace's counters (/proc/net/snmp and /proc/net/netstat are per namespace) as
   * 'Udp.RcvbufErrors', 'TcpExt.ListenOverflows', …: drops that explain a slow step.
   */
  counters(namespace: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const file of ['/proc/net/snmp', '/proc/net/netstat']) {
      const lines = this.exec(namespace, 'cat', [file]).split('\n');
      // Each group is a line of names, then a line of values, both starting with 'Group:'.
      for (let i = 0; i + 1 < lines.length; i += 2) {
        const [group, ...names] = lines[i]!.split(/\s+/);
        const values = lines[i + 1]!.split(/\s+/).slice(1).map(Number);
        names.forEach((n, k) => (out[`${group!.replace(/:$/, '')}.${n}`] = values[k] ?? 0));
      }
    }
    return out;
  }

  /**
   * Kills every process still inside the namespaces, by pid (`ip netns del` would leave them
   * running), then deletes the namespaces. Synchronous, so it also runs from an exit hook.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const ns of [this.clients, this.server]) {
      try {
        const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
          .split(/\s+/)
          .filter(Boolean);
        for (const pid of pids) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // gone already
          }
        }
      } catch {
        // never created
      }
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // never created, or deleted already
      }
    }
  }
}
