// Django's template language, the part pxemngr's test scripts and profiles use, so they render
// unchanged: {{ var.attr|filter:"arg" }}, {% if/elif/else %} with and/or/not and comparisons,
// {% for x in list [reversed] %}…{% empty %} with forloop, {% with %}, {% firstof %},
// {% comment %} and {# #}, {% autoescape %}, {% verbatim %}, {% templatetag %}, {% spaceless %},
// {% cycle %}, {% now %} and the common filters. Scripts render with autoescape off (a shell
// script is not HTML). Bounded: a parse limit, and a limit on the output and on loop steps.
// Unknown tags and filters are errors naming the line, as Django's are.

export const DJANGO_LIMITS = { source: 1_000_000, output: 16 * 1024 * 1024, steps: 1_000_000 } as const;

export class DjangoTemplateError extends Error {
  override readonly name = 'DjangoTemplateError';
  readonly line: number | undefined;
  constructor(message: string, line?: number) {
    super(message);
    this.line = line;
  }
}

type Token = { kind: 'text'; text: string; line: number } | { kind: 'var'; text: string; line: number } | { kind: 'tag'; text: string; line: number };

const TOKEN = /\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}|\{#([\s\S]*?)#\}/g;

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let last = 0;
  const count = (s: string) => (s.match(/\n/g) ?? []).length;
  for (const m of source.matchAll(TOKEN)) {
    if (m.index > last) tokens.push({ kind: 'text', text: source.slice(last, m.index), line });
    line += count(source.slice(last, m.index));
    if (m[1] !== undefined) tokens.push({ kind: 'var', text: m[1].trim(), line });
    else if (m[2] !== undefined) tokens.push({ kind: 'tag', text: m[2].trim(), line });
    line += count(m[0]);
    last = m.index + m[0].length;
  }
  if (last < source.length) tokens.push({ kind: 'text', text: source.slice(last), line });
  return tokens;
}

// ---- expressions -------------------------------------------------------------------------

interface Filter {
  readonly name: string;
  readonly arg: string | undefined;
}
interface Expression {
  readonly value: string;
  readonly filters: readonly Filter[];
  readonly line: number;
}

/** Splits on `sep` outside quotes. */
function splitOutside(text: string, sep: string): string[] {
  const parts: string[] = [];
  let quote: string | undefined;
  let current = '';
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === sep) {
      parts.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts;
}

function parseExpression(text: string, line: number): Expression {
  const [value = '', ...filters] = splitOutside(text, '|').map((p) => p.trim());
  if (value === '') throw new DjangoTemplateError(`empty variable in '{{ ${text} }}'`, line);
  return {
    value,
    line,
    filters: filters.map((f) => {
      const colon = splitOutside(f, ':');
      const name = colon[0]!.trim();
      if (!/^\w+$/.test(name)) throw new DjangoTemplateError(`'${f}' is not a filter`, line);
      if (!(name in FILTERS)) throw new DjangoTemplateError(`invalid filter: '${name}'`, line);
      return { name, arg: colon.length > 1 ? colon.slice(1).join(':').trim() : undefined };
    }),
  };
}

type Scope = Array<Record<string, unknown>>;

function lookup(scope: Scope, path: string): unknown {
  const [head, ...rest] = path.split('.');
  let value: unknown;
  for (let i = scope.length - 1; i >= 0; i--) {
    if (Object.hasOwn(scope[i]!, head!)) {
      value = scope[i]![head!];
      break;
    }
  }
  for (const key of rest) {
    if (value === null || value === undefined) return undefined;
    if (Array.isArray(value) && /^\d+$/.test(key)) value = value[Number(key)];
    else if (typeof value === 'object' && Object.hasOwn(value, key)) value = (value as Record<string, unknown>)[key];
    else if (typeof value === 'string' && key === 'length') value = value.length;
    else return undefined;
  }
  return value;
}

