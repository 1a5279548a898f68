import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestWorld } from '../helpers/testWorld.js';
import { mountedRoutes } from '../helpers/routeTable.js';
import {
  counters,
  KNOWN_DEFECTS,
  FUZZ_RUNS,
  FUZZ_SEED,
  fuzzPosition,
  positionsOf,
  send,
  startFuzzServer,
  errorShapeProblem,
  type FuzzServer,
} from './hostileKit.js';
import { ROUTES } from './hostileRequests.js';
import { ONE_MB } from './hostileValues.js';

/**
 * Hostile inputs, property-based (fast-check): for every mounted route, each validated body field,
 * query parameter and path parameter of a valid request is replaced — one at a time — by wrong
 * types, huge/negative numbers, exponent and NaN-like strings, 1 MB strings, 1,000-deep nesting,
 * `$` operator and `__proto__`/`constructor`/`prototype` keys, arrays for objects and odd unicode
 * (RTL marks, zero-width, lone surrogates, NUL). A hostile value must get a 4xx in the one error
 * shape and leave the store unchanged; a value the field's documented rule happens to allow must
 * at least never cause a 500. Only validated positions are fuzzed: public routes legitimately
 * answer 2xx whatever sits in a position they ignore (unknown query parameters, the dev echo).
 *
 * Replay: the run prints its seed; `FUZZ_SEED=<n>` reruns exactly that, `FUZZ_RUNS=<n>` changes
 * the cases per property (default 25). A failing property also prints fast-check's own seed/path.
 */

const mounted = async () => mountedRoutes((await startTestWorld({ env: { ENABLE_DEV_ROUTES: 'true' } })).app).map((r) => `${r.method} ${r.path}`);

describe('hostile inputs', () => {
  let server: FuzzServer;
  const started = Date.now();

  beforeAll(async () => {
    process.stdout.write(`hostile-input fuzz: FUZZ_SEED=${FUZZ_SEED} FUZZ_RUNS=${FUZZ_RUNS} (set them to replay or widen)\n`);
    server = await startFuzzServer();
  });
  afterAll(async () => {
    await server?.close();
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      `hostile-input fuzz: ${counters.cases} cases (${counters.hostile} hostile, ${counters.legal} legal, ${counters.knownDefects} hitting a known defect) over ${counters.properties} properties ` +
        `in ${seconds} s, FUZZ_SEED=${FUZZ_SEED}\n`,
    );
  });

  it('has a valid request for every mounted route, and none for a route that is not mounted', async () => {
    const routes = await mounted();
    expect(
      routes.filter((r) => !(r in ROUTES)),
      'mounted routes without an entry in hostileRequests.ts',
    ).toEqual([]);
    expect(
      Object.keys(ROUTES).filter((r) => !routes.includes(r)),
      'entries for routes that are not mounted',
    ).toEqual([]);
  });

  it('answers each unmutated valid request as expected (so a refusal below is about the one hostile value)', async () => {
    const problems: string[] = [];
    for (const [route, f] of Object.entries(ROUTES)) {
      const fresh = await startFuzzServer();
      try {
        const a = await send(fresh.url, route, f.valid(fresh.seeded));
        if (a.status !== f.baseline) problems.push(`${route}: expected ${f.baseline}, got ${a.status} ${a.text.slice(0, 200)}`);
        if (a.status === 503 && a.json?.error?.code !== 'not_configured') problems.push(`${route}: 503 is not not_configured: ${a.text}`);
      } finally {
        await fresh.close();
      }
    }
    expect(problems).toEqual([]);
  });

  it('refuses a 1 MB URL before the app (Node answers 431), and a 1 MB JSON body with 413 in the error shape', async () => {
    const longQuery = await fetch(`${server.url}/api/payment?status=${ONE_MB}`);
    expect(longQuery.status).toBe(431);
    const longPath = await fetch(`${server.url}/api/payment/${ONE_MB}`);
    expect(longPath.status).toBe(431);
    const big = await send(server.url, 'POST /api/payment/configuration', { as: 'anonymous', body: { currency: ONE_MB } });
    expect(big.status).toBe(413);
    expect(errorShapeProblem(big, false)).toBeUndefined();
  });

  // Pinned bugs (see KNOWN_DEFECTS): these fail today, so `it.fails` passes; once fixed it fails and the entry goes.
  for (const d of KNOWN_DEFECTS) {
    for (const value of d.values) {
      it.fails(`KNOWN DEFECT ${d.route} ${d.where}.${d.name} = ${JSON.stringify(value)} is refused with a 4xx — ${d.what}`, async () => {
        const f = ROUTES[d.route]!;
        const valid = f.valid(server.seeded);
        const a = await send(server.url, d.route, valid, { body: { ...valid.body, [d.name]: value } });
        expect(a.status).toBeGreaterThanOrEqual(400);
        expect(a.status).toBeLessThan(500);
      });
    }
  }

  for (const [route, f] of Object.entries(ROUTES)) {
    const positions = positionsOf(f);
    if (positions.length === 0) continue;
    it(`${route}: ${positions.map((p) => (p.where === 'whole body' ? 'body' : `${p.where}.${p.name}`)).join(', ')}`, async () => {
      // Every position runs even when one fails, so a report names all of a route's problems at once.
      const failures: string[] = [];
      for (const pos of positions) {
        try {
          await fuzzPosition(server, route, f, pos);
        } catch (err) {
          const e = err as Error & { cause?: Error };
          failures.push(`${e.cause?.message ?? ''}\n${e.message}`);
        }
      }
      expect(failures).toEqual([]);
    });
  }
});
