import { configDefaults, defineConfig } from 'vitest/config';

/**
 * One suite (`npm test`), in projects by what a file needs, so the in-process part runs alone
 * in seconds (`npm run test:fast`):
 * - `fast`: in-process only, on the in-process store: every test file not listed in TIERS, the
 *   files sharing a worker process (isolate: false);
 * - `chain`: files on a local Hardhat chain; one node per worker for the whole run
 *   (test/helpers/chain/chainGlobalSetup.ts), each file isolated on it by evm_snapshot/evm_revert;
 * - `system`: files that start a redis-server, the service, a browser or other child processes,
 *   or an embedded mongod (some of them on a chain too);
 * - `fuzz`: the long property runs;
 * - `slow`: in-process files that take seconds each (reconciler and retry timers, request races,
 *   every route × caller, a thousand records on the driver stand-in), kept out of `fast` so that
 *   `npm run test:fast` stays under half a minute;
 * - `driver`: the service suites again, on the real MongoStore + Mongoose over the server-less
 *   driver stand-in (TEST_STORE=driver, test/helpers/testStore.ts). It is not a MongoDB server:
 *   it proves the adapter (normalisation, index builds, duplicate keys, time limits) and that every
 *   query the services send is served by an index (test/helpers/queryShapeCheck.ts). The run on a
 *   real server happens in test/store/store.test.ts whenever MONGODB_URI is set or an embedded
 *   mongod starts.
 *
 * test/tiers.test.ts reads what every test file imports and fails when a file is in the wrong
 * project (a chain, Redis or child process in `fast`, a listed file that needs none of them, a
 * listed path that no longer exists); in `fast`, test/helpers/fastTierGuard.ts fails a file that
 * starts a process all the same.
 */

/** Entries are files or folders (ending in '/'), relative to the repository root. */
export const TIERS = {
  chain: [
    'test/attack/escrowAttacks.test.ts',
    'test/attack/networkAttacks.test.ts',
    'test/attack/round2AdminPayout.test.ts',
    'test/attack/round2Shkeeper.test.ts',
    'test/attack/round2Web3.test.ts',
    'test/attack/web3Attacks.test.ts',
    'test/chain/chainSettings.test.ts',
    'test/chain/tokenTransfers.test.ts',
    'test/chain/transferVerifier.test.ts',
    'test/decentralized/adminPayout.test.ts',
    'test/decentralized/adminPayoutGas.test.ts',
    'test/decentralized/cronSweep.test.ts',
    'test/decentralized/inflowProperty.test.ts',
    'test/decentralized/payerBinding.test.ts',
    'test/decentralized/race.test.ts',
    'test/decentralized/replacementReorg.test.ts',
    'test/decentralized/rpcDown.test.ts',
    'test/decentralized/save.test.ts',
    'test/decentralized/unauthenticated.test.ts',
    'test/decentralized/updateVerify.test.ts',
    'test/decentralized/verifyAllPending.test.ts',
    'test/escrow/confirmRefusals.test.ts',
    'test/escrow/escrowRace.test.ts',
    'test/escrow/outflowProperty.test.ts',
    'test/escrow/releaseRefund.test.ts',
    'test/legacy/legacyAdmin.test.ts',
    'test/legacy/legacyRoutes.test.ts',
    'test/networks/fallbackProvider.test.ts',
    'test/networks/twoChains.test.ts',
    'test/networks/twoNetworks.test.ts',
    'test/shkeeper/callbackLedger.test.ts',
    'test/shkeeper/confirmTransaction.test.ts',
    'test/shkeeper/monitors.test.ts',
    'test/shkeeper/settlementRace.test.ts',
    'test/shkeeper/walletMonitor.test.ts',
  ],
  system: [
    'test/adminConsole/browserConsole.test.ts',
    'test/deploy/',
    'test/escrow/escrowCli.test.ts',
    'test/networks/networkStart.test.ts',
    'test/process/',
    'test/scaling/',
    'test/store/embeddedStore.test.ts',
    'test/store/store.test.ts',
  ],
  fuzz: ['test/fuzz/', 'test/store/memoryIndexes.test.ts', 'test/store/storeDifferential.test.ts'],
  slow: [
    'test/authz/authorizationMatrix.test.ts',
    'test/chain/rpcFailures.test.ts',
    'test/configuration/health.test.ts',
    'test/payouts/',
    'test/shkeeper/devRoutes.test.ts',
    'test/shkeeper/intents.test.ts',
    'test/shkeeper/intentsRepeat.test.ts',
    'test/shkeeper/webhookConcurrency.test.ts',
    'test/store/mongoAdapter.test.ts',
  ],
} as const satisfies Record<string, readonly string[]>;

export type Tier = 'fast' | keyof typeof TIERS;

const tierNames = Object.keys(TIERS) as (keyof typeof TIERS)[];
const covers = (entry: string, file: string) => (entry.endsWith('/') ? file.startsWith(entry) : file === entry);

/** The project that runs `file` (a path from the repository root) on the in-process store. */
export function tierOf(file: string): Tier {
  return tierNames.find((tier) => TIERS[tier].some((entry) => covers(entry, file))) ?? 'fast';
}

const globs = (entries: readonly string[]) => entries.map((e) => (e.endsWith('/') ? `${e}**/*.test.ts` : e));

const DRIVER_SUITES = [
  'test/controller/**/*.test.ts',
  'test/shkeeper/**/*.test.ts',
  'test/payouts/**/*.test.ts',
  'test/escrow/**/*.test.ts',
  'test/legacy/**/*.test.ts',
  'test/payments/**/*.test.ts',
  'test/configuration/**/*.test.ts',
];

const CHAIN_NODES = 'test/helpers/chain/chainGlobalSetup.ts';

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
      {
        extends: true,
        test: {
          name: 'fast',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...tierNames.flatMap((tier) => globs(TIERS[tier]))],
          setupFiles: ['test/helpers/fastTierGuard.ts'],
          // The files share one worker process per pool id (src/ is loaded once, not once per file:
          // two thirds of the tier's CPU time); each still builds its own app and store.
          isolate: false,
        },
      },
      { extends: true, test: { name: 'chain', include: globs(TIERS.chain), globalSetup: [CHAIN_NODES] } },
      { extends: true, test: { name: 'system', include: globs(TIERS.system), globalSetup: [CHAIN_NODES] } },
      { extends: true, test: { name: 'fuzz', include: globs(TIERS.fuzz) } },
      { extends: true, test: { name: 'slow', include: globs(TIERS.slow) } },
      {
        extends: true,
        test: {
          name: 'driver',
          include: DRIVER_SUITES,
          env: { TEST_STORE: 'driver' },
          setupFiles: ['test/helpers/queryShapeCheck.ts'],
          globalSetup: [CHAIN_NODES],
        },
      },
    ],
  },
});
