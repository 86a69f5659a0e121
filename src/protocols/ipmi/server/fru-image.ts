// Builds a FRU inventory image with chassis, board and product areas (Platform Management
// FRU Information Storage Definition v1.0, §8–§11), the format `ipmitool fru print` reads.

/** FRU areas are sized in multiples of 8 bytes (FRU spec §8). */
const FRU_AREA_UNIT = 8;
/** Type/length byte for 8-bit ASCII text (FRU spec §13) and the end-of-fields marker. */
const TYPE_ASCII = 0xc0;
const END_OF_FIELDS = 0xc1;
/** Chassis type 0x17: rack mount chassis (SMBIOS table 16). */
const CHASSIS_RACK_MOUNT = 0x17;
/** Board manufacturing date is minutes since 1996-01-01 00:00 UTC (FRU spec §11). */
const FRU_EPOCH_MS = Date.UTC(1996, 0, 1);

export interface FruFields {
  readonly chassisPart: string;
  readonly chassisSerial: string;
  readonly boardManufacturer: string;
  readonly boardProduct: string;
  readonly boardSerial: string;
  readonly boardPart: string;
  readonly manufactured: Date;
  readonly productManufacturer: string;
  readonly productName: string;
  readonly productPart: string;
  readonly productVersion: string;
  readonly productSerial: string;
  readonly assetTag: string;
}

function field(text: string): Buffer {
  const bytes = Buffer.from(text.slice(0, 63), 'latin1');
  return Buffer.concat([Buffer.from([TYPE_ASCII | bytes.length]), bytes]);
}

function zeroChecksum(bytes: number[]): number {
  return (0x100 - (bytes.reduce((a, b) => a + b, 0) & 0xff)) & 0xff;
}

/** Closes an area: end marker, zero pad to a multiple of 8 with room for the checksum, checksum. */
function area(head: number[], fields: Buffer[]): Buffer {
  const bytes = [...head];
  for (const f of fields) bytes.push(...f);
  bytes.push(END_OF_FIELDS);
  while ((bytes.length + 1) % FRU_AREA_UNIT !== 0) bytes.push(0);
  bytes[1] = (bytes.length + 1) / FRU_AREA_UNIT;
  bytes.push(zeroChecksum(bytes));
  return Buffer.from(bytes);
}

export function buildFruImage(f: FruFields): Buffer {
  const chassis = area([0x01, 0, CHASSIS_RACK_MOUNT], [field(f.chassisPart), field(f.chassisSerial)]);
  const minutes = Math.max(0, Math.floor((f.manufactured.getTime() - FRU_EPOCH_MS) / 60000));
  const board = area(
    [0x01, 0, 0x00, minutes & 0xff, (minutes >> 8) & 0xff, (minutes >> 16) & 0xff],
    [field(f.boardManufacturer), field(f.boardProduct), field(f.boardSerial), field(f.boardPart), field('')],
  );
  const product = area(
    [0x01, 0, 0x00],
    [field(f.productManufacturer), field(f.productName), field(f.productPart), field(f.productVersion), field(f.productSerial), field(f.assetTag), field('')],
  );
  const chassisOffset = 1;
  const boardOffset = chassisOffset + chassis.length / FRU_AREA_UNIT;
  const productOffset = boardOffset + board.length / FRU_AREA_UNIT;
  const header = [0x01, 0, chassisOffset, boardOffset, productOffset, 0, 0];
  header.push(zeroChecksum(header));
  return Buffer.concat([Buffer.from(header), chassis, board, product]);
}
