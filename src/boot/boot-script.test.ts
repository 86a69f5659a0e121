import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flavourOf, localBootScript, parsePxelinux, toIpxe, unknownMachineScript } from './boot-script.ts';

const S = 'http://10.0.0.1:8080';

test('an iPXE profile is served as it is', () => {
  const script = '#!ipxe\nkernel http://x/vmlinuz\nboot\n';
  assert.equal(toIpxe(script, 'n1', S), script);
});

test('a pxelinux profile is translated: kernel, initrd (both styles), append', () => {
  const profile =
    'DEFAULT install\nPROMPT 0\nLABEL rescue\n  KERNEL r/vmlinuz\nLABEL install\n  KERNEL debian/vmlinuz\n  APPEND initrd=debian/initrd.gz,extra.img auto=true console=ttyS0\n';
  assert.equal(
    toIpxe(profile, 'n1', S),
    [
      '#!ipxe',
      'echo anvil: booting n1 (install)',
      `kernel ${S}/tftp/debian/vmlinuz initrd=initrd.gz initrd=extra.img auto=true console=ttyS0`,
      `initrd ${S}/tftp/debian/initrd.gz`,
      `initrd ${S}/tftp/extra.img`,
      'boot',
      '',
    ].join('\n'),
  );
  const withInitrdLine = parsePxelinux('KERNEL /k\nINITRD http://y/i.gz\nAPPEND a=b');
  assert.deepEqual(withInitrdLine, { label: '', kernel: '/k', initrds: ['http://y/i.gz'], append: 'a=b', localboot: undefined });
  assert.match(toIpxe('KERNEL /k\nINITRD http://y/i.gz\n', 'n', S), /kernel http:\/\/10\.0\.0\.1:8080\/tftp\/k initrd=i\.gz\ninitrd http:\/\/y\/i\.gz/);
});

test('LOCALBOOT becomes sanboot on BIOS and exit on UEFI', () => {
  const local = toIpxe('DEFAULT local\nLABEL local\n  LOCALBOOT 0\n', 'n1', S);
  assert.equal(local, localBootScript('n1'));
  assert.match(local, /iseq \$\{platform\} efi && exit 0/);
  assert.match(local, /sanboot --no-describe --drive 0x80/);
  assert.equal(toIpxe('', 'n1', S), localBootScript('n1'));
});

test('flavours are told apart', () => {
  assert.equal(flavourOf('#!ipxe\n'), 'ipxe');
  assert.equal(flavourOf('set timeout=1\nmenuentry "x" {\n linux /vmlinuz\n}\n'), 'grub');
  assert.equal(flavourOf('LABEL x\nKERNEL y\n'), 'pxelinux');
});

test('an unknown machine is told why and retries', () => {
  const s = unknownMachineScript('52:54:00:00:00:01', S, 30);
  assert.match(s, /no machine has MAC 52:54:00:00:00:01/);
  assert.match(s, /pxemngr addsystem NAME 52:54:00:00:00:01/);
  assert.match(s, /sleep 30\nchain --replace http:\/\/10\.0\.0\.1:8080\/boot\/52:54:00:00:00:01\?arch=\$\{buildarch\}/);
});
