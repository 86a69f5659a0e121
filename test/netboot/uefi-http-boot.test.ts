// UEFI HTTP boot from anvil, end to end with real firmware. In a private network namespace
// anvil serves DHCP and HTTP; a QEMU VM with OVMF (Debian's EDK2 build, its own virtio-net
// driver, PXE switched off by fw_cfg) asks with option 60 HTTPClient, gets the URL of iPXE's
// EFI loader (ipxe.efi under /tftp/), loads it over HTTP, and that iPXE fetches /boot/<mac>
// and boots the tiny Linux, whose init calls /localboot/ and prints a marker. Once with anvil
// as the DHCP server, once as proxyDHCP beside dnsmasq as the site's DHCP server. A third host
// on the LAN listens on port 68 and decodes anvil's broadcast offers off the wire. Last, a
// lab VM behind the lab's Redfish BMC emulator: sushy (python3-sushy, the library Ironic uses)
// sets a one-time UefiHttp boot override and powers it on, and it boots the same way; and
// anvil's own redfish driver (redfish_boot=uefi-http) does the same from `anvil machine`.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { havePeers, requireCondition } from '../helpers/peers.ts';
import { createNetns, type Netns } from '../helpers/netns.ts';
import { bootVm, OVMF_CODE, testMac } from '../helpers/qemu.ts';
import { ANVIL, PXEMNGR, exec, tempDir } from '../helpers/anvil-process.ts';
import { NETBOOT_HTTP_PORT, enrollTiny, netbootReady, serveInNamespace, startSiteDhcp, tinyBootData } from '../helpers/netboot-e2e.ts';
import { decode, getString, OPTION, packetMac, ipToString } from '../../src/protocols/dhcp/index.ts';
import { LabRedfishHandler } from '../../src/lab/controller-redfish.ts';
import { commandLineOf } from '../../src/lab/process.ts';
import { isHttpBootLaunch } from '../../src/lab/qemu-args.ts';
import { RedfishEmulator, generateCertificate } from '../../src/protocols/redfish/index.ts';
import { lab, openVm } from '../lab/helpers.ts';
import type { LabVm } from '../../src/lab/vm.ts';

const IPXE_EFI = '/usr/lib/ipxe/ipxe.efi';
/** OVMF under TCG on a loaded 2-core machine: firmware, HTTP boot, iPXE, the kernel, the init. */
const BOOT_TIMEOUT_MS = 420_000;
/** Room for OVMF's own allocations beside the kernel and initrd. */
const UEFI_MEMORY_MB = 512;

interface SeenOffer {
  readonly mac: string;
  readonly type: number | undefined;
  readonly serverId: string | undefined;
  readonly yiaddr: string;
  readonly vendorClass: string | undefined;
  readonly bootFile: string | undefined;
  readonly file: string;
}

/**
 * Another host on the LAN with a socket on port 68: every broadcast DHCP reply on the bridge
 * (anvil's and dnsmasq's), decoded. Replies to clients without an address are broadcast.
 */
