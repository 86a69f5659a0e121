// What a machine's loader gets, as text: iPXE scripts made from a profile (an iPXE profile as
// it is; a pxelinux profile translated), local boot, and the "unknown machine" script. Pure:
// no I/O, so every translation is unit-tested.
import { artifactUrl, bootScriptUrl } from './urls.ts';

export type ProfileFlavour = 'ipxe' | 'pxelinux' | 'grub';

/** iPXE scripts start with #!ipxe; GRUB configs use menuentry/linux; the rest is pxelinux. */
export function flavourOf(rendered: string): ProfileFlavour {
  if (/^\s*#!ipxe/i.test(rendered)) return 'ipxe';
  if (/^\s*(menuentry|linux(efi)?|set\s+(default|timeout)=)\b/m.test(rendered) && !/^\s*(KERNEL|LABEL|LOCALBOOT)\b/im.test(rendered)) return 'grub';
  return 'pxelinux';
}

export interface PxelinuxEntry {
  readonly label: string;
  readonly kernel: string | undefined;
  readonly initrds: string[];
  readonly append: string;
  /** LOCALBOOT n, when the entry boots the local disk. */
  readonly localboot: number | undefined;
}

/** The entry pxelinux would boot: the DEFAULT label's (or the first, or the top-level lines). */
export function parsePxelinux(text: string): PxelinuxEntry | undefined {
  interface Draft {
    label: string;
    kernel?: string;
    initrds: string[];
    append: string;
    localboot?: number;
  }
  const entries: Draft[] = [];
  const top: Draft = { label: '', initrds: [], append: '' };
  let current = top;
  let defaultLabel: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [keyword = '', ...rest] = line.split(/\s+/);
    const value = rest.join(' ');
    switch (keyword.toUpperCase()) {
      case 'DEFAULT':
        defaultLabel = value.split(/\s+/)[0];
        break;
      case 'LABEL':
        current = { label: value, initrds: [], append: '' };
        entries.push(current);
        break;
      case 'KERNEL':
      case 'LINUX':
        current.kernel = value.split(/\s+/)[0];
        break;
      case 'INITRD':
        current.initrds.push(
          ...value
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        );
        break;
      case 'APPEND':
        current.append = value;
        break;
      case 'LOCALBOOT':
        current.localboot = Number.parseInt(value || '0', 10) || 0;
        break;
      default:
        break;
    }
  }
  const chosen = entries.find((e) => e.label === defaultLabel) ?? (top.kernel || top.localboot !== undefined ? top : entries[0]);
  if (!chosen) return undefined;
  // initrd= in APPEND names initrds too (the usual pxelinux style); iPXE wants them as commands.
  const initrds = [...chosen.initrds];
  const append = chosen.append
    .split(/\s+/)
    .filter((arg) => {
      const m = /^initrd=(.+)$/.exec(arg);
      if (m) initrds.push(...m[1]!.split(','));
      return arg !== '' && !m;
    })
    .join(' ');
  return { label: chosen.label, kernel: chosen.kernel, initrds, append, localboot: chosen.localboot };
}

/** Boots the local disk: sanboot on BIOS, exit back to the firmware's boot order on UEFI. */
export function localBootScript(name: string): string {
  return [
    '#!ipxe',
    `echo anvil: ${name} boots from its local disk`,
    'iseq ${platform} efi && exit 0 ||',
    'sanboot --no-describe --drive 0x80 || exit 1',
    '',
  ].join('\n');
}

/** The iPXE script for a rendered profile. */
export function toIpxe(rendered: string, name: string, server: string): string {
  const flavour = flavourOf(rendered);
  if (flavour === 'ipxe') return rendered;
  if (flavour === 'grub') {
    return [
      '#!ipxe',
      `echo anvil: ${name}'s profile is a GRUB configuration, which iPXE cannot run; fetch grub.cfg-01-<mac> over TFTP instead`,
      'prompt --timeout 10000 Press a key to retry || ',
      'reboot',
      '',
    ].join('\n');
  }
  const entry = parsePxelinux(rendered);
  if (!entry || (entry.localboot === undefined && !entry.kernel)) return localBootScript(name);
  if (entry.localboot !== undefined) return localBootScript(name);
  // An EFI-stub kernel finds its initrds by the names on its command line (iPXE names each
  // image after its URL's last segment); BIOS kernels ignore the argument.
  const initrdArgs = entry.initrds.map((i) => `initrd=${i.split('/').pop()}`);
  const args = [...initrdArgs, entry.append].filter(Boolean).join(' ');
  return [
    '#!ipxe',
    `echo anvil: booting ${name}${entry.label ? ` (${entry.label})` : ''}`,
    `kernel ${artifactUrl(entry.kernel!, server)}${args ? ` ${args}` : ''}`,
    ...entry.initrds.map((i) => `initrd ${artifactUrl(i, server)}`),
    'boot',
    '',
  ].join('\n');
}

/** Shown to a machine anvil does not know; it retries so enrolment takes effect without a power cycle. */
export function unknownMachineScript(mac: string, server: string, retrySeconds: number): string {
  return [
    '#!ipxe',
    `echo anvil: no machine has MAC ${mac}; it is listed as discovered.`,
    `echo Enroll it with: pxemngr addsystem NAME ${mac}   (or on the fleet page)`,
    `echo Retrying in ${retrySeconds} s...`,
    `sleep ${retrySeconds}`,
    `chain --replace ${bootScriptUrl(server, mac)}?arch=\${buildarch}&platform=\${platform} || reboot`,
    '',
  ].join('\n');
}

/** Boots anvil's deploy agent (its kernel and initrd, as paths of the TFTP root or URLs). */
export function agentIpxeScript(name: string, agent: { kernel: string; initrd: string }, args: string, server: string): string {
  const initrdName = agent.initrd.split('/').pop();
  return [
    '#!ipxe',
    `echo anvil: ${name} boots the deploy agent`,
    `kernel ${artifactUrl(agent.kernel, server)} initrd=${initrdName} ${args}`,
    `initrd ${artifactUrl(agent.initrd, server)}`,
    'boot',
    '',
  ].join('\n');
}