/** A literal ("x", 'x', 3, 1.5, True/False/None) or a variable path. */
function resolve(token: string, scope: Scope): unknown {
  if (/^(["']).*\1$/s.test(token)) return token.slice(1, -1);
  if (/^-?\d+(\.\d+)?$/.test(token)) return Number(token);
  if (token === 'True') return true;
  if (token === 'False') return false;
  if (token === 'None') return null;
  return lookup(scope, token);
}

function evaluate(e: Expression, scope: Scope): unknown {
  let value = resolve(e.value, scope);
  for (const f of e.filters) value = FILTERS[f.name]!(value, f.arg === undefined ? undefined : resolve(f.arg, scope));
  return value;
}

/** How Django prints a value: None as 'None', booleans as True/False, objects by their own string. */
export function display(value: unknown): string {
  if (value === undefined) return '';
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (Array.isArray(value)) return `[${value.map((v) => (typeof v === 'string' ? `'${v}'` : display(v))).join(', ')}]`;
  return String(value);
}

function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (value && typeof value === 'object') return Object.keys(value).length > 0 || typeof (value as { valueOf(): unknown }).valueOf() !== 'object';
  return Boolean(value);
}

const str = (v: unknown) => display(v);
const num = (v: unknown) => (typeof v === 'number' ? v : Number(str(v)));

const FILTERS: Record<string, (value: unknown, arg: unknown) => unknown> = {
  default: (v, a) => (truthy(v) ? v : a),
  default_if_none: (v, a) => (v === null || v === undefined ? a : v),
  upper: (v) => str(v).toUpperCase(),
  lower: (v) => str(v).toLowerCase(),
  title: (v) => str(v).replace(/\b\w/g, (c) => c.toUpperCase()),
  capfirst: (v) => str(v).charAt(0).toUpperCase() + str(v).slice(1),
  length: (v) => (Array.isArray(v) ? v.length : typeof v === 'string' ? v.length : 0),
  join: (v, a) => (Array.isArray(v) ? v.map(str).join(str(a ?? '')) : str(v)),
  first: (v) => (Array.isArray(v) ? v[0] : str(v).charAt(0)),
  last: (v) => (Array.isArray(v) ? v[v.length - 1] : str(v).slice(-1)),
  add: (v, a) =>
    Number.isFinite(num(v)) && Number.isFinite(num(a)) && str(v) !== ''
      ? num(v) + num(a)
      : Array.isArray(v) && Array.isArray(a)
        ? [...v, ...a]
        : str(v) + str(a),
  cut: (v, a) => str(v).split(str(a)).join(''),
  yesno: (v, a) => {
    const [yes = 'yes', no = 'no', maybe] = str(a ?? 'yes,no').split(',');
    return v === null || v === undefined ? (maybe ?? no) : truthy(v) ? yes : no;
  },
  pluralize: (v, a) => {
    const [one, many] = str(a ?? 's').includes(',') ? str(a).split(',') : ['', str(a ?? 's')];
    const n = Array.isArray(v) ? v.length : num(v);
    return n === 1 ? one : many;
  },
  divisibleby: (v, a) => num(v) % num(a) === 0,
  floatformat: (v, a) => {
    const digits = a === undefined ? -1 : num(a);
    const n = num(v);
    if (!Number.isFinite(n)) return '';
    const fixed = n.toFixed(Math.abs(digits));
    return digits < 0 && Number.isInteger(n) ? String(n) : fixed;
  },
  stringformat: (v, a) => {
    const spec = str(a);
    if (/^0?\d*d$/.test(spec)) return String(Math.trunc(num(v))).padStart(Number.parseInt(spec, 10) || 0, spec.startsWith('0') ? '0' : ' ');
    if (spec === 's') return str(v);
    if (/^x$/i.test(spec)) return Math.trunc(num(v)).toString(16)[spec === 'X' ? 'toUpperCase' : 'toLowerCase']();
    return str(v);
  },
  slice: (v, a) => {
    const [from, to] = str(a)
      .split(':')
      .map((p) => (p === '' ? undefined : Number(p)));
    return Array.isArray(v) ? v.slice(from, to) : str(v).slice(from, to);
  },
  striptags: (v) => str(v).replace(/<[^>]*>/g, ''),
  safe: (v) => v,
  escape: (v) => str(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;'),
  urlencode: (v) => encodeURIComponent(str(v)).replace(/%2F/g, '/'),
  truncatechars: (v, a) => (str(v).length > num(a) ? `${str(v).slice(0, Math.max(0, num(a) - 1))}…` : str(v)),
  truncatewords: (v, a) => {
    const words = str(v).split(/\s+/);
    return words.length > num(a) ? `${words.slice(0, num(a)).join(' ')} …` : str(v);
  },
  wordcount: (v) => str(v).split(/\s+/).filter(Boolean).length,
  linebreaksbr: (v) => str(v).replace(/\n/g, '<br>'),
  center: (v, a) => {
    const s = str(v);
    const pad = Math.max(0, num(a) - s.length);
    return ' '.repeat(Math.floor(pad / 2)) + s + ' '.repeat(Math.ceil(pad / 2));
  },
  ljust: (v, a) => str(v).padEnd(num(a)),
  rjust: (v, a) => str(v).padStart(num(a)),
  make_list: (v) => [...str(v)],
  random: (v) => (Array.isArray(v) ? v[Math.floor(Math.random() * v.length)] : v),
};

// ---- the tree ----------------------------------------------------------------------------

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'var'; expr: Expression }
  | { kind: 'if'; branches: Array<{ condition: string | undefined; body: Node[]; line: number }> }
  | { kind: 'for'; names: string[]; list: Expression; reversed: boolean; body: Node[]; empty: Node[] }
  | { kind: 'with'; bindings: Array<[string, Expression]>; body: Node[] }
  | { kind: 'firstof'; exprs: Expression[]; fallback: string | undefined }
  | { kind: 'autoescape'; on: boolean; body: Node[] }
  | { kind: 'spaceless'; body: Node[] }
  | { kind: 'cycle'; values: Expression[]; id: number }
  | { kind: 'now'; format: string };

const TEMPLATETAGS: Record<string, string> = {
  openblock: '{%',
  closeblock: '%}',
  openvariable: '{{',
  closevariable: '}}',
  openbrace: '{',
  closebrace: '}',
  opencomment: '{#',
  closecomment: '#}',
};

class Parser {
  readonly #tokens: Token[];
  #i = 0;
  #cycles = 0;

  constructor(tokens: Token[]) {
    this.#tokens = tokens;
  }

  /** Nodes until one of the `ends` tags; returns the nodes and the tag that ended them. */
  parse(ends: readonly string[] = [], opener?: { text: string; line: number }): { nodes: Node[]; end: string | undefined; line: number } {
    const nodes: Node[] = [];
    while (this.#i < this.#tokens.length) {
      const token = this.#tokens[this.#i++]!;
      if (token.kind === 'text') nodes.push({ kind: 'text', text: token.text });
      else if (token.kind === 'var') nodes.push({ kind: 'var', expr: parseExpression(token.text, token.line) });
      else {
        const [name = '', ...args] = token.text.split(/\s+/);
        if (ends.includes(name)) return { nodes, end: token.text, line: token.line };
        const node = this.#tag(name, args.join(' '), token.line, token.text);
        if (node) nodes.push(node);
      }
    }
    if (ends.length > 0) {
      throw new DjangoTemplateError(`tag {% ${opener?.text ?? '?'} %} not closed: expected ${ends.map((e) => `{% ${e} %}`).join(', ')}`, opener?.line);
    }
    return { nodes, end: undefined, line: 0 };
  }

  #tag(name: string, args: string, line: number, text: string): Node | undefined {
    const opener = { text, line };
    switch (name) {
      case 'if': {
        const branches: Array<{ condition: string | undefined; body: Node[]; line: number }> = [];
        let condition: string | undefined = args;
        let at = line;
        for (;;) {
          checkCondition(condition, at);
          const part = this.parse(['elif', 'else', 'endif'], opener);
          branches.push({ condition, body: part.nodes, line: at });
          const [end = '', ...rest] = part.end!.split(/\s+/);
          if (end === 'endif') break;
          if (end === 'else') {
            const last = this.parse(['endif'], opener);
            branches.push({ condition: undefined, body: last.nodes, line: part.line });
            break;
          }
          condition = rest.join(' ');
          at = part.line;
        }
        return { kind: 'if', branches };
      }
      case 'for': {
        const m = /^(.+?)\s+in\s+(.+?)(\s+reversed)?$/.exec(args);
        if (!m) throw new DjangoTemplateError(`'for' statements should use the format 'for x in y': for ${args}`, line);
        const body = this.parse(['empty', 'endfor'], opener);
        const empty = body.end === 'empty' ? this.parse(['endfor'], opener).nodes : [];
        return {
          kind: 'for',
          names: m[1]!.split(',').map((n) => n.trim()),
          list: parseExpression(m[2]!, line),
          reversed: m[3] !== undefined,
          body: body.nodes,
          empty,
        };
      }
      case 'with': {
        const bindings: Array<[string, Expression]> = [];
        const legacy = /^(.+?)\s+as\s+(\w+)$/.exec(args);
        if (legacy) bindings.push([legacy[2]!, parseExpression(legacy[1]!, line)]);
        else
          for (const pair of args.match(/\w+=(?:"[^"]*"|'[^']*'|\S+)/g) ?? []) {
            const eq = pair.indexOf('=');
            bindings.push([pair.slice(0, eq), parseExpression(pair.slice(eq + 1), line)]);
          }
        if (bindings.length === 0) throw new DjangoTemplateError(`'with' expected at least one variable assignment: with ${args}`, line);
        return { kind: 'with', bindings, body: this.parse(['endwith'], opener).nodes };
      }
      case 'firstof': {
        const words = args.match(/"[^"]*"|'[^']*'|\S+/g) ?? [];
        return { kind: 'firstof', exprs: words.map((w) => parseExpression(w, line)), fallback: undefined };
      }
      case 'autoescape':
        if (args !== 'on' && args !== 'off') throw new DjangoTemplateError(`'autoescape' argument should be 'on' or 'off'`, line);
        return { kind: 'autoescape', on: args === 'on', body: this.parse(['endautoescape'], opener).nodes };
      case 'spaceless':
        return { kind: 'spaceless', body: this.parse(['endspaceless'], opener).nodes };
      case 'comment':
        this.#skipUntil('endcomment', line);
        return undefined;
      case 'verbatim':
        return { kind: 'text', text: this.#rawUntil('endverbatim', line) };
      case 'templatetag': {
        const text = TEMPLATETAGS[args];
        if (text === undefined) throw new DjangoTemplateError(`invalid templatetag argument: '${args}'`, line);
        return { kind: 'text', text };
      }
      case 'cycle':
        return { kind: 'cycle', values: (args.match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((w) => parseExpression(w, line)), id: this.#cycles++ };
      case 'now':
        return { kind: 'now', format: args.replace(/^["']|["']$/g, '') };
      case 'load':
        return undefined;
      default:
        throw new DjangoTemplateError(`invalid block tag: '${name}'`, line);
    }
  }

  #skipUntil(end: string, line: number): void {
    while (this.#i < this.#tokens.length) {
      const token = this.#tokens[this.#i++]!;
      if (token.kind === 'tag' && token.text === end) return;
    }
    throw new DjangoTemplateError(`tag {% ${end.replace(/^end/, '')} %} not closed: expected {% ${end} %}`, line);
  }

  #rawUntil(end: string, line: number): string {
    let out = '';
    while (this.#i < this.#tokens.length) {
      const token = this.#tokens[this.#i++]!;
      if (token.kind === 'tag' && token.text === end) return out;
      out += token.kind === 'text' ? token.text : token.kind === 'var' ? `{{ ${token.text} }}` : `{% ${token.text} %}`;
    }
    throw new DjangoTemplateError(`tag {% ${end.replace(/^end/, '')} %} not closed: expected {% ${end} %}`, line);
  }
}

// ---- conditions: or < and < not < comparisons, as Django's smartif ----------------------

const OPERATORS = ['==', '!=', '<=', '>=', '<', '>', 'in', 'not in', 'is', 'is not'] as const;

function conditionWords(condition: string): string[] {
  const words = condition.match(/"[^"]*"|'[^']*'|==|!=|<=|>=|<|>|\(|\)|[^\s=!<>()]+/g) ?? [];
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    if ((words[i] === 'not' && words[i + 1] === 'in') || (words[i] === 'is' && words[i + 1] === 'not')) out.push(`${words[i]} ${words[++i]}`);
    else out.push(words[i]!);
  }
  return out;
}

function checkCondition(condition: string, line: number): void {
  if (condition.trim() === '') throw new DjangoTemplateError("'if' statement needs a condition", line);
}

/** Python's ==, near enough: None equals a missing variable, values of different types never equal. */
function equal(a: unknown, b: unknown): boolean {
  if ((a === null || a === undefined) && (b === null || b === undefined)) return true;
  if (typeof a !== typeof b) return false;
  return typeof a === 'object' ? display(a) === display(b) : a === b;
}

function evaluateCondition(condition: string, scope: Scope, line: number): boolean {
  const words = conditionWords(condition);
  let i = 0;
  const operand = (): unknown => {
    const word = words[i++];
    if (word === undefined) throw new DjangoTemplateError(`unexpected end of condition '${condition}'`, line);
    return evaluate(parseExpression(word, line), scope);
  };
  const comparison = (): boolean => {
    if (words[i] === 'not') {
      i++;
      return !comparison();
    }
    const left = operand();
    const op = words[i] as (typeof OPERATORS)[number] | undefined;
    if (op === undefined || !OPERATORS.includes(op)) return truthy(left);
    i++;
    const right = operand();
    switch (op) {
      case '==':
        return equal(left, right);
      case '!=':
        return !equal(left, right);
      case '<':
        return num(left) < num(right);
      case '>':
        return num(left) > num(right);
      case '<=':
        return num(left) <= num(right);
      case '>=':
        return num(left) >= num(right);
      case 'in':
        return Array.isArray(right) ? right.some((v) => v === left || display(v) === display(left)) : display(right).includes(display(left));
      case 'not in':
        return !(Array.isArray(right) ? right.some((v) => v === left || display(v) === display(left)) : display(right).includes(display(left)));
      case 'is':
        return left === right;
      case 'is not':
        return left !== right;
    }
  };
  const and = (): boolean => {
    let value = comparison();
    while (words[i] === 'and') {
      i++;
      const right = comparison();
      value = value && right;
    }
    return value;
  };
  let value = and();
  while (words[i] === 'or') {
    i++;
    const right = and();
    value = value || right;
  }
  if (i < words.length) throw new DjangoTemplateError(`unused '${words[i]}' at end of if expression: ${condition}`, line);
  return value;
}

// ---- rendering ---------------------------------------------------------------------------

interface RenderState {
  steps: number;
  length: number;
  autoescape: boolean;
  cycles: Map<number, number>;
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;');

function renderNodes(nodes: readonly Node[], scope: Scope, state: RenderState, now: Date): string {
  let out = '';
  for (const node of nodes) {
    if (++state.steps > DJANGO_LIMITS.steps) throw new DjangoTemplateError(`the template took more than ${DJANGO_LIMITS.steps} steps to render`);
    out += renderNode(node, scope, state, now);
    if (out.length + state.length > DJANGO_LIMITS.output) throw new DjangoTemplateError(`the template renders to more than ${DJANGO_LIMITS.output} characters`);
  }
  return out;
}

function renderNode(node: Node, scope: Scope, state: RenderState, now: Date): string {
  switch (node.kind) {
    case 'text':
      return node.text;
    case 'var': {
      const value = display(evaluate(node.expr, scope));
      return state.autoescape && !node.expr.filters.some((f) => f.name === 'safe') ? escapeHtml(value) : value;
    }
    case 'if':
      for (const branch of node.branches)
        if (branch.condition === undefined || evaluateCondition(branch.condition, scope, branch.line)) return renderNodes(branch.body, scope, state, now);
      return '';
    case 'for': {
      let list = evaluate(node.list, scope);
      if (typeof list === 'string') list = [...list];
      else if (list && typeof list === 'object' && !Array.isArray(list)) list = Object.entries(list);
      const items = Array.isArray(list) ? (node.reversed ? [...list].reverse() : list) : [];
      if (items.length === 0) return renderNodes(node.empty, scope, state, now);
      const parent = lookup(scope, 'forloop');
      let out = '';
      items.forEach((item, i) => {
        if (++state.steps > DJANGO_LIMITS.steps) throw new DjangoTemplateError(`the template took more than ${DJANGO_LIMITS.steps} steps to render`);
        const forloop = {
          counter: i + 1,
          counter0: i,
          revcounter: items.length - i,
          revcounter0: items.length - i - 1,
          first: i === 0,
          last: i === items.length - 1,
          parentloop: parent,
        };
        const bound: Record<string, unknown> = { forloop };
        if (node.names.length === 1) bound[node.names[0]!] = item;
        else node.names.forEach((name, j) => (bound[name] = Array.isArray(item) ? item[j] : undefined));
        out += renderNodes(node.body, [...scope, bound], state, now);
      });
      return out;
    }
    case 'with':
      return renderNodes(node.body, [...scope, Object.fromEntries(node.bindings.map(([name, expr]) => [name, evaluate(expr, scope)]))], state, now);
    case 'firstof': {
      const value = node.exprs.map((e) => evaluate(e, scope)).find(truthy);
      return value === undefined ? '' : state.autoescape ? escapeHtml(display(value)) : display(value);
    }
    case 'autoescape': {
      const was = state.autoescape;
      state.autoescape = node.on;
      try {
        return renderNodes(node.body, scope, state, now);
      } finally {
        state.autoescape = was;
      }
    }
    case 'spaceless':
      return renderNodes(node.body, scope, state, now).replace(/>\s+</g, '><').trim();
    case 'cycle': {
      const at = state.cycles.get(node.id) ?? 0;
      state.cycles.set(node.id, at + 1);
      return display(evaluate(node.values[at % node.values.length]!, scope));
    }
    case 'now':
      return formatDate(now, node.format);
  }
}

/** The date format letters scripts use (Django's date filter / now tag): Y m d H i s, and U. */
function formatDate(date: Date, format: string): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const letters: Record<string, () => string> = {
    Y: () => String(date.getUTCFullYear()),
    m: () => two(date.getUTCMonth() + 1),
    d: () => two(date.getUTCDate()),
    H: () => two(date.getUTCHours()),
    i: () => two(date.getUTCMinutes()),
    s: () => two(date.getUTCSeconds()),
    U: () => String(Math.floor(date.getTime() / 1000)),
  };
  return [...format].map((c) => letters[c]?.() ?? c).join('');
}

export interface DjangoTemplate {
  render(variables: Record<string, unknown>, options?: { autoescape?: boolean; now?: Date }): string;
}

/** Parses a template; a DjangoTemplateError (with its line) when it does not parse. */
export function parseDjango(source: string): DjangoTemplate {
  if (source.length > DJANGO_LIMITS.source) throw new DjangoTemplateError(`the template is longer than ${DJANGO_LIMITS.source} characters`);
  const { nodes } = new Parser(tokenize(source)).parse();
  return {
    render: (variables, options = {}) =>
      renderNodes(nodes, [variables], { steps: 0, length: 0, autoescape: options.autoescape ?? false, cycles: new Map() }, options.now ?? new Date()),
  };
}
