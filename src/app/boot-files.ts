// The boot service behind the TFTP server, and the TFTP root behind the boot service: the
// adapters between src/boot (which knows machines, not sockets) and src/protocols/tftp (which
// knows files, not machines). pxelinux asks for pxelinux.cfg/01-<mac>, then its address in
// hex, then `default`; GRUB for grub.cfg-01-<mac>.
import {
  ChainHandler,
  RootDirectoryHandler,
  StaticFilesHandler,
  TftpAccessDeniedError,
  bufferFile,
  type TftpClient,
  type TftpFile,
  type TftpFileHandler,
} from '../protocols/tftp/index.ts';
import { invalid } from '../common/errors.ts';
import type { BootFiles, BootService } from '../boot/boot-service.ts';
import { plainAddress, type AddressResolver } from '../boot/resolver.ts';
import { parseMac } from '../machines/mac.ts';

const PXELINUX_MAC = /^pxelinux\.cfg\/01-((?:[0-9a-f]{2}-){5}[0-9a-f]{2})$/i;
const PXELINUX_HEX_IP = /^pxelinux\.cfg\/([0-9A-F]{1,8})$/;
const GRUB_MAC = /^(?:grub\/)?grub\.cfg-01-((?:[0-9a-f]{2}-){5}[0-9a-f]{2})$/i;

/** Per-machine boot configurations over TFTP; knows no other file. */
export class BootConfigHandler implements TftpFileHandler {
  readonly #boot: BootService;
  readonly #resolver: AddressResolver;
  readonly #server: () => string;

  constructor(boot: BootService, resolver: AddressResolver, server: () => string) {
    this.#boot = boot;
    this.#resolver = resolver;
    this.#server = server;
  }

  async open(rawPath: string, client: TftpClient): Promise<TftpFile | undefined> {
    const path = rawPath.replace(/^\/+/, '');
    const address = plainAddress(client.address);
    const server = this.#server();
    const byMac = PXELINUX_MAC.exec(path) ?? GRUB_MAC.exec(path);
    const loader = path.startsWith('pxelinux') ? 'pxelinux' : 'GRUB';
    let text: string | undefined;
    if (byMac) {
      text = await this.#boot.loaderConfig({ mac: parseMac(byMac[1]!)!, loader, address, server });
    } else if (PXELINUX_HEX_IP.test(path)) {
      // Only the full address names one machine; shorter prefixes are subnets, as in pxemngr.
      const hex = PXELINUX_HEX_IP.exec(path)![1]!;
      if (hex.length !== 8) return undefined;
      const mac = await this.#resolver.macOf(
        hex
          .match(/../g)!
          .map((b) => Number.parseInt(b, 16))
          .join('.'),
      );
      if (mac) text = await this.#boot.loaderConfig({ mac, loader, address, server, discover: false });
    } else if (path === 'pxelinux.cfg/default') {
      text = await this.#boot.defaultConfig(server);
    }
    return text === undefined ? undefined : bufferFile(text);
  }
}

/** The TFTP root as a jail, then the boot loaders from Debian's packages. */
export function staticBootFiles(tftpRoot: string): TftpFileHandler {
  return new ChainHandler([new RootDirectoryHandler(tftpRoot), new StaticFilesHandler()]);
}

/** Everything the TFTP server serves. */
export function tftpBootFiles(boot: BootService, resolver: AddressResolver, server: () => string, tftpRoot: string): TftpFileHandler {
  return new ChainHandler([new BootConfigHandler(boot, resolver, server), staticBootFiles(tftpRoot)]);
}

/** The same files for the boot service's HTTP artifacts: a path outside the jail is a clear 400. */
export function httpBootFiles(tftpRoot: string): BootFiles {
  const files = staticBootFiles(tftpRoot);
  return {
    root: tftpRoot,
    async open(path, address) {
      try {
        return await files.open(path, { address, port: 0 });
      } catch (error) {
        if (error instanceof TftpAccessDeniedError) throw invalid('PATH_REFUSED', `refused path '${path}': ${error.message}`);
        throw error;
      }
    },
  };
}
