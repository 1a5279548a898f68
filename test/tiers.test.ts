import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { TIERS, tierOf, type Tier } from '../vitest.config.js';

/**
 * vitest.config.ts runs each test file in one project by what it needs. This reads what every
 * test file imports (and, through test/ helpers, what the imported functions refer to) and checks
 * the lists: a file that starts a chain, a redis-server, the service or another child process is
 * never in `fast`, and a listed file needs what its project is for. A test file is judged by all
 * it imports (its tests may call any of it); a helper, export by export.
 */

const ROOT = path.resolve(import.meta.dirname, '..');

/** What a file starts; `property` (fast-check) is not a process, it only allows a file in `fuzz`. */
type Need = 'chain' | 'redis' | 'process' | 'mongod' | 'property';

/** The helpers that start something, by the export that does. */
const STARTERS: Record<string, Partial<Record<string, Need>>> = {
  'test/helpers/chain/localChain.ts': { startLocalChain: 'chain' },
  'test/helpers/chain/hardhatNode.ts': { startHardhatNode: 'chain' },
  'test/helpers/redisServer.ts': { startLocalRedis: 'redis' },
  'test/helpers/childService.ts': { spawnService: 'process' },
};
const PACKAGES: Record<string, Need> = {
  'node:child_process': 'process',
  child_process: 'process',
  'mongodb-memory-server': 'mongod',
  // A browser (chromium) is a child process.
  'playwright-core': 'process',
  'fast-check': 'property',
};

/**
 * A module read with the TypeScript parser: what each top-level name refers to, so that a file
 * importing `by` from escrowKit does not need a chain because `startEscrowEnv` there starts one.
 */
interface ModuleInfo {
  /** Local binding → where it comes from and under which name ('*': the whole module). */
  imports: Map<string, { from: string; name: string }>;
  /** Top-level declaration → the identifiers it refers to. */
  declarations: Map<string, Set<string>>;
  /** Exported name → local name, or a re-export. */
  exports: Map<string, { local: string } | { from: string; name: string }>;
  starAll: string[];
  /** What runs when the module is loaded: side-effect imports and top-level code ('import:<module>' for an import). */
  onLoad: Set<string>;
}

const infoCache = new Map<string, ModuleInfo>();

function moduleInfo(file: string): ModuleInfo {
  const cached = infoCache.get(file);
  if (cached) return cached;
  const source = ts.createSourceFile(file, readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest);
  const info: ModuleInfo = { imports: new Map(), declarations: new Map(), exports: new Map(), starAll: [], onLoad: new Set() };
  const refsOf = (node: ts.Node): Set<string> => {
    const refs = new Set<string>();
    const visit = (n: ts.Node): void => {
      if (ts.isIdentifier(n)) refs.add(n.text);
      if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && ts.isStringLiteral(n.arguments[0]!)) {
        refs.add(`import:${n.arguments[0].text}`);
      }
      ts.forEachChild(n, visit);
    };
    visit(node);
    return refs;
  };
  const exported = (node: ts.Node) => ts.canHaveModifiers(node) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement)) {
      const from = (statement.moduleSpecifier as ts.StringLiteral).text;
      const clause = statement.importClause;
      if (!clause) info.onLoad.add(`import:${from}`);
      if (!clause || clause.isTypeOnly) continue;
      if (clause.name) info.imports.set(clause.name.text, { from, name: 'default' });
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) info.imports.set(bindings.name.text, { from, name: '*' });
      if (bindings && ts.isNamedImports(bindings)) {
        for (const el of bindings.elements) if (!el.isTypeOnly) info.imports.set(el.name.text, { from, name: (el.propertyName ?? el.name).text });
      }
    } else if (ts.isExportDeclaration(statement)) {
      if (statement.isTypeOnly) continue;
      const from = statement.moduleSpecifier && (statement.moduleSpecifier as ts.StringLiteral).text;
      const clause = statement.exportClause;
      if (!clause && from) info.starAll.push(from);
      if (clause && ts.isNamedExports(clause)) {
        for (const el of clause.elements) {
          if (el.isTypeOnly) continue;
          const name = (el.propertyName ?? el.name).text;
          info.exports.set(el.name.text, from ? { from, name } : { local: name });
        }
      }
    } else if (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) {
      if (!statement.name) continue;
      info.declarations.set(statement.name.text, refsOf(statement));
      if (exported(statement)) info.exports.set(statement.name.text, { local: statement.name.text });
    } else if (ts.isVariableStatement(statement)) {
      for (const d of statement.declarationList.declarations) {
        if (!ts.isIdentifier(d.name)) continue;
        const refs = d.initializer ? refsOf(d.initializer) : new Set<string>();
        info.declarations.set(d.name.text, refs);
        if (exported(statement)) info.exports.set(d.name.text, { local: d.name.text });
        // An initializer that is not a function runs when the module loads.
        if (d.initializer && !ts.isArrowFunction(d.initializer) && !ts.isFunctionExpression(d.initializer)) for (const r of refs) info.onLoad.add(r);
      }
    } else if (!ts.isInterfaceDeclaration(statement) && !ts.isTypeAliasDeclaration(statement)) {
      for (const r of refsOf(statement)) info.onLoad.add(r);
    }
  }
  infoCache.set(file, info);
  return info;
}

/** The module `from` names, relative to the repository root, when it is a test/ module that exists. */
function testModule(file: string, from: string): string | undefined {
  if (!from.startsWith('.')) return undefined;
  const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), from)).replace(/\.js$/, '.ts');
  // Outside test/ is in-process; a module that does not exist is the type checker's to report.
  return target.startsWith('test/') && existsSync(path.join(ROOT, target)) ? target : undefined;
}

