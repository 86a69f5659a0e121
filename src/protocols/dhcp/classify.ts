// Who is asking: a plain DHCP client, a PXE or UEFI HTTP boot firmware, or iPXE — and for
// which architecture. Then the boot-file policy: which loader a firmware gets, and when a
// client that already runs iPXE gets the HTTP script URL instead (so chainloading never
// loops). Pure: the decision depends on the packet and the policy only.
import { packetMac, type DhcpPacket } from './codec.ts';
import { ARCH, IPXE_SUBOPTION, OPTION } from './constants.ts';
import { getClientArchs, getClientNdi, getClientUuid, getIpxeSubOptions, getString, getU8, getUserClasses, type ClientNdi } from './options.ts';

/** The firmware families a boot file is chosen for. */
export type Firmware = 'bios' | 'efi-ia32' | 'efi-x64' | 'efi-arm32' | 'efi-arm64' | 'other';

/** Option 60 prefixes of netboot firmware (PXE spec 2.1 §2.2; UEFI 2.5+ §24.7 HTTP boot). */
export const VENDOR_CLASS_PXE = 'PXEClient';
export const VENDOR_CLASS_HTTP = 'HTTPClient';
/** The user class iPXE sends (ipxe.org/cfg/user-class). */
export const USER_CLASS_IPXE = 'iPXE';
/** The user class anvil's embedded iPXE script sets (`set user-class anvil`). */
export const DEFAULT_ANVIL_USER_CLASS = 'anvil';

export interface ClientInfo {
  readonly mac: string;
  /** Option 53, or undefined for a BOOTP-style message without one. */
  readonly messageType: number | undefined;
  readonly vendorClass: string | undefined;
  /** True for firmware asking to boot from the network (PXE or UEFI HTTP boot). */
  readonly netboot: boolean;
  /** Option 60 starts with HTTPClient: the firmware wants an http:// URL, not a TFTP name. */
  readonly httpBoot: boolean;
  /** The first (preferred) option 93 value, else the Arch field of option 60, else undefined. */
  readonly arch: number | undefined;
  readonly firmware: Firmware | undefined;
  readonly ndi: ClientNdi | undefined;
  readonly uuid: string | undefined;
  readonly userClasses: readonly string[];
  /** The client already runs iPXE (user class iPXE or anvil's, or option 175 present). */
  readonly ipxe: boolean;
  /** The client runs iPXE with anvil's embedded script (its custom user class). */
  readonly anvilIpxe: boolean;
  /** iPXE announced HTTP support in option 175 (sub-option 0x13). */
  readonly ipxeHttp: boolean;
}

export function firmwareOf(arch: number): Firmware {
  switch (arch) {
    case ARCH.BIOS:
    case ARCH.BIOS_HTTP:
      return 'bios';
    case ARCH.EFI_IA32:
    case ARCH.EFI_X86_HTTP:
      return 'efi-ia32';
    // RFC 4578 swapped 7 and 9 with respect to the IANA registry; firmware uses both for x64.
    case ARCH.EFI_X64:
    case ARCH.EFI_BC:
    case ARCH.EFI_X64_HTTP:
      return 'efi-x64';
    case ARCH.EFI_ARM32:
    case ARCH.EFI_ARM32_HTTP:
      return 'efi-arm32';
    case ARCH.EFI_ARM64:
    case ARCH.EFI_ARM64_HTTP:
      return 'efi-arm64';
    default:
      return 'other';
  }
}

/** `PXEClient:Arch:00007:UNDI:003016` → 7 (PXE spec 2.1 §2.2.2, option 60 format). */
function archFromVendorClass(vendorClass: string): number | undefined {
  const m = /^(?:PXEClient|HTTPClient):Arch:(\d{5})/.exec(vendorClass);
  return m === null ? undefined : Number(m[1]);
}

export interface ClassifyOptions {
  /** User classes that mean "iPXE with anvil's script"; default [DEFAULT_ANVIL_USER_CLASS]. */
  readonly anvilUserClasses?: readonly string[];
}

