// The network a lab VM reaches anvil on: QEMU's user-mode network (slirp) with restrict=on, so
// nothing leaves the VM, but for one guest address, GUEST_ANVIL:80, which slirp hands to a relay
// process per connection (guestfwd=…-cmd:, demo/guest-relay.ts). Its DHCP names anvil's boot URL
// for the VM's MAC, so iPXE in the NIC's ROM boots from anvil at once. The relay goes either to a
// fixed HOST:PORT or to whichever `anvil serve` serves a data directory at the time of the
// connection (its serve.json), so a VM keeps finding anvil across server restarts.
import { fileURLToPath } from 'node:url';
import { escapeOptionValue } from './qemu-args.ts';

/** The guest address slirp forwards to anvil, port 80. */
export const GUEST_ANVIL = '10.0.2.100';
/** `--netdev anvil` (the default of `lab vm create --enroll`): reach the anvil serving this lab's data directory. */
export const ANVIL_NETDEV = 'anvil';
const RELAY = fileURLToPath(new URL('./demo/guest-relay.ts', import.meta.url));

/** A word for the shell-like parsing slirp applies to a guestfwd command (GLib's g_shell_parse_argv). */
function shellWord(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

export type RelayTarget = { readonly url: string } | { readonly data: string };

/** The slirp -netdev backend of a VM whose one way out is anvil. */
export function anvilNetdev(target: RelayTarget, mac: string): string {
  let args: string[];
  if ('url' in target) {
    const anvil = new URL(target.url);
    args = [anvil.hostname.replace(/^\[|\]$/g, ''), anvil.port || '80'];
  } else {
    args = ['--data', target.data];
  }
  const relay = [process.execPath, '--disable-warning=ExperimentalWarning', RELAY, ...args].map(shellWord).join(' ');
  return ['user', 'restrict=on', `bootfile=http://${GUEST_ANVIL}/boot/${mac}`, `guestfwd=tcp:${GUEST_ANVIL}:80-cmd:${relay}`].map(escapeOptionValue).join(',');
}
