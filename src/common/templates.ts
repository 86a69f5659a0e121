// Templates for boot profiles and test scripts, in either of two dialects chosen per file:
// Django's (pxemngr's scripts, unchanged: django.ts) or Liquid's (liquidjs). With limits so a
// template can't parse, render or allocate forever. Output is not HTML-escaped: these are shell
// scripts and boot configurations. A file names its dialect on its first line
// (`{# anvil: django #}`, `{% comment %}anvil: liquid{% endcomment %}`), else the syntax it
// uses tells (`elif`, `{# #}`, `forloop.counter`, `|upper` are Django's; `elsif`, `assign`,
// `forloop.index`, `| upcase` Liquid's); a file that uses neither's own syntax renders as Django.
import { Drop, Liquid } from 'liquidjs';
import { AnvilError } from './errors.ts';
import { DjangoTemplateError, parseDjango } from './django.ts';

export type TemplateDialect = 'django' | 'liquid';

const EXPLICIT = /^\s*(?:\{#\s*anvil:\s*(django|liquid)\s*#\}|\{%\s*comment\s*%\}\s*anvil:\s*(django|liquid)\s*\{%\s*endcomment\s*%\})/;
const DJANGO_SYNTAX = [
  /\{%\s*elif\b/,
  /\{#/,
  /forloop\.(counter|counter0|revcounter|revcounter0|parentloop)\b/,
  /\{%\s*(firstof|with|autoescape|empty|verbatim|templatetag|spaceless|now|load)\b/,
  /\|\s*(upper|lower|length|yesno|pluralize|cut|add|default_if_none|floatformat|stringformat|capfirst|title|linebreaksbr|truncatewords|wordcount|striptags|urlencode|divisibleby|center|ljust|rjust|make_list)\b/,
  /\|\s*\w+:"/,
];
const LIQUID_SYNTAX = [
  /\{%-?\s*(elsif|assign|capture|unless|case|liquid|raw|increment|decrement|tablerow|echo|render|include|break|continue)\b/,
  /forloop\.(index|index0|rindex|rindex0|length)\b/,
  /\{%-|-%\}|\{\{-|-\}\}/,
  /\|\s*(upcase|downcase|size|append|prepend|strip|lstrip|rstrip|split|replace|remove|remove_first|plus|minus|times|divided_by|modulo|where|map|sort|uniq|compact|url_encode|strip_html|truncate)\b/,
  /\|\s*\w+\s*:\s*[^\s"]/,
  /\(\s*[\w.]+\s*\.\.\s*[\w.]+\s*\)/,
];

/** The dialect a template is written in. */
export function dialectOf(source: string): TemplateDialect {
  const explicit = EXPLICIT.exec(source);
  if (explicit) return (explicit[1] ?? explicit[2]) as TemplateDialect;
  if (LIQUID_SYNTAX.some((r) => r.test(source)) && !DJANGO_SYNTAX.some((r) => r.test(source))) return 'liquid';
  return 'django';
}

/**
 * A record both dialects print as one value (`{{ log }}` is the run id, as anvil has always
 * rendered it) and read fields of (`{{ log.id }}`, `{{ log.status }}`, as pxemngr's scripts do).
 */
export class TemplateRecord extends Drop {
  readonly #shown: string | number;

  constructor(shown: string | number, fields: Readonly<Record<string, unknown>>) {
    super();
    this.#shown = shown;
    Object.assign(this, fields);
  }

  override valueOf(): string | number {
    return this.#shown;
  }

  override toString(): string {
    return String(this.#shown);
  }
}

export const TEMPLATE_LIMITS = {
  /** Characters a template may have. */
  parseLimit: 1_000_000,
  /** Milliseconds a render may take. */
  renderLimit: 2_000,
  /** Bytes of strings and arrays a render may build. */
  memoryLimit: 64 * 1024 * 1024,
} as const;

/** Made at first use: a Liquid engine costs ~12 ms to make, at the start of every command that imports this (most). */
let made: Liquid | undefined;
const engine = (): Liquid =>
  (made ??= new Liquid({
    ...TEMPLATE_LIMITS,
    ownPropertyOnly: true,
    strictFilters: true,
    cache: false,
  }));

export interface TemplateProblem {
  readonly line: number | undefined;
  readonly message: string;
}

/** Parses a template; returns the problem (with its line) when it has a syntax error. */
export function checkTemplate(source: string): TemplateProblem | undefined {
  try {
    if (dialectOf(source) === 'django') parseDjango(source);
    else engine().parse(source);
    return undefined;
  } catch (error) {
    return describe(error);
  }
}

export async function renderTemplate(source: string, variables: Record<string, unknown>, what: string): Promise<string> {
  try {
    return dialectOf(source) === 'django' ? parseDjango(source).render(variables) : await engine().parseAndRender(source, variables);
  } catch (error) {
    const problem = describe(error);
    const where = problem.line ? `${what}:${problem.line}` : what;
    throw new AnvilError('TEMPLATE_FAILED', 'internal', `cannot render ${where}: ${problem.message}`, { cause: error });
  }
}

function describe(error: unknown): TemplateProblem {
  if (error instanceof DjangoTemplateError) return { line: error.line, message: error.message };
  const e = error as { message?: string; token?: { getPosition?: () => [number, number] } };
  const position = e.token?.getPosition?.();
  // liquidjs appends ", line:3, col:5" to its messages; the line goes into the problem instead.
  const message = (e.message ?? String(error)).replace(/, line:\d+, col:\d+$/, '').split('\n')[0]!;
  const lineFromMessage = /line:(\d+)/.exec(e.message ?? '')?.[1];
  return { line: position?.[0] ?? (lineFromMessage ? Number(lineFromMessage) : undefined), message };
}
