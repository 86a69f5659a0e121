// Codec: captured packets decode to the right values and round-trip; malformed ones are typed errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, directedBroadcast, encode, packetMac, type DhcpPacket } from './codec.ts';
import { MAGIC_COOKIE, MESSAGE_TYPE, MIN_BOOTP_MESSAGE_LENGTH, OPTION } from './constants.ts';
import { DhcpDecodeError } from './errors.ts';
import { testdata } from './testdata/packets.ts';
import { getClientArchs, getClientNdi, getIp, getIpxeSubOptions, getString, getU16, getU8, getUserClasses } from './options.ts';

test('decodes the DHCPDISCOVER that QEMU iPXE (Debian ipxe-qemu) sent to anvil', () => {
  const p = decode(testdata('ipxe-bios-discover.hex'));
  assert.equal(p.op, 1);
  assert.equal(p.htype, 1);
  assert.equal(p.hlen, 6);
  assert.equal(p.ciaddr, '0.0.0.0');
  assert.match(packetMac(p), /^02:a0:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
  assert.equal(getU8(p.options, OPTION.MESSAGE_TYPE), MESSAGE_TYPE.DISCOVER);
  assert.equal(getString(p.options, OPTION.VENDOR_CLASS), 'PXEClient:Arch:00000:UNDI:002001');
  assert.deepEqual(getClientArchs(p.options), [0]);
  assert.deepEqual(getClientNdi(p.options), { type: 1, major: 2, minor: 1 });
  assert.deepEqual(getUserClasses(p.options), ['iPXE']);
  assert.equal(getU16(p.options, OPTION.MAX_MESSAGE_SIZE), 1472);
  const ipxe = getIpxeSubOptions(p.options);
  assert.ok(ipxe !== undefined);
  assert.deepEqual([...ipxe.get(0x13)!], [1], 'iPXE announces HTTP (175.19)');
  assert.equal(p.options.get(OPTION.CLIENT_UUID)?.length, 17);
});

test("decodes the DHCPREQUEST iPXE sent after anvil's OFFER (options 54 and 50)", () => {
  const p = decode(testdata('ipxe-bios-request.hex'));
  assert.equal(getU8(p.options, OPTION.MESSAGE_TYPE), MESSAGE_TYPE.REQUEST);
  assert.match(getIp(p.options, OPTION.SERVER_ID) ?? '', /^10\.\d+\.\d+\.1$/);
  assert.match(getIp(p.options, OPTION.REQUESTED_ADDRESS) ?? '', /^10\.\d+\.\d+\.100$/);
});

test('decodes the DHCPDISCOVER of busybox udhcpc in the tiny Linux (not a netboot client)', () => {
  const p = decode(testdata('udhcpc-discover.hex'));
  assert.equal(getU8(p.options, OPTION.MESSAGE_TYPE), MESSAGE_TYPE.DISCOVER);
  assert.equal(p.options.get(OPTION.CLIENT_ARCH), undefined);
  assert.equal(getString(p.options, OPTION.VENDOR_CLASS)?.startsWith('udhcp'), true);
});

test('encode(decode(x)) keeps every field and option of a captured packet', () => {
  const names = [
    'ipxe-bios-discover.hex',
    'ipxe-bios-request.hex',
    'udhcpc-discover.hex',
    'edk2-pxe-discover.hex',
    'edk2-binl-request.hex',
    'ipxe-efi-discover.hex',
  ];
  for (const name of names) {
    const p = decode(testdata(name));
    const again = decode(encode(p));
    assert.deepEqual(again, p, name);
  }
});

function minimal(options: number[], fields: { file?: number[]; sname?: number[] } = {}): Uint8Array {
  const buf = new Uint8Array(240 + options.length);
  buf[0] = 1;
  buf[1] = 1;
  buf[2] = 6;
  new DataView(buf.buffer).setUint32(236, MAGIC_COOKIE);
  buf.set(fields.sname ?? [], 44);
  buf.set(fields.file ?? [], 108);
  buf.set(options, 240);
  return buf;
}

test('option overload (RFC 2132 §9.3): options in file then sname, fields read as empty', () => {
  const p = decode(minimal([53, 1, 1, 52, 1, 3, 255], { file: [60, 9, ...Buffer.from('PXEClient'), 255], sname: [93, 2, 0, 7, 255] }));
  assert.equal(getString(p.options, OPTION.VENDOR_CLASS), 'PXEClient');
  assert.deepEqual(getClientArchs(p.options), [7]);
  assert.equal(p.file, '');
  assert.equal(p.sname, '');
});

test('split options are concatenated on decode and split on encode (RFC 3396)', () => {
  const p = decode(minimal([53, 1, 1, 43, 2, 1, 2, 43, 2, 3, 4, 255]));
  assert.deepEqual([...p.options.get(43)!], [1, 2, 3, 4]);
  const long: DhcpPacket = {
    ...p,
    options: new Map([
      [53, Uint8Array.of(2)],
      [67, new Uint8Array(300).fill(65)],
    ]),
  };
  const bytes = encode(long);
  assert.equal(bytes[240], 53, 'option 53 first');
  assert.deepEqual([bytes[243], bytes[244]], [67, 255]);
  assert.deepEqual([bytes[243 + 257], bytes[243 + 258]], [67, 45]);
  assert.equal(decode(bytes).options.get(67)?.length, 300);
});

test('encode pads to the 300-byte BOOTP minimum (RFC 1542 §3.3)', () => {
  assert.equal(encode(decode(minimal([53, 1, 1, 255]))).length, MIN_BOOTP_MESSAGE_LENGTH);
});

test('malformed packets are typed decode errors', () => {
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['shorter than the header', new Uint8Array(239)],
    [
      'no magic cookie',
      (() => {
        const b = minimal([255]);
        b[236] = 0;
        return b;
      })(),
    ],
    [
      'bad op',
      (() => {
        const b = minimal([255]);
        b[0] = 3;
        return b;
      })(),
    ],
    [
      'hlen over 16',
      (() => {
        const b = minimal([255]);
        b[2] = 17;
        return b;
      })(),
    ],
    ['option without length', minimal([53])],
    ['option longer than the packet', minimal([53, 9, 1])],
    ['bad overload value', minimal([52, 1, 4, 255])],
    ['truncated option in the file field', minimal([52, 1, 1, 255], { file: [...new Array(126).fill(0), 60, 5] })],
  ];
  for (const [what, bytes] of cases) {
    assert.throws(
      () => decode(bytes),
      (err: unknown) => err instanceof DhcpDecodeError && err.code === 'DHCP_DECODE',
      what,
    );
  }
});

test('a wrongly sized option value is a decode error when read', () => {
  const p = decode(minimal([53, 2, 1, 1, 93, 3, 0, 0, 7, 255]));
  assert.throws(() => getU8(p.options, OPTION.MESSAGE_TYPE), DhcpDecodeError);
  assert.throws(() => getClientArchs(p.options), DhcpDecodeError);
});

test("RFC 3004 user classes and iPXE's plain string are both understood", () => {
  assert.deepEqual(getUserClasses(decode(minimal([77, 4, ...Buffer.from('iPXE'), 255])).options), ['iPXE']);
  assert.deepEqual(getUserClasses(decode(minimal([77, 11, 4, ...Buffer.from('iPXE'), 5, ...Buffer.from('anvil'), 255])).options), ['iPXE', 'anvil']);
});

test('the subnet broadcast address server mode sends to', () => {
  assert.equal(directedBroadcast('10.9.0.1', '255.255.255.0'), '10.9.0.255');
  assert.equal(directedBroadcast('172.16.5.9', '255.255.240.0'), '172.16.15.255');
  assert.equal(directedBroadcast('192.168.1.1', '255.255.255.255'), '192.168.1.1');
});
