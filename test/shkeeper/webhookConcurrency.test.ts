import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenService } from '../../src/auth/tokens.js';
import { systemClock } from '../../src/common/clock.js';
import { createLogger } from '../../src/common/logger.js';
import { configFrom } from '../../src/config/config.js';
import { startServer } from '../../src/server.js';
import { createShkeeperClient } from '../../src/shkeeper/shkeeperClient.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import type { Store } from '../../src/store/store.js';
import { freePort } from '../helpers/childService.js';
import { FakeShkeeper } from '../helpers/fakeShkeeper/fakeShkeeper.js';
import type { PayinHarness } from '../helpers/payinHarness.js';
import { RecordingEvents } from '../helpers/recordingEvents.js';
import { TEST_JWT_SECRET } from '../helpers/testApp.js';
import { BUYER, call, intentFor, invoiceCallback, paymentOf, postWebhook, seed, webhookStats } from './payinTestKit.js';

/**
 * The same callback delivered several times at once, against a store that answers with I/O
 * latency as MongoDB does (the in-process store answers within one tick, which hides
 * interleavings). The store itself is the real in-process store; only its answers are delayed.
 */

function withLatency(store: MemoryStore, maxMs: number): Store {
  const delay = () => new Promise((r) => setTimeout(r, Math.random() * maxMs));
  const slow = <C extends object>(c: C): C =>
    new Proxy(c, {
      get(target, key) {
        const v = Reflect.get(target, key) as unknown;
        if (typeof v !== 'function') return v;
        return async (...args: unknown[]) => {
          await delay();
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  return new Proxy(store, {
    get(target, key) {
      const v = Reflect.get(target, key) as unknown;
      if (v && typeof v === 'object' && 'findById' in v) return slow(v);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** A PayinHarness whose server uses the delayed store (the harness itself always builds its own). */
async function startSlowHarness(): Promise<PayinHarness> {
  const fake = await FakeShkeeper.start({ callbackRetryMs: 20 });
  const port = await freePort();
  const config = configFrom({
    JWT_SECRET: TEST_JWT_SECRET,
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    SHKEEPER_API_URL: fake.url,
    SHKEEPER_API_KEY: fake.apiKey,
  });
  const logger = createLogger('silent');
  const store = new MemoryStore(systemClock);
  const events = new RecordingEvents();
  const shkeeper = createShkeeperClient({ apiUrl: fake.url, apiKey: fake.apiKey, timeoutMs: 2_000, retryBaseDelayMs: 10, logger });
  const server = await startServer(
    { config, store: withLatency(store, 4), logger, clock: systemClock, shkeeper, observer: events },
    { port, host: '127.0.0.1' },
  );
  const tokens = new TokenService(TEST_JWT_SECRET);
  return {
    server, url: server.url, config, store, events, fake, tokens,
    bearer: (userId, o = {}) => `Bearer ${tokens.sign({ sub: userId, ...(o.admin ? { role: 'admin' } : {}) }, 600)}`,
    stop: async () => {
      await server.close(1_000);
      await fake.stop();
    },
  };
}

let h: PayinHarness;
beforeEach(async () => {
  h = await startSlowHarness();
});
afterEach(async () => {
  await h?.stop();
});

const ROUNDS = 8;
const COPIES = 4;

describe('one callback delivered several times at once', () => {
  it('completes once and is counted as one success and the rest duplicates', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const s = await seed(h);
      const intent = await intentFor(h, s);
      const body = invoiceCallback(intent.externalId, {}, { txid: `0x${(i + 1).toString(16).padStart(64, '0')}` });
      const answers = await Promise.all(Array.from({ length: COPIES }, () => postWebhook(h, body)));
      expect(answers.map((a) => a.status)).toEqual(Array(COPIES).fill(202));
      const p = await paymentOf(h, intent.paymentId);
      expect(p.history.map((x) => x.toStatus)).toEqual(['pending', 'completed']);
      const outcomes = (await h.store.webhookDeliveries.find({ externalId: intent.externalId })).map((d) => d.outcome).sort();
      expect(outcomes).toEqual(['applied', ...Array(COPIES - 1).fill('duplicate')]);
    }
    expect(h.events.named('purchase-request-update')).toHaveLength(ROUNDS);
    expect(await webhookStats(h)).toMatchObject({ success: ROUNDS, duplicate: ROUNDS * (COPIES - 1) });
  });

  it('for a cancelled payment, records the late payment once', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const s = await seed(h);
      const intent = await intentFor(h, s);
      expect((await call(h, 'PUT', `/api/payment/${intent.paymentId}`, { as: BUYER, body: { status: 'cancelled' } })).status).toBe(200);
      const body = invoiceCallback(intent.externalId, {}, { txid: `0x${(i + 1).toString(16).padStart(64, 'e')}` });
      const answers = await Promise.all(Array.from({ length: COPIES }, () => postWebhook(h, body)));
      expect(answers.map((a) => a.status)).toEqual(Array(COPIES).fill(202));
      const p = await paymentOf(h, intent.paymentId);
      expect(p.status).toBe('cancelled');
      expect(p.providerData.latePayments).toHaveLength(1);
    }
    expect(await webhookStats(h)).toMatchObject({ latePayments: ROUNDS, duplicate: ROUNDS * (COPIES - 1), success: 0 });
  });
});
