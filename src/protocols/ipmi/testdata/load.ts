// Loads a capture written by capture-proxy.ts: the datagrams of one real exchange, in order.
import { readFileSync } from 'node:fs';

export interface CapturedPacket {
  readonly from: 'console' | 'bmc';
  readonly bytes: Buffer;
}

export function loadCapture(name: string): CapturedPacket[] {
  const raw = JSON.parse(readFileSync(new URL(`./${name}.json`, import.meta.url), 'utf8')) as { from: 'console' | 'bmc'; hex: string }[];
  return raw.map((p) => ({ from: p.from, bytes: Buffer.from(p.hex, 'hex') }));
}

/** The n-th packet, failing loudly if the capture is shorter than the test expects. */
export function packet(capture: readonly CapturedPacket[], n: number): Buffer {
  const p = capture[n];
  if (p === undefined) throw new Error(`capture has no packet ${n}`);
  return p.bytes;
}
