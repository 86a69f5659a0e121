// The files machines fetch while booting, for the TFTP server and HTTP: pxelinux.cfg/01-<mac>
// (then the hex-IP and `default` names pxelinux tries) and grub.cfg-01-<mac>, rendered from the
// machine's next-boot profile when asked — no files written — plus the TFTP root and the boot
// loaders Debian installs.
import {
  ChainHandler,
  RootDirectoryHandler,
  StaticFilesHandler,
  bufferFile,
  type TftpClient,
  type TftpFile,
  type TftpFileHandler,
} from '../protocols/tftp/index.ts';
import type { Machine } from '../store/schema.ts';
import type { Machines } from './machines.ts';
import type { Profiles } from './profiles.ts';
import type { AddressResolver } from './resolver.ts';
import { parseMac } from './mac.ts';
import { plainAddress } from './resolver.ts';

export interface RenderContext {
  readonly machines: Machines;
  readonly profiles: Profiles;
  readonly resolver: AddressResolver;
  /** The HTTP base URL profiles see as {{ server }}. */
  readonly server: () => string;
}

/** The variables every profile is rendered with. */
export function profileVariables(
  machine: Pick<Machine, 'name'> | undefined,
  mac: string | undefined,
  profile: string,
  server: string,
): Record<string, unknown> {
  return { system: machine?.name ?? 'unknown', mac: mac ?? '', profile, server };
}

const PXELINUX_MAC = /^pxelinux\.cfg\/01-((?:[0-9a-f]{2}-){5}[0-9a-f]{2})$/i;
const PXELINUX_HEX_IP = /^pxelinux\.cfg\/([0-9A-F]{1,8})$/;
const GRUB_MAC = /^(?:grub\/)?grub\.cfg-01-((?:[0-9a-f]{2}-){5}[0-9a-f]{2})$/i;

/** Renders per-machine boot configurations; knows nothing of any other file. */
export class RenderedConfigHandler implements TftpFileHandler {
  readonly #ctx: RenderContext;

  constructor(ctx: RenderContext) {
    this.#ctx = ctx;
  }

  async open(rawPath: string, client: TftpClient): Promise<TftpFile | undefined> {
    const path = rawPath.replace(/^\/+/, '');
    const macMatch = PXELINUX_MAC.exec(path) ?? GRUB_MAC.exec(path);
    const loader = path.startsWith('pxelinux') ? 'pxelinux' : 'GRUB';
    const address = plainAddress(client.address);
    if (macMatch) {
      const mac = parseMac(macMatch[1]!)!;
      const machine = await this.#ctx.machines.byMac(mac);
      if (!machine) {
        // pxelinux goes on to the hex-IP names and `default`; remember who asked.
        await this.#ctx.machines.discover(mac, { loader, address });
        return undefined;
      }
      return this.#render(machine, mac, loader, address);
    }
    if (PXELINUX_HEX_IP.test(path)) {
      // Only the full address names one machine; shorter prefixes are subnets, as in pxemngr.
      const hex = PXELINUX_HEX_IP.exec(path)![1]!;
      if (hex.length !== 8) return undefined;
      const ip = hex
        .match(/../g)!
        .map((b) => Number.parseInt(b, 16))
        .join('.');
      const mac = await this.#ctx.resolver.macOf(ip);
      const machine = mac ? await this.#ctx.machines.byMac(mac) : undefined;
      return machine ? this.#render(machine, mac, loader, address) : undefined;
    }
    if (path === 'pxelinux.cfg/default') {
      const profile = await this.#ctx.machines.defaultProfile();
      return bufferFile(await this.#ctx.profiles.render(profile, profileVariables(undefined, undefined, profile, this.#ctx.server())));
    }
    return undefined;
  }

  async #render(machine: Machine, mac: string | undefined, loader: string, address: string): Promise<TftpFile> {
    const { profile } = await this.#ctx.machines.serveBoot(machine, { loader, address });
    return bufferFile(await this.#ctx.profiles.render(profile, profileVariables(machine, mac, profile, this.#ctx.server())));
  }
}

/** The TFTP root as a jail, then the boot loaders from Debian's packages. */
export function staticBootFiles(tftpRoot: string): TftpFileHandler {
  return new ChainHandler([new RootDirectoryHandler(tftpRoot), new StaticFilesHandler()]);
}

/** Everything the TFTP server serves. */
export function tftpBootFiles(ctx: RenderContext, tftpRoot: string): TftpFileHandler {
  return new ChainHandler([new RenderedConfigHandler(ctx), staticBootFiles(tftpRoot)]);
}
