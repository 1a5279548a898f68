import request from 'supertest';
import { createApp } from '../../src/app/app.js';
import { TokenService } from '../../src/platform/auth/tokens.js';
import { systemClock, type Clock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/logger.js';
import { configFrom, type Config } from '../../src/platform/config.js';
import type { PaymentEvents } from '../../src/core/events/paymentEvents.js';
import type { Store } from '../../src/core/store/store.js';
import { RecordingEvents } from './recordingEvents.js';
import { testStore } from './testStore.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-0123456789';
export const ESCROW = '0x00000000000000000000000000000000000e5c40';

export interface TestAppOptions {
  env?: Record<string, string | undefined>;
  store?: Store;
  clock?: Clock;
  events?: PaymentEvents;
}

/**
 * The app as the entry point builds it, on the in-process store (the driver stand-in in the
 * `driver` test tier: test/helpers/testStore.ts). Events are recorded so tests can
 * assert what was announced (the Socket.IO path itself is tested with real clients elsewhere).
 */
export function buildTestApp(opts: TestAppOptions = {}) {
  const config: Config = configFrom({ JWT_SECRET: TEST_JWT_SECRET, ESCROW_RECEIVER_ADDRESS: ESCROW, ...opts.env });
  const clock = opts.clock ?? systemClock;
  const store = opts.store ?? testStore(clock);
  const events = opts.events ?? new RecordingEvents();
  const app = createApp({ config, store, logger: createLogger('silent'), clock, events });
  const tokens = new TokenService(TEST_JWT_SECRET);
  return {
    app,
    ctx: app.locals.ctx,
    config,
    store,
    events,
    http: () => request(app),
    tokens,
    /** `Authorization` header value for a user (or an admin). */
    bearer: (userId: string, opts: { admin?: boolean; expiresIn?: number } = {}) =>
      `Bearer ${tokens.sign({ sub: userId, ...(opts.admin ? { role: 'admin' } : {}) }, opts.expiresIn ?? 600)}`,
  };
}

export type TestApp = ReturnType<typeof buildTestApp>;