/** Classifies a client request. Throws DhcpDecodeError when a PXE option is malformed. */
export function classify(packet: DhcpPacket, opts: ClassifyOptions = {}): ClientInfo {
  const o = packet.options;
  const vendorClass = getString(o, OPTION.VENDOR_CLASS);
  const pxe = vendorClass?.startsWith(VENDOR_CLASS_PXE) ?? false;
  const httpBoot = vendorClass?.startsWith(VENDOR_CLASS_HTTP) ?? false;
  const archs = getClientArchs(o);
  const arch = archs?.[0] ?? (vendorClass === undefined ? undefined : archFromVendorClass(vendorClass));
  const userClasses = getUserClasses(o) ?? [];
  const anvilClasses = opts.anvilUserClasses ?? [DEFAULT_ANVIL_USER_CLASS];
  const anvilIpxe = userClasses.some((c) => anvilClasses.includes(c));
  const ipxeSubs = getIpxeSubOptions(o);
  const ipxe = anvilIpxe || userClasses.includes(USER_CLASS_IPXE) || ipxeSubs !== undefined;
  const httpFeature = ipxeSubs?.get(IPXE_SUBOPTION.FEATURE_HTTP);
  return {
    mac: packetMac(packet),
    messageType: getU8(o, OPTION.MESSAGE_TYPE),
    vendorClass,
    // Like pixiecore and Smee: the vendor class says "netboot", the architecture says what
    // to send. A PXE client without a known architecture cannot be given a loader.
    netboot: (pxe || httpBoot) && arch !== undefined,
    httpBoot,
    arch,
    firmware: arch === undefined ? undefined : firmwareOf(arch),
    ndi: getClientNdi(o),
    uuid: getClientUuid(o),
    userClasses,
    ipxe,
    anvilIpxe,
    ipxeHttp: httpFeature !== undefined && httpFeature.length > 0 && httpFeature[0] !== 0,
  };
}

/** Loader file names per firmware, relative to the TFTP root (Debian's `ipxe` package names). */
export interface BootFiles {
  readonly bios: string;
  readonly 'efi-x64': string;
  readonly 'efi-ia32'?: string;
  readonly 'efi-arm32'?: string;
  readonly 'efi-arm64'?: string;
}

/** Smee's and pixiecore's choices; Debian ships no IA32 or ARM iPXE in `ipxe`. */
export const DEFAULT_BOOT_FILES: BootFiles = {
  bios: 'undionly.kpxe',
  'efi-x64': 'ipxe.efi',
};

/** `snp.efi` for ARM64, when the site has an ARM64 iPXE build. */
export const ARM64_BOOT_FILE = 'snp.efi';

export interface BootPolicy {
  readonly files: BootFiles;
  /** The iPXE script URL for a machine, e.g. mac => `http://10.0.0.1:8080/boot/${mac}`. */
  readonly scriptUrl: (mac: string) => string;
  /** Base URL the loaders are served from over HTTP, for UEFI HTTP boot clients. */
  readonly httpBase?: string;
  /**
   * Only iPXE that runs anvil's embedded script gets the script URL; a plain iPXE (say, a
   * NIC's ROM) is chainloaded into anvil's iPXE first. Default false: any iPXE gets the URL.
   */
  readonly requireAnvilIpxe?: boolean;
}

export type BootDecision =
  | { readonly kind: 'script'; readonly url: string }
  | { readonly kind: 'loader'; readonly file: string; readonly firmware: Firmware }
  | { readonly kind: 'http-loader'; readonly url: string; readonly firmware: Firmware }
  | { readonly kind: 'none'; readonly reason: string };

/**
 * What a netbooting client gets. iPXE gets the script URL, which stops the loop "firmware →
 * iPXE → DHCP → iPXE again" (netboot-and-labs.md §2); firmware gets its loader.
 */
export function bootFileFor(client: ClientInfo, policy: BootPolicy): BootDecision {
  if (client.ipxe && (client.anvilIpxe || !policy.requireAnvilIpxe)) {
    return { kind: 'script', url: policy.scriptUrl(client.mac) };
  }
  if (!client.netboot || client.firmware === undefined) {
    return { kind: 'none', reason: 'not a PXE or HTTP boot client' };
  }
  const file = client.firmware === 'other' ? undefined : policy.files[client.firmware];
  if (file === undefined) {
    return { kind: 'none', reason: `no boot file for architecture ${client.arch} (${client.firmware})` };
  }
  if (client.httpBoot) {
    if (policy.httpBase === undefined) return { kind: 'none', reason: 'HTTP boot client but no httpBase configured' };
    return { kind: 'http-loader', url: `${policy.httpBase.replace(/\/$/, '')}/${file}`, firmware: client.firmware };
  }
  return { kind: 'loader', file, firmware: client.firmware };
}