/** Memoised by key; a name met again while it is being worked out (a cycle) adds nothing. */
function memo(cache: Map<string, Set<Need>>, key: string, work: () => Set<Need>): Set<Need> {
  const known = cache.get(key);
  if (known) return known;
  const needs = new Set<Need>();
  cache.set(key, needs);
  for (const need of work()) needs.add(need);
  return needs;
}
const union = (sets: Iterable<Set<Need>>) => new Set([...sets].flatMap((set) => [...set]));

const importCache = new Map<string, Set<Need>>();
const bindingCache = new Map<string, Set<Need>>();

/** What using `name` imported from `from` (in `file`) starts, loading the module included; '*' is the whole module. */
function importNeeds(file: string, from: string, name: string): Set<Need> {
  const pkg = PACKAGES[from];
  if (pkg) return new Set([pkg]);
  const target = testModule(file, from);
  if (!target) return new Set();
  return memo(importCache, `${target}#${name}`, () => {
    const starter = STARTERS[target];
    if (starter) return new Set(Object.entries(starter).flatMap(([n, need]) => (need && (name === '*' || name === n) ? [need] : [])));
    const info = moduleInfo(target);
    const names = name === '*' ? [...info.exports.keys()] : [name];
    return union([
      bindingsNeeds(target, [...info.onLoad]),
      ...names.map((n) => exportNeeds(target, n)),
      ...(name === '*' ? info.starAll.map((star) => importNeeds(target, star, '*')) : []),
    ]);
  });
}

function exportNeeds(file: string, name: string): Set<Need> {
  const info = moduleInfo(file);
  const entry = info.exports.get(name);
  if (!entry) return union(info.starAll.map((star) => importNeeds(file, star, name)));
  return 'local' in entry ? bindingsNeeds(file, [entry.local]) : importNeeds(file, entry.from, entry.name);
}

/** What the top-level names of `file` start, through what they refer to. */
function bindingsNeeds(file: string, names: string[]): Set<Need> {
  const info = moduleInfo(file);
  return union(
    names.map((name) =>
      memo(bindingCache, `${file}#${name}`, () => {
        if (name.startsWith('import:')) return importNeeds(file, name.slice('import:'.length), '*');
        const imported = info.imports.get(name);
        if (imported) return importNeeds(file, imported.from, imported.name);
        return bindingsNeeds(file, [...(info.declarations.get(name) ?? [])]);
      }),
    ),
  );
}

/** What a test file starts: whatever it imports may be used by its tests. */
function needsOf(file: string): Set<Need> {
  if (!mayNeed(file)) return new Set();
  const info = moduleInfo(file);
  return bindingsNeeds(file, [...info.imports.keys(), ...info.onLoad]);
}

const TRIGGERS = [...Object.values(STARTERS).flatMap((s) => Object.keys(s)), ...Object.keys(PACKAGES)];
const LOCAL_IMPORT = /(?:from\s+|import\s*\(?\s*)['"](\.[^'"]+)['"]/g;

/** Whether any module a file reaches names a starter at all: most do not, and need no parsing. */
function mayNeed(file: string, seen = new Set<string>()): boolean {
  if (seen.has(file)) return false;
  seen.add(file);
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  if (TRIGGERS.some((t) => text.includes(t))) return true;
  return [...text.matchAll(LOCAL_IMPORT)].some((m) => {
    const target = testModule(file, m[1]!);
    // A starter's own module names its starter; its importer names it too when it uses it.
    return target !== undefined && !STARTERS[target] && mayNeed(target, seen);
  });
}

function testFiles(dir = 'test'): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : testFiles(rel);
    return rel.endsWith('.test.ts') ? [rel] : [];
  });
}

/**
 * The project a file belongs in, by what it needs. `fuzz` (long property runs, for files using
 * fast-check) and `slow` (in-process files that take seconds) are choices, by measured time.
 */
function expectedTier(file: string): Tier {
  const needs = needsOf(file);
  if (needs.has('redis') || needs.has('process') || needs.has('mongod')) return 'system';
  if (needs.has('chain')) return 'chain';
  const listed = tierOf(file);
  if (listed === 'fuzz' && needs.has('property')) return 'fuzz';
  if (listed === 'slow') return 'slow';
  return 'fast';
}

describe('test tiers (vitest.config.ts)', () => {
  const files = testFiles();

  it('finds the test files and what they start', () => {
    expect(files.length).toBeGreaterThan(50);
    expect([...needsOf('test/decentralized/save.test.ts')]).toEqual(['chain']);
    expect([...needsOf('test/scaling/sigtermUnderLoad.test.ts')].sort()).toEqual(['process', 'redis']);
    expect([...needsOf('test/controller/createPayment.test.ts')]).toEqual([]);
  });

  it('puts each file in the project for what it needs: nothing that starts a process in fast', () => {
    const misplaced = files
      .map((file) => ({ file, listed: tierOf(file), needs: [...needsOf(file)].sort().join(', ') || 'nothing', expected: expectedTier(file) }))
      .filter((f) => f.listed !== f.expected)
      .map((f) => `${f.file}: in ${f.listed}, needs ${f.needs}: belongs in ${f.expected}`);
    expect(misplaced).toEqual([]);
  });

  it('lists only paths that exist', () => {
    const missing = Object.values(TIERS)
      .flat()
      .filter((entry) => !existsSync(path.join(ROOT, entry)));
    expect(missing).toEqual([]);
  });
});
