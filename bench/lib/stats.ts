// Small figures helpers the benches share: percentiles, throughput, a fixed-width table.

/** The q-quantile (0..1) of values, nearest-rank; undefined when there are none. */
export function percentile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export function median(values: readonly number[]): number | undefined {
  return percentile(values, 0.5);
}

export const MiB = 1 << 20;
export const GiB = 1 << 30;

/** MiB/s for bytes moved in ms milliseconds. */
export function mibPerSecond(bytes: number, ms: number): number {
  return ms <= 0 ? 0 : bytes / MiB / (ms / 1000);
}

/** A number for a table cell: fixed decimals, or '-' when there is none. */
export function cell(value: number | undefined, decimals = 0): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(decimals);
}

/** Rows of cells, the first column left-aligned and the others right-aligned. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}
