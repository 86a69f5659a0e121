// Loads a captured packet from this folder (hex text; see README.md). For tests only.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function testdata(name: string): Uint8Array {
  const text = readFileSync(join(import.meta.dirname, name), 'utf8');
  return Uint8Array.from(Buffer.from(text.replace(/[^0-9a-f]/gi, ''), 'hex'));
}
