// Reads every import of anvil's sources with TypeScript's parser: which file imports which, and
// whether the import exists at run time (`import type` and `export type` are erased by Node's
// type stripping; everything else, even `import { type X }`, loads the module).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

export interface Import {
  /** Repository-relative path of the importing file. */
  readonly from: string;
  /** Repository-relative path of the imported file (relative imports only). */
  readonly to: string;
  /** The specifier as written. */
  readonly specifier: string;
  readonly line: number;
  /** False for `import type` / `export type`: erased before the code runs. */
  readonly runtime: boolean;
  /** import('...'): loaded when the code runs it, not when the module loads. */
  readonly dynamic: boolean;
}

export function sourceFiles(root: string, dir: string): string[] {
  return readdirSync(join(root, dir))
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(join(root, path)).isDirectory()) return sourceFiles(root, path);
      return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
    });
}

export function importsOf(root: string, file: string): Import[] {
  const text = readFileSync(join(root, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Import[] = [];
  const add = (node: ts.Node, specifier: string, runtime: boolean, dynamic: boolean) => {
    if (!specifier.startsWith('.')) return;
    const to = relative(root, resolve(root, dirname(file), specifier));
    found.push({ from: file, to, specifier, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, runtime, dynamic });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node, node.moduleSpecifier.text, !node.importClause?.isTypeOnly, false);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node, node.moduleSpecifier.text, !node.isTypeOnly, false);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) add(node, arg.text, true, true);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node, node.argument.literal.text, false, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The import cycles among modules loaded at run time (Tarjan's strongly connected components). */
export function runtimeCycles(imports: readonly Import[]): string[][] {
  const edges = new Map<string, Set<string>>();
  for (const i of imports) {
    if (!i.runtime || i.dynamic) continue;
    if (!edges.has(i.from)) edges.set(i.from, new Set());
    edges.get(i.from)!.add(i.to);
  }
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const connect = (v: string): void => {
    indexOf.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!indexOf.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
      }
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || edges.get(v)?.has(v)) cycles.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!indexOf.has(v)) connect(v);
  return cycles;
}
