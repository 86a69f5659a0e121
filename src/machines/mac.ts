// MAC addresses in any common notation, stored in one canonical form: aa:bb:cc:dd:ee:ff.
import { invalid } from '../common/errors.ts';

const HEX12 = /^[0-9a-f]{12}$/;

/** The canonical form of a MAC written as aa:bb:…, AA-BB-…, aabb.ccdd.eeff or aabbccddeeff; undefined if it is none of these. */
export function parseMac(text: string): string | undefined {
  const trimmed = text.trim().toLowerCase();
  // pxelinux names a MAC with its ARP type first: 01-aa-bb-cc-dd-ee-ff.
  const body = /^01-([0-9a-f]{2}-){5}[0-9a-f]{2}$/.test(trimmed) ? trimmed.slice(3) : trimmed;
  let hex: string;
  if (/^([0-9a-f]{1,2}[:-]){5}[0-9a-f]{1,2}$/.test(body)) {
    hex = body
      .split(/[:-]/)
      .map((b) => b.padStart(2, '0'))
      .join('');
  } else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(body)) {
    hex = body.replaceAll('.', '');
  } else {
    hex = body;
  }
  if (!HEX12.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}

/** parseMac, or a clear error naming the text and the notations accepted. */
export function normalizeMac(text: string): string {
  const mac = parseMac(text);
  if (mac === undefined) {
    throw invalid('INVALID_MAC', `'${text}' is not a MAC address; write it as aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF or aabbccddeeff`);
  }
  return mac;
}

/** The name pxelinux asks for: 01-aa-bb-cc-dd-ee-ff. */
export function pxelinuxName(mac: string): string {
  return `01-${mac.replaceAll(':', '-')}`;
}
