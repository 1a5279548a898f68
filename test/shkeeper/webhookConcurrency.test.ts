import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/store/store.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import { BUYER, expectSoundLedgers, intentFor, invoiceCallback, paymentOf, postWebhook, seed, webhookStats } from './payinTestKit.js';

/**
 * The same callback delivered several times at once, against a store that answers with I/O
 * latency as MongoDB does (the in-process store answers within one tick, which hides
 * interleavings). The store itself is the real in-process store; only its answers are delayed.
 */

function withLatency(store: Store, maxMs: number): Store {
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

/** A ListeningWorld whose server sees the store through added latency (tests assert on the store itself). */
const startSlowHarness = () => startTestWorld({ listen: true, shkeeper: true, wrapStore: (store) => withLatency(store, 4) });

let h: ListeningWorld;
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
      const body = invoiceCallback(intent, {}, { txid: `0x${(i + 1).toString(16).padStart(64, '0')}` });
      const answers = await Promise.all(Array.from({ length: COPIES }, () => postWebhook(h, body)));
      expect(answers.map((a) => a.status)).toEqual(Array(COPIES).fill(202));
      const p = await paymentOf(h, intent.paymentId);
      expect(p.history.map((x) => x.toStatus)).toEqual(['pending', 'completed']);
      const outcomes = (await h.store.webhookDeliveries.find({ externalId: intent.externalId })).map((d) => d.outcome).sort();
      expect(outcomes).toEqual(['applied', ...Array(COPIES - 1).fill('duplicate')]);
    }
    expect(h.events.named('purchase-request-update')).toHaveLength(ROUNDS);
    expect(await webhookStats(h)).toMatchObject({ success: ROUNDS, duplicate: ROUNDS * (COPIES - 1) });
    await expectSoundLedgers(h);
  });

  it('for a cancelled payment, records the late payment once', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const s = await seed(h);
      const intent = await intentFor(h, s);
      expect((await h.as(BUYER).put(`/${intent.paymentId}`, { status: 'cancelled' })).status).toBe(200);
      const body = invoiceCallback(intent, {}, { txid: `0x${(i + 1).toString(16).padStart(64, 'e')}` });
      const answers = await Promise.all(Array.from({ length: COPIES }, () => postWebhook(h, body)));
      expect(answers.map((a) => a.status)).toEqual(Array(COPIES).fill(202));
      const p = await paymentOf(h, intent.paymentId);
      expect(p.status).toBe('cancelled');
      // Recorded once, as an excess credit of the escrow (it was providerData.latePayments before issue 10).
      expect(p.escrow!.credits).toEqual([expect.objectContaining({ kind: 'excess', reason: 'late_payment', amount: '26.01' })]);
    }
    expect(await webhookStats(h)).toMatchObject({ latePayments: ROUNDS, duplicate: ROUNDS * (COPIES - 1), success: 0 });
    await expectSoundLedgers(h);
  });
});
