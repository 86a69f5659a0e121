// What the end-to-end netboot tests share: the tiny Linux as the thing booted, a data
// directory whose `tiny` profile boots it (its init calls /localboot/ and prints a marker),
// the machine enrolled with pxemngr, and `anvil serve` started inside a network namespace.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { havePeers, requireCondition } from './peers.ts';
import { isRoot, type Netns } from './netns.ts';
import { ANVIL, PXEMNGR, ROOT, exec, tempDir } from './anvil-process.ts';

export const TINY = join(ROOT, '.tools/tiny-linux');
/** anvil's HTTP port inside the namespaces (each test has its own namespace). */
export const NETBOOT_HTTP_PORT = 8080;

/** QEMU, root for the namespace, the tiny Linux built, and each of `files` (firmware, loaders) present. */
export function netbootReady(t: TestContext, files: ReadonlyArray<readonly [path: string, what: string]>): boolean {
  if (!havePeers(t, 'qemu-system-x86_64', 'ip', 'curl')) return false;
  if (!requireCondition(t, isRoot(), 'network namespaces need root')) return false;
  for (const [path, what] of files) if (!requireCondition(t, existsSync(path), `${path} (${what}) is missing`)) return false;
  return requireCondition(
    t,
    existsSync(join(TINY, 'vmlinuz')) && existsSync(join(TINY, 'initrd.gz')),
    `the tiny Linux is not built in ${TINY} (scripts/tiny-linux)`,
  );
}

/** A data directory with the tiny Linux in the TFTP root and a profile that boots it. */
export function tinyBootData(ns: Netns, marker: string, prefix: string): string {
  const data = tempDir(prefix);
  const profiles = join(data, 'tftp/pxelinux.cfg/profiles');
  mkdirSync(profiles, { recursive: true });
  mkdirSync(join(data, 'tests'), { recursive: true });
  mkdirSync(join(data, 'tftp/tiny'), { recursive: true });
  copyFileSync(join(TINY, 'vmlinuz'), join(data, 'tftp/tiny/vmlinuz'));
  copyFileSync(join(TINY, 'initrd.gz'), join(data, 'tftp/tiny/initrd.gz'));
  writeFileSync(join(profiles, 'local.prof'), 'DEFAULT local\nLABEL local\n  LOCALBOOT 0\n');
  writeFileSync(
    join(profiles, 'tiny.prof'),
    [
      'DEFAULT tiny',
      'LABEL tiny',
      '  KERNEL tiny/vmlinuz',
      `  APPEND initrd=tiny/initrd.gz console=ttyS0 quiet no_timer_check anvil.server=${ns.address}:${NETBOOT_HTTP_PORT} anvil.mac={{ mac }} anvil.marker=${marker}`,
      '',
    ].join('\n'),
  );
  return data;
}

/** The machine `vm1` with this MAC, its next boot the tiny profile. */
export async function enrollTiny(data: string, mac: string): Promise<void> {
  for (const args of [['syncbootnames'], ['addsystem', 'vm1', mac], ['nextboot', 'vm1', 'tiny']]) {
    const r = await exec(PXEMNGR, ['--data', data, ...args]);
    assert.equal(r.code, 0, `pxemngr ${args.join(' ')}: ${r.stderr}`);
  }
}

/** Starts bin/anvil serve inside the namespace with HTTP on NETBOOT_HTTP_PORT and waits for it; returns its log so far. */
export async function serveInNamespace(t: TestContext, ns: Netns, data: string, args: readonly string[]): Promise<() => string> {
  const child = ns.spawn(ANVIL, ['serve', '--data', data, '--http', `0.0.0.0:${NETBOOT_HTTP_PORT}`, ...args]);
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const deadline = Date.now() + 30_000;
  while (!/anvil is serving/.test(log)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`anvil serve did not start in ${ns.name}:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.after(() => void child.kill('SIGTERM'));
  return () => log;
}

/**
 * The site's DHCP server: dnsmasq on another host of the LAN (a peer namespace on the bridge),
 * handing out addresses only — no PXE or HTTP boot options, no TFTP, no DNS. Returns its log.
 */
export async function startSiteDhcp(ns: Netns): Promise<() => string> {
  const siteHost = await ns.addPeer(2);
  const site = ns.spawn(
    'dnsmasq',
    [
      '--no-daemon',
      '--port=0',
      '--conf-file=/dev/null',
      '--interface=eth0',
      '--bind-interfaces',
      `--dhcp-range=${ns.subnet}.50,${ns.subnet}.90,255.255.255.0,10m`,
      '--dhcp-leasefile=/dev/null',
      '--log-dhcp',
    ],
    {},
    siteHost,
  );
  let log = '';
  site.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  return () => log;
}
