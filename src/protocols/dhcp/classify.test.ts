// Client classification and the boot-file policy, on captured and hand-built requests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootFileFor, classify, DEFAULT_BOOT_FILES, ARM64_BOOT_FILE, type BootPolicy } from './classify.ts';
import { decode, type DhcpPacket } from './codec.ts';
import { testdata } from './testdata/packets.ts';
import { OPTION } from './constants.ts';
import { str, u16 } from './options.ts';

const policy: BootPolicy = { files: DEFAULT_BOOT_FILES, scriptUrl: (mac) => `http://10.0.0.1:8080/boot/${mac}` };

function firmware(options: [number, Uint8Array][]): DhcpPacket {
  const base = decode(testdata('udhcpc-discover.hex'));
  return { ...base, options: new Map([[OPTION.MESSAGE_TYPE, Uint8Array.of(1)], ...options]) };
}
const pxe = (arch: number, vendor = `PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:003016`): DhcpPacket =>
  firmware([
    [OPTION.VENDOR_CLASS, str(vendor)],
    [OPTION.CLIENT_ARCH, u16(arch)],
  ]);

test("iPXE from QEMU's ROM: a BIOS netboot client that already is iPXE, sent to the script URL", () => {
  const c = classify(decode(testdata('ipxe-bios-discover.hex')));
  assert.equal(c.netboot, true);
  assert.equal(c.arch, 0);
  assert.equal(c.firmware, 'bios');
  assert.equal(c.ipxe, true);
  assert.equal(c.anvilIpxe, false);
  assert.equal(c.ipxeHttp, true);
  assert.deepEqual(bootFileFor(c, policy), { kind: 'script', url: `http://10.0.0.1:8080/boot/${c.mac}` });
});

test("OVMF's UEFI HTTP boot (captured): HTTPClient, arch 16, x64 UEFI, gets ipxe.efi's URL; none without httpBase", () => {
  const c = classify(decode(testdata('edk2-http-discover.hex')));
  assert.equal(c.vendorClass, 'HTTPClient:Arch:00016:UNDI:003000');
  assert.equal(c.netboot, true);
  assert.equal(c.httpBoot, true);
  assert.equal(c.arch, 16);
  assert.equal(c.firmware, 'efi-x64');
  assert.equal(c.ipxe, false);
  assert.deepEqual(bootFileFor(c, { ...policy, httpBase: 'http://10.0.0.1:8080/tftp' }), {
    kind: 'http-loader',
    url: 'http://10.0.0.1:8080/tftp/ipxe.efi',
    firmware: 'efi-x64',
  });
  assert.equal(bootFileFor(c, policy).kind, 'none');
});

test('busybox udhcpc is no netboot client and gets no boot file', () => {
  const c = classify(decode(testdata('udhcpc-discover.hex')));
  assert.equal(c.netboot, false);
  assert.equal(c.ipxe, false);
  assert.equal(bootFileFor(c, policy).kind, 'none');
});

test('firmware gets its loader by option 93: BIOS, EFI x64 (7 and 9), ARM64 only when configured', () => {
  const file = (p: DhcpPacket, pol = policy) => {
    const d = bootFileFor(classify(p), pol);
    return d.kind === 'loader' ? d.file : d.kind;
  };
  assert.equal(file(pxe(0)), 'undionly.kpxe');
  assert.equal(file(pxe(7)), 'ipxe.efi');
  assert.equal(file(pxe(9)), 'ipxe.efi', 'RFC 4578 swapped 7 and 9; both are x64');
  assert.equal(file(pxe(11)), 'none', 'Debian ships no ARM64 iPXE');
  assert.equal(file(pxe(11), { ...policy, files: { ...DEFAULT_BOOT_FILES, 'efi-arm64': ARM64_BOOT_FILE } }), 'snp.efi');
  assert.equal(file(pxe(6)), 'none', 'no IA32 iPXE by default');
  assert.equal(file(pxe(10)), 'none');
});

test('without option 93 the architecture comes from option 60', () => {
  const c = classify(firmware([[OPTION.VENDOR_CLASS, str('PXEClient:Arch:00007:UNDI:003016')]]));
  assert.equal(c.arch, 7);
  assert.equal(c.netboot, true);
});

test('a vendor class alone without any architecture is not enough to boot', () => {
  assert.equal(classify(firmware([[OPTION.VENDOR_CLASS, str('PXEClient')]])).netboot, false);
});

test("UEFI HTTP boot (60 HTTPClient, 93 = 16) gets the loader's URL when httpBase is set", () => {
  const p = pxe(16, 'HTTPClient:Arch:00016:UNDI:003001');
  assert.equal(bootFileFor(classify(p), policy).kind, 'none');
  assert.deepEqual(bootFileFor(classify(p), { ...policy, httpBase: 'http://10.0.0.1:8080/tftp/' }), {
    kind: 'http-loader',
    url: 'http://10.0.0.1:8080/tftp/ipxe.efi',
    firmware: 'efi-x64',
  });
});

test("iPXE is recognised by anvil's user class or by option 175 alone", () => {
  const anvil = classify(
    firmware([
      [OPTION.CLIENT_ARCH, u16(7)],
      [OPTION.USER_CLASS, str('anvil')],
    ]),
  );
  assert.equal(anvil.ipxe, true);
  assert.equal(anvil.anvilIpxe, true);
  const by175 = classify(firmware([[OPTION.IPXE_ENCAPSULATED, Uint8Array.of(0x13, 1, 1)]]));
  assert.equal(by175.ipxe, true);
  assert.equal(by175.ipxeHttp, true);
  const custom = classify(firmware([[OPTION.USER_CLASS, str('lab')]]), { anvilUserClasses: ['lab'] });
  assert.equal(custom.anvilIpxe, true);
});

test("requireAnvilIpxe: a NIC's own iPXE is chainloaded into anvil's, which then gets the script", () => {
  const strict = { ...policy, requireAnvilIpxe: true };
  const romIpxe = classify(decode(testdata('ipxe-bios-discover.hex')));
  assert.deepEqual(bootFileFor(romIpxe, strict), { kind: 'loader', file: 'undionly.kpxe', firmware: 'bios' });
  const ours = classify(
    firmware([
      [OPTION.VENDOR_CLASS, str('PXEClient:Arch:00000')],
      [OPTION.CLIENT_ARCH, u16(0)],
      [OPTION.USER_CLASS, str('anvil')],
    ]),
  );
  assert.equal(bootFileFor(ours, strict).kind, 'script');
});

test("real UEFI firmware (OVMF's EDK2 PXE) is an EFI x64 netboot client and gets ipxe.efi", () => {
  for (const name of ['edk2-pxe-discover.hex', 'edk2-binl-request.hex']) {
    const c = classify(decode(testdata(name)));
    assert.equal(c.netboot, true, name);
    assert.equal(c.arch, 7);
    assert.equal(c.firmware, 'efi-x64');
    assert.equal(c.ipxe, false);
    assert.match(c.uuid ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(bootFileFor(c, policy), { kind: 'loader', file: 'ipxe.efi', firmware: 'efi-x64' });
  }
});

test('the ipxe.efi that firmware loaded is recognised as iPXE and gets the script: no loop', () => {
  const c = classify(decode(testdata('ipxe-efi-discover.hex')));
  assert.equal(c.firmware, 'efi-x64');
  assert.equal(c.ipxe, true);
  assert.equal(bootFileFor(c, policy).kind, 'script');
});
