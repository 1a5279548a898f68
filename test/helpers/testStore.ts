import type { Clock } from '../../src/platform/clock.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { MongoStore } from '../../src/adapters/store/mongoStore.js';
import type { Collection, Store } from '../../src/core/store/store.js';
import { createStandInConnection, type StandInHandle } from './driverStandIn/index.js';

/**
 * The store a test runs on. By default the in-process store; with TEST_STORE=driver (the
 * `driver` project of vitest.config.ts), the real MongoStore and real Mongoose over the
 * server-less driver stand-in (test/helpers/driverStandIn), so the same service tests also
 * exercise the MongoDB adapter: its normalisation, its index builds, the duplicate-key
 * translation, the time limit every query must carry, and (test/helpers/queryShapeCheck.ts) that
 * every query it sends is one an index serves.
 */
const driverTier = () => process.env.TEST_STORE === 'driver';

/** Every stand-in opened in this test file, for the query-shape check after the file. */
export const openedStandIns: StandInHandle[] = [];

export async function makeTestStore(clock: Clock): Promise<Store> {
  // The one switch between test tiers; the service itself never reads TEST_STORE.
  if (!driverTier()) return new MemoryStore(clock);
  const conn = await createStandInConnection();
  openedStandIns.push(conn.standIn);
  return MongoStore.open(conn, {
    clock,
    description: 'driver stand-in (server-less: BSON round trip + mingo; not a MongoDB server)',
  });
}

/**
 * `makeTestStore` for callers that cannot wait (the app builders are synchronous): every call on
 * the returned store first waits for the store to open.
 */
export function testStore(clock: Clock): Store {
  if (!driverTier()) return new MemoryStore(clock);
  const opening = makeTestStore(clock);
  opening.catch(() => {}); // surfaced by the first call that needs it
  const later = <K extends keyof Store>(name: K) =>
    new Proxy({} as Record<string, unknown>, {
      // A test may replace a method (to interpose a racing writer): what it set wins.
      get: (target, method: string) =>
        Object.hasOwn(target, method)
          ? target[method]
          : method === 'stream'
            ? async function* (...args: unknown[]) {
                const c = (await opening)[name] as unknown as Collection<{ id: string }>;
                yield* c.stream(...(args as Parameters<typeof c.stream>));
              }
            : async (...args: unknown[]) => {
                const c = (await opening)[name] as unknown as Record<string, (...a: unknown[]) => unknown>;
                return c[method]!(...args);
              },
    });
  return {
    kind: 'mongodb',
    description: 'driver stand-in (opening)',
    payments: later('payments') as never,
    purchaseRequests: later('purchaseRequests') as never,
    sellerOffers: later('sellerOffers') as never,
    webhookDeliveries: later('webhookDeliveries') as never,
    idempotencyKeys: later('idempotencyKeys') as never,
    paymentEvents: later('paymentEvents') as never,
    webhookEndpoints: later('webhookEndpoints') as never,
    eventDeliveries: later('eventDeliveries') as never,
    ping: async () => (await opening).ping(),
    close: async () => (await opening).close(),
  };
}
