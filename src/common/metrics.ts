// A small metrics registry and its Prometheus text exposition (format 0.0.4): counters and
// histograms kept in memory by the parts that observe them, gauges and counters gathered from
// elsewhere (the database, a server's counters) at each scrape. No clock, no I/O.

export type Labels = Readonly<Record<string, string>>;

/** Seconds: from a fast BMC answer on a LAN (a few ms) to a power-off that waits for the machine. */
export const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;
/** Seconds: a deploy of a small image (under a minute) to a large one over a slow link (hours). */
export const DEPLOY_BUCKETS_S = [30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400] as const;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value as the format writes it: backslash, quote and newline escaped. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return '';
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

function numberText(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function keyOf(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** One histogram series: cumulative bucket counts, sum and count. */
export interface HistogramValue {
  readonly buckets: readonly number[];
  readonly counts: number[];
  sum: number;
  count: number;
}

export function emptyHistogram(buckets: readonly number[]): HistogramValue {
  return { buckets, counts: buckets.map(() => 0), sum: 0, count: 0 };
}

export function observeInto(h: HistogramValue, value: number): void {
  for (let i = 0; i < h.buckets.length; i++) if (value <= h.buckets[i]!) h.counts[i]!++;
  h.sum += value;
  h.count++;
}

/** What a collector returns at a scrape: one family, its series. */
export type Family =
  | { readonly name: string; readonly help: string; readonly type: 'gauge' | 'counter'; readonly series: ReadonlyArray<{ labels: Labels; value: number }> }
  | { readonly name: string; readonly help: string; readonly type: 'histogram'; readonly series: ReadonlyArray<{ labels: Labels; value: HistogramValue }> };

export type Collector = () => Promise<Family[]> | Family[];

function checkName(name: string, labels: readonly string[]): void {
  if (!METRIC_NAME.test(name)) throw new Error(`metric name '${name}' is not a Prometheus name`);
  for (const l of labels) if (!LABEL_NAME.test(l) || l === 'le') throw new Error(`label '${l}' of ${name} is not a usable label name`);
}

export class Counter {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  readonly name: string;
  readonly help: string;
  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  inc(labels: Labels = {}, by = 1): void {
    const key = keyOf(labels);
    const entry = this.#values.get(key);
    if (entry) entry.value += by;
    else this.#values.set(key, { labels: { ...labels }, value: by });
  }

  family(): Family {
    return { name: this.name, help: this.help, type: 'counter', series: [...this.#values.values()] };
  }
}

export class Histogram {
  readonly #values = new Map<string, { labels: Labels; value: HistogramValue }>();
  readonly name: string;
  readonly help: string;
  readonly buckets: readonly number[];
  constructor(name: string, help: string, buckets: readonly number[]) {
    this.name = name;
    this.help = help;
    this.buckets = buckets;
  }

  observe(labels: Labels, value: number): void {
    const key = keyOf(labels);
    let entry = this.#values.get(key);
    if (!entry) this.#values.set(key, (entry = { labels: { ...labels }, value: emptyHistogram(this.buckets) }));
    observeInto(entry.value, value);
  }

  family(): Family {
    return { name: this.name, help: this.help, type: 'histogram', series: [...this.#values.values()] };
  }
}

export class Metrics {
  readonly #owned: Array<Counter | Histogram> = [];
  readonly #collectors: Collector[] = [];

  counter(name: string, help: string): Counter {
    checkName(name, []);
    const c = new Counter(name, help);
    this.#owned.push(c);
    return c;
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    checkName(name, []);
    const h = new Histogram(name, help, buckets);
    this.#owned.push(h);
    return h;
  }

  /** A source read at each scrape (the database, a server's counters). */
  collect(collector: Collector): void {
    this.#collectors.push(collector);
  }

  /** Every family in the text format, families sorted by name. */
  async render(): Promise<string> {
    const families = this.#owned.map((m) => m.family());
    for (const c of this.#collectors) families.push(...(await c()));
    families.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return families.map(renderFamily).join('');
  }
}

export function renderFamily(f: Family): string {
  for (const s of f.series) checkName(f.name, Object.keys(s.labels));
  const lines = [`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`];
  if (f.type === 'histogram') {
    for (const { labels, value } of f.series) {
      value.buckets.forEach((le, i) => lines.push(`${f.name}_bucket${labelText(labels, ['le', numberText(le)])} ${value.counts[i]}`));
      lines.push(`${f.name}_bucket${labelText(labels, ['le', '+Inf'])} ${value.count}`);
      lines.push(`${f.name}_sum${labelText(labels)} ${numberText(value.sum)}`);
      lines.push(`${f.name}_count${labelText(labels)} ${value.count}`);
    }
  } else {
    for (const { labels, value } of f.series) lines.push(`${f.name}${labelText(labels)} ${numberText(value)}`);
  }
  return `${lines.join('\n')}\n`;
}
