// The QEMU command line of a lab VM: boot order from persistent and one-time devices, the NIC
// with iPXE, disk, sockets, and nothing secret.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDefinition } from './definition.ts';
import type { LabVmDefinition } from './definition.ts';
import { bootOption, bootOptionOf, DEFAULT_IPXE_ROM, escapeOptionValue, isHttpBootLaunch, OVMF_HTTP_BOOT_ONLY, qemuLaunch } from './qemu-args.ts';

function def(overrides: Record<string, unknown> = {}): LabVmDefinition {
  return parseDefinition({
    name: 'vm1',
    mac: '52:54:00:12:34:56',
    memoryMb: 256,
    disk: { path: '/lab/disks/vm1.qcow2', size: '8G', format: 'qcow2' },
    serialSocket: '/lab/run/vm1/serial.sock',
    qmpSocket: '/lab/run/vm1/qmp.sock',
    controlSocket: '/lab/run/vm1/qmp-ctl.sock',
    bmc: { kind: 'ipmi', address: '127.0.0.1', ipmiPort: 6230, amtPort: 16992, user: 'admin', password: 'sekrit-pw' },
    ...overrides,
  });
}

/** The value following an option, e.g. after('-m') → '256'. */
function after(args: readonly string[], option: string): string[] {
  return args.flatMap((a, i) => (a === option ? [args[i + 1] ?? ''] : []));
}

test('boot order: persistent device is order=, a one-time device is once=, bios shows the boot menu', () => {
  assert.equal(bootOption({ device: 'pxe', efi: false }, undefined), 'order=n');
  assert.equal(bootOption({ device: 'disk', efi: false }, undefined), 'order=c');
  assert.equal(bootOption({ device: 'disk', efi: false }, { device: 'pxe', efi: false }), 'order=c,once=n');
  assert.equal(bootOption({ device: 'pxe', efi: false }, { device: 'cdrom', efi: false }), 'order=n,once=d');
  assert.equal(bootOption({ device: 'pxe', efi: false }, { device: 'bios', efi: false }), 'order=n,once=c,menu=on,splash-time=60000');
});

test('the command line: TCG, paused start, two QMP sockets, serial on a socket, iPXE on a modern virtio NIC, the disk', () => {
  const { command, args } = qemuLaunch(def(), { once: undefined });
  assert.equal(command, 'qemu-system-x86_64');
  assert.deepEqual(after(args, '-accel'), ['tcg']);
  assert.deepEqual(after(args, '-m'), ['256']);
  assert.ok(args.includes('-S'));
  assert.deepEqual(after(args, '-qmp'), ['unix:/lab/run/vm1/qmp.sock,server=on,wait=off', 'unix:/lab/run/vm1/qmp-ctl.sock,server=on,wait=off']);
  assert.deepEqual(after(args, '-chardev'), ['socket,id=ser0,path=/lab/run/vm1/serial.sock,server=on,wait=off']);
  assert.deepEqual(after(args, '-netdev'), ['user,restrict=on,id=net0']);
  assert.ok(after(args, '-device').includes(`virtio-net-pci,disable-legacy=on,netdev=net0,mac=52:54:00:12:34:56,romfile=${DEFAULT_IPXE_ROM}`));
  assert.deepEqual(after(args, '-drive'), ['file=/lab/disks/vm1.qcow2,format=qcow2,if=none,id=disk0']);
  assert.equal(bootOptionOf(args), 'order=n');
  assert.ok(!args.join(' ').includes('sekrit-pw'), 'the BMC password never reaches the command line');
});

test('an SSH port forwards 127.0.0.1:P to the guest port 22 on its user network', () => {
  const { args } = qemuLaunch(def({ sshPort: 2222 }), { once: undefined });
  assert.deepEqual(after(args, '-netdev'), ['user,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22,id=net0']);
});

test('a launcher prefix, no NIC, no disk, extra arguments, commas in paths', () => {
  const { command, args } = qemuLaunch(
    def({ netdev: 'none', disk: undefined, launcher: ['ip', 'netns', 'exec', 'lab0'], extraArgs: ['-kernel', '/k'], serialSocket: '/a,b/serial.sock' }),
    { once: { device: 'disk', efi: false } },
  );
  assert.equal(command, 'ip');
  assert.deepEqual(args.slice(0, 4), ['netns', 'exec', 'lab0', 'qemu-system-x86_64']);
  assert.deepEqual(after(args, '-nic'), ['none']);
  assert.deepEqual(after(args, '-drive'), []);
  assert.deepEqual(args.slice(-2), ['-kernel', '/k']);
  assert.equal(bootOptionOf(args), 'order=n,once=c');
  assert.deepEqual(after(args, '-chardev'), ['socket,id=ser0,path=/a,,b/serial.sock,server=on,wait=off']);
  assert.equal(escapeOptionValue('a,b,,c'), 'a,,b,,,,c');
});

test('UEFI needs OVMF: refused without it, -bios with it', () => {
  const efi = def({ boot: { device: 'pxe', efi: true } });
  assert.throws(
    () => qemuLaunch(efi, { once: undefined }),
    (e: unknown) => (e as { code?: string }).code === 'LAB_INVALID',
  );
  assert.deepEqual(after(qemuLaunch(efi, { once: undefined, uefiFirmware: '/usr/share/ovmf/OVMF.fd' }).args, '-bios'), ['/usr/share/ovmf/OVMF.fd']);
});

test('UEFI HTTP boot: OVMF with PXE and IPv6 off by fw_cfg, no iPXE ROM, the NIC first; persistent or once', () => {
  const ovmf = '/usr/share/ovmf/OVMF.fd';
  const http = qemuLaunch(def({ boot: { device: 'http' } }), { once: undefined, uefiFirmware: ovmf }).args;
  assert.deepEqual(after(http, '-bios'), [ovmf]);
  assert.deepEqual(after(http, '-fw_cfg'), [
    'name=opt/org.tianocore/IPv4PXESupport,string=n',
    'name=opt/org.tianocore/IPv6PXESupport,string=n',
    'name=opt/org.tianocore/IPv6Support,string=n',
  ]);
  assert.ok(after(http, '-device').includes('virtio-net-pci,disable-legacy=on,netdev=net0,mac=52:54:00:12:34:56,romfile=,bootindex=1'));
  assert.ok(isHttpBootLaunch(http));
  // Once over a legacy disk boot: this start is UEFI HTTP boot; the next plain start is not.
  const legacy = def({ boot: { device: 'disk', efi: false } });
  const once = qemuLaunch(legacy, { once: { device: 'http', efi: true }, uefiFirmware: ovmf }).args;
  assert.ok(isHttpBootLaunch(once) && once.includes('-bios'));
  assert.equal(bootOptionOf(once), 'order=c,once=n');
  const plain = qemuLaunch(legacy, { once: undefined }).args;
  assert.ok(!isHttpBootLaunch(plain) && !plain.includes('-bios') && !plain.includes(OVMF_HTTP_BOOT_ONLY[0]!));
  // HTTP boot is UEFI only: a definition saying efi: false still gets OVMF, and without it a clear error.
  assert.equal(def({ boot: { device: 'http', efi: false } }).boot.efi, true);
  assert.throws(() => qemuLaunch(def({ boot: { device: 'http' } }), { once: undefined }), /no OVMF firmware is installed/);
});
