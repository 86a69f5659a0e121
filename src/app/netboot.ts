// Starts the network boot services beside the HTTP server: TFTP (loaders, the TFTP root, and
// pxelinux/GRUB configurations rendered per machine) and DHCP (proxyDHCP beside the site's
// server, or a full server on an isolated provisioning network), asking the boot service for
// every answer that depends on the machine. Wired by start.ts.
import { networkInterfaces } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { TftpServer } from '../protocols/tftp/index.ts';
import { DhcpServer, DEFAULT_BOOT_FILES, bootTarget, type DhcpMode } from '../protocols/dhcp/index.ts';
import { DatabaseLeaseStore, importLeaseFile } from './database-leases.ts';
import { AnvilError, invalid } from '../common/errors.ts';
import { clipped } from '../common/format.ts';
import type { HostPort } from '../common/address.ts';
import type { Services } from './compose.ts';
import type { AddressResolver } from '../boot/resolver.ts';
import { artifactBase, bootScriptUrl } from '../boot/urls.ts';
import { tftpBootFiles } from './boot-files.ts';

export interface DhcpOptions {
  readonly mode: DhcpMode;
  /** The provisioning network's interface: its IPv4 address is the server address. */
  readonly interface: string;
  /** Server mode: the addresses handed out, 'A-B'. */
  readonly range?: string | undefined;
  /** Ports, for tests on unprivileged ports; default 67 (and 4011 in proxy mode). */
  readonly port?: number;
  readonly pxePort?: number | false;
  /**
   * What BIOS firmware loads: iPXE (undionly.kpxe, then the HTTP script) or pxelinux.0 (then
   * pxelinux.cfg/01-<mac> over TFTP). With pxelinux, iPXE in a NIC's ROM is treated as
   * firmware too, so it loads pxelinux instead of going straight to the script.
   */
  readonly loader?: 'ipxe' | 'pxelinux';
}

export interface NetbootOptions {
  readonly tftp?: HostPort | undefined;
  /** True when --tftp was not given: a failure to bind port 69 is then a warning, not fatal. */
  readonly tftpIsDefault?: boolean;
  readonly dhcp?: DhcpOptions | undefined;
  /** The HTTP port, for the iPXE script URL DHCP hands out. */
  readonly httpPort: number;
  /** The base URL machines reach anvil's HTTP at, when configured (wins over the interface's address). */
  readonly publicUrl?: string | undefined;
}

export interface Netboot {
  readonly tftp: TftpServer | undefined;
  readonly dhcp: DhcpServer | undefined;
  close(): Promise<void>;
}

/** The IPv4 address and netmask of an interface, or a clear error listing the interfaces. */
export function interfaceAddress(name: string): { address: string; netmask: string } {
  const all = networkInterfaces();
  const v4 = all[name]?.find((a) => a.family === 'IPv4') ?? addressFromIp(name);
  if (!v4) {
    throw invalid(
      'UNKNOWN_INTERFACE',
      `interface '${name}' has no IPv4 address; interfaces: ${Object.entries(all)
        .filter(([, as]) => as?.some((a) => a.family === 'IPv4'))
        .map(([n]) => n)
        .join(', ')}`,
    );
  }
  return { address: v4.address, netmask: v4.netmask };
}

/**
 * Node lists only interfaces that are up with carrier, but a provisioning bridge has none until
 * the first machine's link comes up; iproute2 reports the configured address regardless.
 */