async function listenForReplies(ns: Netns, host: number): Promise<() => SeenOffer[]> {
  const peer = await ns.addPeer(host);
  const script = [
    "const s = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true });",
    "s.on('message', (m) => process.stdout.write(m.toString('hex') + '\\n'));",
    "s.bind(68, '0.0.0.0', () => process.stdout.write('listening\\n'));",
  ].join('\n');
  const child = ns.spawn(process.execPath, ['-e', script], {}, peer);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const deadline = Date.now() + 15_000;
  while (!out.includes('listening\n')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the port-68 listener did not start: ${out}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return () =>
    out
      .split('\n')
      .filter((line) => /^[0-9a-f]+$/.test(line))
      .map((hex) => {
        const p = decode(Buffer.from(hex, 'hex'));
        const serverId = p.options.get(OPTION.SERVER_ID);
        return {
          mac: packetMac(p),
          type: p.options.get(OPTION.MESSAGE_TYPE)?.[0],
          serverId: serverId === undefined ? undefined : ipToString(serverId),
          yiaddr: p.yiaddr,
          vendorClass: getString(p.options, OPTION.VENDOR_CLASS),
          bootFile: getString(p.options, OPTION.BOOTFILE_NAME),
          file: p.file,
        };
      });
}

/** Boots the VM by UEFI HTTP boot and checks the firmware, the marker and anvil's boot log. */
async function bootAndCheck(t: TestContext, ns: Netns, data: string, logs: () => string, marker: string, mac: string): Promise<string> {
  const vm = bootVm(t, { netns: ns, mac, firmware: 'uefi', uefiNetboot: 'http', memoryMb: UEFI_MEMORY_MB });
  try {
    await vm.waitFor(new RegExp(`${marker} ${mac}`), BOOT_TIMEOUT_MS);
  } catch (error) {
    throw new Error(`${(error as Error).message}\nanvil log tail:\n${logs().slice(-4000)}`);
  }
  // OVMF tried HTTP boot, not PXE, and iPXE's EFI build ran.
  assert.match(vm.console, /Start HTTP Boot over IPv4/);
  assert.doesNotMatch(vm.console, /Start PXE over IPv4/);
  assert.match(vm.console, /iPXE/);
  const dpy = await exec(PXEMNGR, ['--data', data, 'dpysystem', 'vm1']);
  assert.match(dpy.stdout, /booted\s+tiny\s+iPXE/);
  assert.match(dpy.stdout, /next boot: local/);
  assert.match(dpy.stdout, /localboot callback/);
  const next = await ns.exec('curl', ['-sf', `http://${ns.address}:${NETBOOT_HTTP_PORT}/profile/${mac}/`]);
  assert.equal(next, 'local');
  return vm.console;
}

const loaderUrl = (ns: Netns) => `http://${ns.address}:${NETBOOT_HTTP_PORT}/tftp/ipxe.efi`;

test('UEFI HTTP boot: OVMF leases from anvil, loads ipxe.efi over HTTP, which boots the tiny Linux', { timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
  if (
    !netbootReady(t, [
      [OVMF_CODE, 'UEFI firmware, Debian package ovmf'],
      [IPXE_EFI, 'Debian package ipxe'],
    ])
  )
    return;
  const ns = await createNetns(t, { prefix: 'anvil-uefih' });
  const marker = 'ANVIL-E2E-UEFI-HTTP';
  const mac = testMac(11);
  const data = tinyBootData(ns, marker, 'anvil-uefi-http-');
  await enrollTiny(data, mac);
  const seen = await listenForReplies(ns, 3);
  const logs = await serveInNamespace(t, ns, data, ['--dhcp', 'server', '--dhcp-interface', ns.bridge, '--dhcp-range', `${ns.subnet}.100-${ns.subnet}.150`]);
  await bootAndCheck(t, ns, data, logs, marker, mac);

  // On the wire: the firmware's offer says HTTPClient and names the loader by URL, with an address.
  const offers = seen().filter((o) => o.mac === mac && o.type === 2 && o.serverId === ns.address);
  const httpOffer = offers.find((o) => o.vendorClass === 'HTTPClient');
  assert.ok(httpOffer, `an offer with option 60 HTTPClient: ${JSON.stringify(offers)}`);
  assert.equal(httpOffer.bootFile, loaderUrl(ns));
  assert.match(httpOffer.yiaddr, new RegExp(`^${ns.subnet.replaceAll('.', '\\.')}\\.1\\d\\d$`));
  // Then iPXE (no HTTPClient) got the script URL, not the loader again.
  assert.ok(
    offers.some((o) => o.vendorClass !== 'HTTPClient' && o.bootFile === `http://${ns.address}:${NETBOOT_HTTP_PORT}/boot/${mac}`),
    `iPXE's offer names the script: ${JSON.stringify(offers)}`,
  );
  assert.match(logs(), new RegExp(`"boot":"${loaderUrl(ns).replaceAll('.', '\\.')}","httpBoot":true`));
});

test('UEFI HTTP boot through anvil as proxyDHCP beside dnsmasq, the site DHCP server', { timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
  if (
    !netbootReady(t, [
      [OVMF_CODE, 'UEFI firmware, Debian package ovmf'],
      [IPXE_EFI, 'Debian package ipxe'],
    ]) ||
    !havePeers(t, 'dnsmasq')
  )
    return;
  const ns = await createNetns(t, { prefix: 'anvil-uefihp' });
  const marker = 'ANVIL-E2E-UEFI-HTTP-PROXY';
  const mac = testMac(12);
  const data = tinyBootData(ns, marker, 'anvil-uefi-http-');
  await enrollTiny(data, mac);
  const siteLog = await startSiteDhcp(ns);
  const seen = await listenForReplies(ns, 3);
  const logs = await serveInNamespace(t, ns, data, ['--dhcp', 'proxy', '--dhcp-interface', ns.bridge]);
  await bootAndCheck(t, ns, data, () => `${logs()}\ndnsmasq:\n${siteLog()}`, marker, mac);

  // The address came from dnsmasq; anvil's proxy offer carried no address, HTTPClient and the URL.
  assert.match(siteLog(), new RegExp(`DHCPACK\\(eth0\\) ${ns.subnet}\\.\\d+ ${mac}`));
  const offers = seen().filter((o) => o.mac === mac && o.type === 2 && o.serverId === ns.address);
  const httpOffer = offers.find((o) => o.vendorClass === 'HTTPClient');
  assert.ok(httpOffer, `a proxy offer with option 60 HTTPClient: ${JSON.stringify(offers)}`);
  assert.equal(httpOffer.yiaddr, '0.0.0.0');
  assert.equal(httpOffer.bootFile, loaderUrl(ns));
});

interface LabSetup {
  readonly ns: Netns;
  readonly data: string;
  readonly logs: () => string;
  readonly vm: LabVm;
  readonly url: string;
  readonly caFile: string;
  readonly password: string;
}

/**
 * anvil as the DHCP server in a namespace, the machine enrolled, and a lab VM on the
 * namespace's tap (QEMU started through `ip netns exec`) behind the lab's Redfish BMC
 * emulator on loopback. The VM boots its (absent) disk unless told otherwise.
 */
async function labSetup(t: TestContext, prefix: string, marker: string, mac: string): Promise<LabSetup> {
  const ns = await createNetns(t, { prefix });
  const data = tinyBootData(ns, marker, 'anvil-uefi-http-');
  await enrollTiny(data, mac);
  const logs = await serveInNamespace(t, ns, data, ['--dhcp', 'server', '--dhcp-interface', ns.bridge, '--dhcp-range', `${ns.subnet}.100-${ns.subnet}.150`]);
  const store = await lab(t);
  await store.create({
    name: 'uh1',
    mac,
    memoryMb: UEFI_MEMORY_MB,
    diskSize: null,
    netdev: `tap,ifname=${ns.taps[0]},script=no,downscript=no`,
    launcher: ['ip', 'netns', 'exec', ns.name],
    boot: { device: 'disk', efi: false },
  });
  const vm = await openVm(t, store, 'uh1');
  const password = 'lab-uefi-http-pw';
  const tls = await generateCertificate('lab-redfish');
  const emulator = new RedfishEmulator({ user: 'admin', password, tls, port: 0, handler: new LabRedfishHandler(vm) });
  const { url } = await emulator.listen();
  t.after(() => emulator.close());
  const caFile = join(tempDir('anvil-uefi-ca-'), 'ca.pem');
  writeFileSync(caFile, tls.ca);
  return { ns, data, logs, vm, url, caFile, password };
}

/** The lab VM runs OVMF with PXE off, boots over UEFI HTTP from anvil, and the override was for that boot only. */
async function labBootsOverHttp(s: LabSetup, marker: string, mac: string): Promise<void> {
  assert.equal(await s.vm.getPowerState(), 'on');
  const line = (await commandLineOf(s.vm.pid!)) ?? [];
  assert.ok(isHttpBootLaunch(line) && line.includes('-bios'), `QEMU runs OVMF with PXE off: ${line.join(' ')}`);
  try {
    await s.vm.console.buffer.waitFor(`${marker} ${mac}`, { timeoutMs: BOOT_TIMEOUT_MS });
  } catch (error) {
    throw new Error(`${(error as Error).message}\nanvil log tail:\n${s.logs().slice(-4000)}`);
  }
  assert.match(s.vm.console.buffer.text(), /Start HTTP Boot over IPv4/);
  assert.match(s.logs(), new RegExp(`"mac":"${mac}","address":"[0-9.]+","boot":"${loaderUrl(s.ns).replaceAll('.', '\\.')}","httpBoot":true`));
  const dpy = await exec(PXEMNGR, ['--data', s.data, 'dpysystem', 'vm1']);
  assert.match(dpy.stdout, /booted\s+tiny\s+iPXE/);
  assert.match(dpy.stdout, /next boot: local/);
  assert.deepEqual(await s.vm.getBootDevice(), { device: 'disk', persistent: true, efi: false });
}

const SUSHY_HTTP_BOOT = `
import sys, sushy
url, ca, pw = sys.argv[1:4]
s = sushy.Sushy(url + '/redfish/v1', verify=ca, auth=sushy.auth.SessionAuth(username='admin', password=pw))
sy = s.get_system()
sy.set_system_boot_options(sushy.BootSource.UEFI_HTTP, enabled=sushy.BootSourceOverrideEnabled.ONCE, mode=sushy.BootSourceOverrideMode.UEFI)
sy.refresh()
print(sy.boot.target.value + '|' + sy.boot.enabled.value + '|' + sy.boot.mode.value)
sy.reset_system(sushy.ResetType.ON)
`;

test("a lab VM's Redfish BMC: sushy sets a one-time UefiHttp boot and powers it on; OVMF boots over HTTP from anvil", {
  timeout: BOOT_TIMEOUT_MS + 60_000,
}, async (t) => {
  if (
    !netbootReady(t, [
      [OVMF_CODE, 'UEFI firmware, Debian package ovmf'],
      [IPXE_EFI, 'Debian package ipxe'],
    ]) ||
    !havePeers(t, 'openssl')
  )
    return;
  const sushyOk = spawnSync('/usr/bin/python3', ['-c', 'import sushy'], { timeout: 30_000 }).status === 0;
  if (!requireCondition(t, sushyOk, 'python3-sushy is not installed')) return;
  const marker = 'ANVIL-E2E-UEFI-HTTP-LAB';
  const mac = testMac(13);
  const s = await labSetup(t, 'anvil-uefihl', marker, mac);
  const env = { ...process.env };
  for (const k of ['REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'SSL_CERT_FILE']) delete env[k];
  const sushy = await new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
    execFile('/usr/bin/python3', ['-c', SUSHY_HTTP_BOOT, s.url, s.caFile, s.password], { env, timeout: 120_000 }, (error, stdout, stderr) =>
      done({ code: error ? 1 : 0, stdout, stderr }),
    ),
  );
  assert.equal(sushy.code, 0, sushy.stderr);
  assert.equal(sushy.stdout.trim(), 'UefiHttp|Once|UEFI', 'the BMC reports the override sushy set');
  await labBootsOverHttp(s, marker, mac);
});

test("anvil's redfish driver with redfish_boot=uefi-http: machine bootdev pxe and power on boot a lab VM over UEFI HTTP", {
  timeout: BOOT_TIMEOUT_MS + 60_000,
}, async (t) => {
  if (
    !netbootReady(t, [
      [OVMF_CODE, 'UEFI firmware, Debian package ovmf'],
      [IPXE_EFI, 'Debian package ipxe'],
    ]) ||
    !havePeers(t, 'openssl')
  )
    return;
  const marker = 'ANVIL-E2E-UEFI-HTTP-DRIVER';
  const mac = testMac(14);
  const s = await labSetup(t, 'anvil-uefihd', marker, mac);
  const pwFile = join(tempDir('anvil-uefi-pw-'), 'pw');
  writeFileSync(pwFile, `${s.password}\n`, { mode: 0o600 });
  const anvil = async (...args: string[]) => {
    const r = await exec(ANVIL, ['machine', ...args, '--data', s.data]);
    assert.equal(r.code, 0, `anvil machine ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const info = `redfish_address=${s.url},redfish_username=admin,redfish_verify_ca=${s.caFile},redfish_boot=uefi-http`;
  await anvil('set', 'vm1', '--driver', 'redfish', '--driver-info', info, '--password-file', pwFile);
  await anvil('bootdev', 'vm1', 'pxe');
  assert.deepEqual(await s.vm.getBootDevice(), { device: 'http', persistent: false, efi: true }, 'the BMC got UefiHttp');
  assert.match(await anvil('bootdev', 'vm1'), /pxe/);
  await anvil('power', 'vm1', 'on');
  await labBootsOverHttp(s, marker, mac);
});
