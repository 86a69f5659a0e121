// A strict reader of Prometheus' text exposition format (0.0.4) for tests: every line must be a
// HELP, a TYPE or a sample of the family the TYPE named, label values escaped as the format says,
// histograms with cumulative buckets ending at +Inf equal to _count. Beside it, prometheusParse
// hands the same text to Prometheus' own Python client parser (python3-prometheus-client).
import { execFile } from 'node:child_process';

export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface ParsedFamily {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/;

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const m = LABEL.exec(rest);
    if (!m) throw new Error(`bad labels in: ${line}`);
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(m[0].length);
  }
  return labels;
}

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`bad value in: ${line}`);
  return n;
}

const SUFFIXES: Record<string, string[]> = { counter: [''], gauge: [''], histogram: ['_bucket', '_sum', '_count'] };

export function parseExposition(text: string): Map<string, ParsedFamily> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, ParsedFamily>();
  let current: { name: string; type: string; help: string; samples: Sample[] } | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (help) {
      if (families.has(help[1]!)) throw new Error(`family ${help[1]} appears twice`);
      current = { name: help[1]!, type: '', help: help[2]!, samples: [] };
      families.set(current.name, current);
    } else if (type) {
      if (!current || current.name !== type[1] || current.type !== '') throw new Error(`TYPE without its HELP: ${line}`);
      current.type = type[2]!;
    } else {
      const m = SAMPLE.exec(line);
      if (!m || !current) throw new Error(`not a sample line: ${line}`);
      const suffix = m[1]!.slice(current.name.length);
      if (!m[1]!.startsWith(current.name) || !(SUFFIXES[current.type] ?? ['']).includes(suffix)) throw new Error(`${m[1]} outside its family ${current.name}`);
      current.samples.push({ name: m[1]!, labels: parseLabels(m[3] ?? '', line), value: parseValue(m[4]!, line) });
    }
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: ParsedFamily): void {
  const series = new Map<string, Sample[]>();
  for (const s of f.samples.filter((x) => x.name.endsWith('_bucket'))) {
    const { le, ...rest } = s.labels;
    if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
    const key = JSON.stringify(rest);
    series.set(key, [...(series.get(key) ?? []), s]);
  }
  for (const [key, buckets] of series) {
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i]!.value < buckets[i - 1]!.value) throw new Error(`${f.name} ${key}: buckets are not cumulative`);
      if (parseValue(buckets[i]!.labels.le!, '') <= parseValue(buckets[i - 1]!.labels.le!, '')) throw new Error(`${f.name} ${key}: le not increasing`);
    }
    const last = buckets.at(-1)!;
    const count = f.samples.find((s) => s.name === `${f.name}_count` && JSON.stringify(s.labels) === key);
    if (last.labels.le !== '+Inf' || !count || count.value !== last.value) throw new Error(`${f.name} ${key}: the +Inf bucket must equal _count`);
  }
}

/** The value of one sample: the family's, with exactly these labels. */
export function valueOf(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values())
    for (const s of f.samples)
      if (s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort())) return s.value;
  return undefined;
}

const PYTHON_PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]})
print(json.dumps(out))
`;

/** Prometheus' Python client parses the text: families with their type and sample count. */
export function prometheusParse(text: string): Promise<Array<{ name: string; type: string; samples: Array<[string, Record<string, string>, number]> }>> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', ['-c', PYTHON_PARSE], { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`prometheus_client could not parse /metrics: ${stderr || error.message}`));
      else resolve(JSON.parse(stdout));
    });
    child.stdin!.end(text);
  });
}
