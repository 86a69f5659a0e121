// The boot storm's figures: per step over every machine, and the artifact-only runs, as
// the tables bench/boot-storm.ts prints and the JSON it writes.
import type { LoadResult } from './artifact-load.ts';
import { STEP_LABELS, STEPS, type ClientResult, type Step } from './pxe-client.ts';
import { cell, GiB, mibPerSecond, percentile, table } from './stats.ts';

export interface StepFigures {
  readonly done: number;
  readonly p50?: number | undefined;
  readonly p99?: number | undefined;
  readonly max?: number | undefined;
  readonly errors: number;
  readonly resent: number;
}

/** Error messages shown per step. */
const ERROR_SAMPLES = 3;

export function stepFigures(results: readonly ClientResult[], step: Step | 'total'): StepFigures {
  const ms = results.map((r) => (step === 'total' ? r.totalMs : r.ms[step])).filter((x): x is number => x !== undefined);
  const errors = results.filter((r) => (step === 'total' ? r.failed !== undefined : r.failed?.step === step)).length;
  const resentOf = (r: ClientResult) => (step === 'total' ? Object.values(r.resent).reduce((a, b) => a + (b ?? 0), 0) : (r.resent[step] ?? 0));
  const resent = results.reduce((n, r) => n + resentOf(r), 0);
  return { done: ms.length, p50: percentile(ms, 0.5), p99: percentile(ms, 0.99), max: percentile(ms, 1), errors, resent };
}

/** The per-step table and a few failures of each step; returns the figures by step. */
export function printSteps(results: readonly ClientResult[]): Record<Step | 'total', StepFigures> {
  const rows: string[][] = [['step', 'done', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'resent']];
  const figures = {} as Record<Step | 'total', StepFigures>;
  for (const step of [...STEPS, 'total'] as const) {
    const f = stepFigures(results, step);
    figures[step] = f;
    rows.push([
      step === 'total' ? 'total (one machine, first DISCOVER to last byte)' : STEP_LABELS[step],
      String(f.done),
      cell(f.p50),
      cell(f.p99),
      cell(f.max),
      String(f.errors),
      String(f.resent),
    ]);
  }
  console.log(table(rows));
  for (const step of STEPS) {
    for (const r of results.filter((x) => x.failed?.step === step).slice(0, ERROR_SAMPLES)) console.log(`  ${step} failed for ${r.mac}: ${r.failed!.message}`);
  }
  return figures;
}

/** Artifact bytes the machines got during the storm, and the span from the first request to the last byte. */
export function stormArtifacts(results: readonly ClientResult[]): { bytes: number; ms: number } {
  const froms = results.map((r) => r.artifactsFrom).filter((x): x is number => x !== undefined);
  const tos = results.map((r) => r.artifactsTo).filter((x): x is number => x !== undefined);
  return {
    bytes: results.reduce((n, r) => n + r.artifactBytes, 0),
    ms: froms.length > 0 ? Math.max(...tos) - Math.min(...froms) : 0,
  };
}

export interface ServerLoad {
  readonly result: LoadResult;
  readonly cpuSeconds: number;
}

/** The artifact-only table, each server's row; returns anvil's throughput over nginx's. */
export function printLoads(loads: Readonly<Record<'anvil' | 'nginx', ServerLoad>>): number {
  const rows: string[][] = [['server', 'wall s', 'MiB/s', 'errors', 'p50 s', 'p99 s', 'server CPU s', 'CPU s/GiB']];
  for (const [name, load] of Object.entries(loads)) {
    const r = load.result;
    const seconds = (q: number) => cell((percentile(r.machineMs, q) ?? NaN) / 1000, 1);
    rows.push([
      name,
      cell(r.wallMs / 1000, 1),
      cell(mibPerSecond(r.bytes, r.wallMs)),
      String(r.errors),
      seconds(0.5),
      seconds(0.99),
      cell(load.cpuSeconds, 1),
      cell(load.cpuSeconds / (r.bytes / GiB), 2),
    ]);
  }
  console.log(table(rows));
  for (const [name, load] of Object.entries(loads)) for (const sample of load.result.samples) console.log(`  ${name}: ${sample}`);
  return mibPerSecond(loads.anvil.result.bytes, loads.anvil.result.wallMs) / mibPerSecond(loads.nginx.result.bytes, loads.nginx.result.wallMs);
}
