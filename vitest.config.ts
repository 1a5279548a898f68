import { defineConfig } from 'vitest/config';

/**
 * Two tiers of one suite:
 * - `memory`: every test, on the in-process store (and real chains, fake SHKeeper, real Redis);
 * - `driver`: the service suites again, on the real MongoStore + Mongoose over the server-less
 *   driver stand-in (TEST_STORE=driver, test/helpers/testStore.ts). It is not a MongoDB server:
 *   it proves the adapter (normalisation, index builds, duplicate keys, time limits) and that every
 *   query the services send is served by an index (test/helpers/queryShapeCheck.ts). The run on a
 *   real server happens in test/store/store.test.ts whenever MONGODB_URI is set or an embedded
 *   mongod starts.
 */
const DRIVER_SUITES = [
  'test/controller/**/*.test.ts',
  'test/shkeeper/**/*.test.ts',
  'test/payouts/**/*.test.ts',
  'test/escrow/**/*.test.ts',
  'test/legacy/**/*.test.ts',
  'test/payments/**/*.test.ts',
  'test/configuration/**/*.test.ts',
];

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Each file builds its own app and store; nothing is shared between cases.
    isolate: true,
    // CI also writes a JSON report, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: 'test-results.json' },
    projects: [
      { extends: true, test: { name: 'memory', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'driver',
          include: DRIVER_SUITES,
          env: { TEST_STORE: 'driver' },
          setupFiles: ['test/helpers/queryShapeCheck.ts'],
        },
      },
    ],
  },
});
