// Holds src/ to the layers map in docs/layers.json: every import between two parts must be an
// arrow the map allows (and none it forbids), every file must belong to a part, and no modules
// may import each other in a cycle at run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { importsOf, runtimeCycles, sourceFiles, type Import } from './imports.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface LayersMap {
  readonly parts: Record<string, { readonly is: readonly string[]; readonly says: string }>;
  readonly arrows: ReadonlyArray<readonly [string, string]>;
  readonly never: ReadonlyArray<readonly [string, string, string]>;
}

const map = JSON.parse(readFileSync(`${ROOT}docs/layers.json`, 'utf8')) as LayersMap;
const places = Object.entries(map.parts)
  .flatMap(([part, { is }]) => is.map((path) => ({ path, part })))
  .sort((a, b) => b.path.length - a.path.length);

/** The part a file belongs to: the longest folder (or exact file) of the map that holds it. */
function partOf(file: string): string | undefined {
  return places.find(({ path }) => (path.endsWith('/') ? file.startsWith(path) : file === path))?.part;
}

const matches = (pattern: string, part: string) => pattern === '*' || pattern === part;

/** Why an import from one part into another is refused, or undefined when the map allows it. */
export function refusal(from: string, to: string): string | undefined {
  if (from === to) return undefined;
  const never = map.never.find(([a, b]) => matches(a, from) && matches(b, to));
  if (never) return `never allowed: ${never[2]}`;
  if (map.arrows.some(([a, b]) => matches(a, from) && matches(b, to))) return undefined;
  return `the map has no arrow ${from} → ${to}`;
}

const files = sourceFiles(ROOT, 'src');
const imports: Import[] = files.flatMap((file) => importsOf(ROOT, file));

test('every source file belongs to a part of the layers map', () => {
  const unplaced = files.filter((f) => partOf(f) === undefined);
  assert.deepEqual(unplaced, [], `files in no part of docs/layers.json (add the folder to a part's "is"):\n${unplaced.join('\n')}`);
});

test('every import between parts is an arrow of the layers map', () => {
  const wrong: string[] = [];
  for (const i of imports) {
    const from = partOf(i.from);
    const to = partOf(i.to);
    if (!from || !to) continue;
    const why = refusal(from, to);
    if (why) wrong.push(`${i.from}:${i.line} imports '${i.specifier}' (${from} → ${to}): ${why}`);
  }
  assert.deepEqual(wrong, [], `imports the layers map does not allow:\n${wrong.join('\n')}`);
});

test('no modules import each other in a cycle at run time', () => {
  const cycles = runtimeCycles(imports);
  assert.deepEqual(
    cycles,
    [],
    `run-time import cycles (make one side 'import type', or move the shared piece into a module both import):\n${cycles.map((c) => c.join(' ↔ ')).join('\n')}`,
  );
});

test('the layers check itself tells allowed from refused arrows', () => {
  assert.equal(refusal('Web', 'Web'), undefined);
  assert.equal(refusal('Api', 'Machines'), undefined);
  assert.match(refusal('Web', 'Store') ?? '', /never allowed: pages ask services/);
  assert.match(refusal('Protocols', 'Common') ?? '', /never allowed: wire code imports nothing/);
  assert.match(refusal('Machines', 'Boot') ?? '', /no arrow Machines → Boot/);
  assert.deepEqual(
    runtimeCycles([
      { from: 'a.ts', to: 'b.ts', specifier: './b.ts', line: 1, runtime: true, dynamic: false },
      { from: 'b.ts', to: 'a.ts', specifier: './a.ts', line: 1, runtime: true, dynamic: false },
      { from: 'b.ts', to: 'c.ts', specifier: './c.ts', line: 2, runtime: false, dynamic: false },
      { from: 'c.ts', to: 'b.ts', specifier: './b.ts', line: 1, runtime: true, dynamic: false },
    ]),
    [['a.ts', 'b.ts']],
  );
});
