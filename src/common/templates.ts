// Liquid templates for boot profiles and test scripts, with limits so a template can't
// parse, render or allocate forever. Output is not HTML-escaped: these are shell scripts
// and boot configurations. Differences from pxemngr's Django templates: `elsif` not `elif`,
// `forloop.index` not `forloop.counter`, `{% comment %}` not `{# #}`.
import { Liquid } from 'liquidjs';
import { AnvilError } from './errors.ts';

export const TEMPLATE_LIMITS = {
  /** Characters a template may have. */
  parseLimit: 1_000_000,
  /** Milliseconds a render may take. */
  renderLimit: 2_000,
  /** Bytes of strings and arrays a render may build. */
  memoryLimit: 64 * 1024 * 1024,
} as const;

const engine = new Liquid({
  ...TEMPLATE_LIMITS,
  ownPropertyOnly: true,
  strictFilters: true,
  cache: false,
});

export interface TemplateProblem {
  readonly line: number | undefined;
  readonly message: string;
}

/** Parses a template; returns the problem (with its line) when it has a syntax error. */
export function checkTemplate(source: string): TemplateProblem | undefined {
  try {
    engine.parse(source);
    return undefined;
  } catch (error) {
    return describe(error);
  }
}

export async function renderTemplate(source: string, variables: Record<string, unknown>, what: string): Promise<string> {
  try {
    return await engine.parseAndRender(source, variables);
  } catch (error) {
    const problem = describe(error);
    const where = problem.line ? `${what}:${problem.line}` : what;
    throw new AnvilError('TEMPLATE_FAILED', 'internal', `cannot render ${where}: ${problem.message}`, { cause: error });
  }
}

function describe(error: unknown): TemplateProblem {
  const e = error as { message?: string; token?: { getPosition?: () => [number, number] } };
  const position = e.token?.getPosition?.();
  // liquidjs appends ", line:3, col:5" to its messages; the line goes into the problem instead.
  const message = (e.message ?? String(error)).replace(/, line:\d+, col:\d+$/, '').split('\n')[0]!;
  const lineFromMessage = /line:(\d+)/.exec(e.message ?? '')?.[1];
  return { line: position?.[0] ?? (lineFromMessage ? Number(lineFromMessage) : undefined), message };
}
