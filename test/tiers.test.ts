import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TIERS, tierOf, type Tier } from '../vitest.config.js';

/**
 * vitest.config.ts runs each test file in one project by what it needs. This reads what every
 * test file imports (and, through test/ helpers, what they import) and checks the lists: a file
 * that starts a chain, a redis-server, the service or another child process is never in `fast`,
 * and a listed file needs what its project is for. Helpers are judged by what they export as a
 * whole: a file importing web3Harness needs a chain, since its suites start one.
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
  'fast-check': 'property',
};

interface Import {
  from: string;
  /** Value names imported; undefined when the whole module is (default, namespace, dynamic, side effect). */
  names: string[] | undefined;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s+(type\s+)?(?:([\w$*{}\s,]+?)\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(source: string): Import[] {
  const found: Import[] = [];
  for (const m of source.matchAll(IMPORT)) {
    if (m[4]) found.push({ from: m[4], names: undefined });
    else if (!m[1]) found.push({ from: m[3]!, names: namedOnly(m[2]) });
  }
  return found;
}

/** `{ a, type B, c as d }` → ['a', 'c']; a default or namespace import → undefined (all of it). */
function namedOnly(clause: string | undefined): string[] | undefined {
  const braces = clause?.match(/^\{([^}]*)\}$/s);
  if (!braces) return undefined;
  return braces[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s && !s.startsWith('type '))
    .map((s) => s.split(/\s+as\s+/)[0]!);
}

const needsCache = new Map<string, Set<Need>>();

/** What a module under test/ starts, directly or through the test helpers it imports (src/ is in-process). */
function needsOf(file: string): Set<Need> {
  const cached = needsCache.get(file);
  if (cached) return cached;
  const needs = new Set<Need>();
  needsCache.set(file, needs); // a cycle adds nothing
  for (const imp of importsOf(readFileSync(path.join(ROOT, file), 'utf8'))) {
    const pkg = PACKAGES[imp.from];
    if (pkg) needs.add(pkg);
    if (!imp.from.startsWith('.')) continue;
    const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), imp.from)).replace(/\.js$/, '.ts');
    // Outside test/ is in-process; a module that does not exist is the type checker's to report.
    if (!target.startsWith('test/') || !existsSync(path.join(ROOT, target))) continue;
    const starter = STARTERS[target];
    if (starter) {
      for (const [name, need] of Object.entries(starter)) if (need && (imp.names?.includes(name) ?? true)) needs.add(need);
    } else if (imp.names?.length !== 0) {
      for (const need of needsOf(target)) needs.add(need);
    }
  }
  return needs;
}

function testFiles(dir = 'test'): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : testFiles(rel);
    return rel.endsWith('.test.ts') ? [rel] : [];
  });
}

/** The project a file belongs in, by what it needs; `fuzz` is a choice (slow property runs) kept for fast-check files. */
function expectedTier(file: string): Tier {
  const needs = needsOf(file);
  if (needs.has('redis') || needs.has('process') || needs.has('mongod')) return 'system';
  if (needs.has('chain')) return 'chain';
  if (tierOf(file) === 'fuzz' && needs.has('property')) return 'fuzz';
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
