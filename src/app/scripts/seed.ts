import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TokenService } from '../../platform/auth/tokens.js';
import { systemClock } from '../../platform/clock.js';
import { createLogger } from '../../platform/logger.js';
import { applySeed, parseSeed, type SeedData } from '../../adapters/store/seedFile.js';
import { selectStore } from '../../adapters/store/selectStore.js';
import { scriptArgs, scriptConfig } from './scriptEnv.js';

/**
 * Puts a sample purchase request with two offers into the configured store and prints dev
 * tokens. Ids are fixed, so seeding twice changes nothing. With the embedded mongod, a running
 * service owns it and publishes where it listens (DATA_DIR/mongo/endpoint.json): selectStore
 * connects there instead of starting a second mongod. When the store is in-process it lives in
 * the service's own process, so the sample goes to SEED_FILE instead, which the service loads at
 * start and reloads when it changes.
 */
const SAMPLE: SeedData = {
  purchaseRequests: [{ id: '65a0c0ffee00000000000001', buyerId: 'buyer-1', title: 'Sample purchase request' }],
  sellerOffers: [
    {
      id: '65a0c0ffee00000000000101',
      purchaseRequestId: '65a0c0ffee00000000000001',
      sellerId: 'seller-1',
      amount: '25.5',
      currency: 'USDT',
      walletAddress: '0x1111111111111111111111111111111111111111',
    },
    {
      id: '65a0c0ffee00000000000102',
      purchaseRequestId: '65a0c0ffee00000000000001',
      sellerId: 'seller-2',
      amount: '30',
      currency: 'USDT',
      walletAddress: '0x2222222222222222222222222222222222222222',
    },
  ],
};

const USAGE = `Usage: npm run seed [-- --help]

Puts a sample purchase request with two offers into the configured store (MONGODB_URI, else the
embedded mongod under DATA_DIR: the running service's when it runs, else one started for the
seed; with the in-process store it writes SEED_FILE, which the service loads at start and a
running one reloads) and prints dev tokens for a buyer, two sellers and an admin, signed with
JWT_SECRET (or, when it is unset outside production, the secret kept in DATA_DIR/jwt-secret).
Seeding twice changes nothing. Takes its settings from the environment and .env; no flags.

  -h, --help   show this help
`;

async function main() {
  scriptArgs(USAGE, []);
  const config = scriptConfig();
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const store = await selectStore(config, logger, systemClock);
  try {
    if (store.kind === 'memory') {
      const file = path.resolve(config.seedFile);
      const merged = mergeById(await readExisting(file), SAMPLE);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, `${JSON.stringify(merged, null, 2)}\n`);
      process.stdout.write(
        `The store is in-process: wrote ${file}; the service loads it at start, and a running one reloads it within a second (SEED_FILE).\n`,
      );
    } else {
      const r = await applySeed(parseSeed(SAMPLE), store, systemClock);
      process.stdout.write(`Seeded ${store.description}: ${r.inserted} new of ${r.total} records.\n`);
    }
  } finally {
    await store.close();
  }

  const tokens = new TokenService(config.jwt.secret, { maxLifetimeSeconds: config.jwt.maxLifetimeSeconds });
  const day = Math.min(24 * 3600, config.jwt.maxLifetimeSeconds);
  process.stdout.write(`\npurchaseRequestId=${SAMPLE.purchaseRequests![0]!.id}\n`);
  process.stdout.write(`sellerOfferIds=${SAMPLE.sellerOffers!.map((o) => o.id).join(',')}\n\n`);
  for (const [who, claims] of [
    ['buyer (buyer-1)', { sub: 'buyer-1' }],
    ['seller (seller-1)', { sub: 'seller-1' }],
    ['seller (seller-2)', { sub: 'seller-2' }],
    ['admin (admin-1)', { sub: 'admin-1', role: 'admin' }],
  ] as const) {
    process.stdout.write(`${who}:\n${tokens.sign(claims, day)}\n\n`);
  }
  if (config.jwt.source === 'data-dir') process.stdout.write(`(signed with the generated secret in ${config.jwt.file}; set JWT_SECRET for anything real)\n`);
}

async function readExisting(file: string): Promise<SeedData> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as SeedData;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
}

function mergeById(existing: SeedData, sample: SeedData): SeedData {
  const merge = <T extends { id: string }>(a: T[] = [], b: T[] = []) => [...new Map([...a, ...b].map((r) => [r.id, r])).values()];
  return {
    purchaseRequests: merge(existing.purchaseRequests, sample.purchaseRequests),
    sellerOffers: merge(existing.sellerOffers, sample.sellerOffers),
  };
}

main().catch((err) => {
  process.stderr.write(`seed failed: ${(err as Error).message}\n`);
  process.exit(1);
});
