import mongoose from 'mongoose';
import { afterAll, describe, vi } from 'vitest';
import { systemClock } from '../../src/platform/clock.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { MongoStore } from '../../src/adapters/store/mongoStore.js';
import { createStandInConnection } from '../helpers/driverStandIn/index.js';
import { storeContract } from './storeContract.js';

/**
 * The contract runs against every store this machine can offer. A MongoDB run that cannot happen
 * says so in one line and shows as skipped, so a green run never hides an untested store.
 */

const START_TIMEOUT_MS = 20_000;
// One database per file run, so parallel runs against a shared MONGODB_URI cannot see each other.
const DB_NAME = `store_contract_${process.pid}_${Date.now().toString(36)}`;

interface MongoTarget {
  uri: string;
  label: string;
  /** Removes what this run created: the database on a shared server, the whole embedded server. */
  dispose: () => Promise<void>;
}

function withDatabase(uri: string, db: string): string {
  // Not `new URL`: a replica-set URI lists several host:port pairs, which URL cannot parse.
  const m = /^(mongodb(?:\+srv)?:\/\/([^/?]+))(?:\/([^?]*))?(\?.*)?$/.exec(uri);
  if (!m) throw new Error('MONGODB_URI is not a mongodb:// URI');
  const [, base, hosts = '', original = '', query = ''] = m;
  // Credentials authenticate against the database in the path unless authSource says otherwise.
  const keepAuth = hosts.includes('@') && !/[?&]authSource=/.test(query);
  const extra = keepAuth ? `${query ? '&' : '?'}authSource=${original || 'admin'}` : '';
  return `${base}/${db}${query}${extra}`;
}

async function startEmbedded(): Promise<MongoTarget> {
  const { MongoMemoryServer } = await import('mongodb-memory-server');
  // The library prints a multi-line stack on failure; the reason goes into our one line instead.
  const quiet = vi.spyOn(console, 'warn').mockImplementation(() => {});
  const starting = MongoMemoryServer.create();
  let timer: NodeJS.Timeout | undefined;
  try {
    const server = await Promise.race([
      starting,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`embedded mongod did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      }),
    ]);
    return { uri: server.getUri(DB_NAME), label: 'embedded mongod', dispose: async () => void (await server.stop()) };
  } catch (err) {
    // A start that finishes after the deadline must not leave a mongod running.
    starting.then((s) => s.stop()).catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
    quiet.mockRestore();
  }
}

async function findMongo(): Promise<MongoTarget | { skipped: string }> {
  const shared = process.env.MONGODB_URI;
  if (shared) {
    const uri = withDatabase(shared, DB_NAME);
    return {
      uri,
      label: 'MONGODB_URI',
      dispose: async () => {
        const conn = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 10_000 }).asPromise();
        try {
          await conn.dropDatabase();
        } finally {
          await conn.close();
        }
      },
    };
  }
  try {
    return await startEmbedded();
  } catch (err) {
    const reason = String((err as Error)?.message ?? err)
      .replace(/\s+/g, ' ')
      .trim();
    return { skipped: `no MONGODB_URI and the embedded mongod failed to start: ${reason}` };
  }
}

const mongo = await findMongo();
if ('skipped' in mongo) process.stderr.write(`[store-contract] MongoDB run skipped: ${mongo.skipped}\n`);

storeContract('MemoryStore', async () => new MemoryStore(systemClock));

// The driver-level tier: the real MongoStore and Mongoose over a server-less stand-in of the
// driver (BSON round trip, the schema's unique and partial indexes, mingo for queries). Not a
// server: it proves the adapter, not MongoDB's own behaviour under load or failover.
storeContract('MongoStore over the driver stand-in (no server)', async () =>
  MongoStore.open(await createStandInConnection(), { clock: systemClock, description: 'driver stand-in' }),
);

describe.skipIf('skipped' in mongo)('MongoDB', () => {
  // One connection for the file; a failed connect fails every case at once instead of retrying.
  let connecting: Promise<MongoStore> | undefined;

  storeContract(`MongoStore (${'label' in mongo ? mongo.label : 'unavailable'})`, async () => {
    if ('skipped' in mongo) throw new Error('unreachable: the MongoDB suite is skipped');
    connecting ??= MongoStore.connect(mongo.uri, { clock: systemClock, description: 'store contract' });
    const store = await connecting;
    // Emptied, not dropped: the unique indexes built at connect are part of what is under test.
    await Promise.all([store.payments.deleteMany({}), store.purchaseRequests.deleteMany({}), store.sellerOffers.deleteMany({})]);
    return store;
  });

  afterAll(async () => {
    const store = await connecting?.catch(() => undefined);
    await store?.close();
  });
});

afterAll(async () => {
  if (!('skipped' in mongo)) await mongo.dispose();
});