function addressFromIp(name: string): { address: string; netmask: string } | undefined {
  try {
    const out = execFileSync('ip', ['-j', '-4', 'addr', 'show', 'dev', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const info = (JSON.parse(out) as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>)[0]?.addr_info?.[0];
    if (!info) return undefined;
    const mask = info.prefixlen === 0 ? 0 : (0xffffffff << (32 - info.prefixlen)) >>> 0;
    return { address: info.local, netmask: [24, 16, 8, 0].map((s) => (mask >>> s) & 255).join('.') };
  } catch {
    return undefined;
  }
}

export async function startNetboot(
  services: Pick<Services, 'boot' | 'paths' | 'store'>,
  resolver: AddressResolver,
  options: NetbootOptions,
  log: FastifyBaseLogger,
): Promise<Netboot> {
  let tftp: TftpServer | undefined;
  let dhcp: DhcpServer | undefined;
  let serverAddress = '127.0.0.1';
  if (options.dhcp) serverAddress = interfaceAddress(options.dhcp.interface).address;
  const httpBase = () => options.publicUrl?.replace(/\/$/, '') ?? `http://${serverAddress}:${options.httpPort}`;

  if (options.tftp) {
    const handler = tftpBootFiles(services.boot, resolver, httpBase, services.paths.tftpRoot);
    tftp = new TftpServer({
      handler,
      host: options.tftp.host,
      port: options.tftp.port,
      onEvent: (event) => {
        if (event.type === 'transfer-end')
          log.info({ tftp: clipped(event.path), client: event.client.address, outcome: event.outcome, bytes: event.bytes }, 'tftp transfer');
        else if (event.type === 'request-refused') log.info({ tftp: clipped(event.path), client: event.client.address, error: event.message }, 'tftp refused');
        else if (event.type === 'handler-error') log.error({ tftp: clipped(event.path), err: event.error }, 'tftp file failed');
      },
    });
    try {
      const bound = await tftp.listen();
      log.info({ tftp: `${bound.address}:${bound.port}`, engine: tftp.engine }, 'tftp listening');
    } catch (error) {
      tftp = undefined;
      if (!options.tftpIsDefault) throw new AnvilError('TFTP_BIND', 'unavailable', (error as Error).message, { cause: error });
      log.warn(`TFTP is off: ${(error as Error).message}`);
    }
  }

  if (options.dhcp) {
    const { address, netmask } = interfaceAddress(options.dhcp.interface);
    let pool;
    if (options.dhcp.mode === 'server') {
      const m = /^\s*(\d+\.\d+\.\d+\.\d+)\s*-\s*(\d+\.\d+\.\d+\.\d+)\s*$/.exec(options.dhcp.range ?? '');
      if (!m)
        throw invalid(
          'DHCP_RANGE',
          `--dhcp server needs --dhcp-range FIRST-LAST on ${options.dhcp.interface}'s network (e.g. --dhcp-range 10.9.0.100-10.9.0.199)`,
        );
      pool = { start: m[1]!, end: m[2]!, subnetMask: netmask, routers: [] };
    }
    // Leases live in the database (any process sharing it answers for any of them); a
    // dhcp/leases.json from before is imported once and renamed aside.
    const store = new DatabaseLeaseStore(services.store);
    const file = join(services.paths.data, 'dhcp', 'leases.json');
    const imported = await importLeaseFile(store, file);
    if (imported)
      log.info(
        { imported: imported.imported, skipped: imported.skipped, movedTo: imported.movedTo },
        `imported ${imported.imported} DHCP lease(s) from ${file} into the database (${imported.skipped} already there); the file is now ${imported.movedTo} and no longer read`,
      );
    dhcp = new DhcpServer({
      mode: options.dhcp.mode,
      serverAddress: address,
      ...(pool ? { pool } : {}),
      store,
      boot: {
        files: options.dhcp.loader === 'pxelinux' ? { ...DEFAULT_BOOT_FILES, bios: 'pxelinux.0' } : DEFAULT_BOOT_FILES,
        scriptUrl: (mac) => bootScriptUrl(httpBase(), mac),
        httpBase: artifactBase(httpBase()),
        requireAnvilIpxe: options.dhcp.loader === 'pxelinux',
      },
      ...(options.dhcp.port !== undefined ? { port: options.dhcp.port } : {}),
      ...(options.dhcp.pxePort !== undefined ? { pxePort: options.dhcp.pxePort } : {}),
    });
    dhcp.on('reply', (r) =>
      log.info(
        {
          dhcp: r.request,
          reply: r.reply,
          mac: r.mac,
          address: r.address,
          boot: bootTarget(r.boot) ?? r.boot.kind,
          ...(r.boot.kind === 'http-loader' ? { httpBoot: true } : {}),
        },
        'dhcp reply',
      ),
    );
    dhcp.on('error', (error) => log.error({ err: error }, 'dhcp error'));
    await dhcp.start();
    const server = dhcp;
    resolver.prepend({ name: 'DHCP lease table', macOf: (ip) => server.macByAddress(ip) });
    log.info({ dhcp: options.dhcp.mode, interface: options.dhcp.interface, address }, 'dhcp listening');
  }

  return {
    tftp,
    dhcp,
    close: async () => {
      await tftp?.close();
      await dhcp?.stop();
    },
  };
}
