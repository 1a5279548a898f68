import type { Clock } from '../../src/common/clock.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { MongoStore } from '../../src/store/mongoStore.js';
import type { Store } from '../../src/store/store.js';
import { createStandInConnection } from './driverStandIn/index.js';

/**
 * The store a test runs on. By default the in-process store; with TEST_STORE=driver, the real
 * MongoStore and real Mongoose over the server-less driver stand-in (test/helpers/driverStandIn),
 * so the same tests also exercise the MongoDB adapter: its casting, its index builds, the
 * duplicate-key translation, and the time limit every query must carry.
 */
export async function makeTestStore(clock: Clock): Promise<Store> {
  // The one switch between test tiers; the service itself never reads TEST_STORE.
  if (process.env.TEST_STORE !== 'driver') return new MemoryStore(clock);
  return MongoStore.open(await createStandInConnection(), {
    clock,
    description: 'driver stand-in (server-less: BSON round trip + mingo; not a MongoDB server)',
  });
}
