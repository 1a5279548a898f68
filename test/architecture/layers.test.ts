import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';

/**
 * The layer rule that `npm run lint` runs (.dependency-cruiser.cjs), proven able to fail: over a
 * small tree with one import of each forbidden kind (test/architecture/fixture), it must name every
 * one of them, and nothing that is allowed. The real src/ passing is `npm run lint`'s job.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const rules = (createRequire(import.meta.url)('../../.dependency-cruiser.cjs') as { forbidden: IForbiddenRuleType[] }).forbidden;

async function violations(baseDir: string): Promise<string[]> {
  const { output } = await cruise(['src'], { ruleSet: { forbidden: rules }, validate: true, baseDir, includeOnly: '^(src|test)/' });
  const result = output as ICruiseResult;
  return result.summary.violations.map((v) => (v.cycle ? `${v.rule.name}: ${v.from}` : `${v.rule.name}: ${v.from} -> ${v.to}`)).sort();
}

describe('the layer rule', () => {
  it('names every upward, sideways, cyclic and out-of-layer import, and nothing allowed', async () => {
    const found = await violations(path.join(here, 'fixture'));
    const byRule = (name: string) => found.filter((f) => f.startsWith(`${name}:`));

    expect(byRule('platform-is-generic')).toEqual(['platform-is-generic: src/platform/leak.mjs -> src/core/port.mjs']);
    expect(byRule('core-knows-no-adapter')).toEqual(['core-knows-no-adapter: src/core/port.mjs -> src/adapters/db.mjs']);
    expect(byRule('adapters-serve-the-core')).toEqual(['adapters-serve-the-core: src/adapters/db.mjs -> src/features/a/a.mjs']);
    // A feature may use its own folder and features/shared; shared may not reach back into a feature.
    expect(byRule('features-are-separate')).toEqual([
      'features-are-separate: src/features/a/a.mjs -> src/features/b/b.mjs',
      'features-are-separate: src/features/shared/shared.mjs -> src/features/a/a.mjs',
    ]);
    expect(byRule('only-the-app-composes')).toEqual(['only-the-app-composes: src/features/b/b.mjs -> src/app/app.mjs']);
    expect(byRule('source-never-imports-tests')).toEqual(['source-never-imports-tests: src/core/usesTest.mjs -> test/helper.mjs']);
    expect(byRule('outside-a-layer')).toEqual([
      'outside-a-layer: src/core/usesLoose.mjs -> src/misc/loose.mjs',
      'outside-a-layer: src/misc/orphan.mjs -> src/misc/orphan.mjs',
    ]);
    expect(byRule('no-circular').length).toBeGreaterThan(0);
    // Allowed: a feature's own file, features/shared from a feature, and the app importing a feature.
    expect(found.join('\n')).not.toMatch(/own\.mjs|-> src\/features\/shared\/|src\/app\/app\.mjs -> /);
  });

  it('has no exception list: the only carve-outs are the structure itself', () => {
    const layers = '^src/(app|features|adapters|core|platform)/';
    const allowed = new Set([layers, '^src/app/', '^src/features/($1|shared)/']);
    for (const rule of rules) {
      const { from, to } = rule as { from: { pathNot?: string | string[] }; to: { pathNot?: string | string[] } };
      for (const side of [from, to]) {
        for (const p of [side.pathNot ?? []].flat()) expect(allowed, `${rule.name}: ${p}`).toContain(p);
      }
    }
  });
});
