// Parsing the words of `anvil ipmi` commands the way ipmitool reads them.
import { UsageError } from './command.ts';

/** A byte as ipmitool takes one: decimal, 0x-hex, or bare hex when it has a letter in it ('c1'). */
export function hexByte(text: string): number {
  const n = Number(text.startsWith('0x') || text.startsWith('0X') ? text : /^[0-9a-f]+$/i.test(text) && /[a-f]/i.test(text) ? '0x' + text : text);
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new UsageError(`'${text}' is not a byte (0-255 or 0x00-0xff)`);
  return n;
}
