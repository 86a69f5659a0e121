// The URL shapes machines boot from, spelled once: iPXE asks /boot/<mac> for its script, and
// loaders, kernels and initrds of the TFTP root are also served over HTTP under /tftp/.

/** iPXE's script for a machine: /boot/<mac> (and /boot.ipxe?mac=<mac> for `chain` lines that can only add a query). */
export const BOOT_SCRIPT_ROUTES = ['/boot/:mac', '/boot.ipxe'] as const;
/** The TFTP root over HTTP (with HEAD and Range): /tftp/<path>. */
export const ARTIFACT_ROUTE = '/tftp/*';

const ABSOLUTE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The iPXE script URL of a machine, e.g. http://10.0.0.1:8080/boot/52:54:00:12:34:56. */
export function bootScriptUrl(server: string, mac: string): string {
  return `${server}/boot/${mac}`;
}

/** The base URL the TFTP root is served at over HTTP (for UEFI HTTP boot and iPXE). */
export function artifactBase(server: string): string {
  return `${server}/tftp`;
}

/** A relative path in a profile is a file of anvil's TFTP root, fetched over HTTP instead; URLs stay as they are. */
export function artifactUrl(path: string, server: string): string {
  return ABSOLUTE.test(path) ? path : `${artifactBase(server)}/${path.replace(/^\/+/, '')}`;
}
