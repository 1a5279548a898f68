import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/platform/clock.js';
import { AppError } from '../../src/platform/errors.js';
import type { IntervalMonitor } from '../../src/platform/monitors/intervalMonitor.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { payment, seedMarketplace } from '../helpers/fixtures.js';
import { RecordingEvents } from '../helpers/recordingEvents.js';
import { startTestWorld } from '../helpers/testWorld.js';

/** A store whose offer writes fail for a while: the database going away between two writes. */
function flakyOffers(store: MemoryStore) {
  let failing = true;
  const original = store.sellerOffers.updateOne.bind(store.sellerOffers);
  store.sellerOffers.updateOne = async (...args) => {
    if (failing) throw new AppError('unavailable', 'the database did not answer', { code: 'store_unavailable' });
    return original(...args);
  };
  return { heal: () => (failing = false) };
}

describe('side effects of a transition (outbox)', () => {
  it('are finished exactly once by a restarted instance when the first failed between transition and effects', async () => {
    const store = new MemoryStore(systemClock);
    const { request, offer, otherOffer } = await seedMarketplace(store);
    const p = payment({ purchaseRequestId: request.id, sellerOfferId: offer.id, liveOfferKey: offer.id });
    await store.payments.insertOne(p);
    const flaky = flakyOffers(store);

    const first = await startTestWorld({ store, events: new RecordingEvents() });
    // `settlement.complete` is gone (issue 10): a proven transfer is credited, and its completion effects go to the outbox.
    const transfer = {
      txHash: `0x${'a'.repeat(64)}`,
      from: '0x1111111111111111111111111111111111111111',
      to: first.config.escrow.receiverAddress!,
      network: 'bsc',
      token: 'USDT',
      amount: '25.5',
      baseUnits: null,
      blockNumber: null,
    };
    await expect(first.ctx.settlement.credit(p.id, transfer, { source: 'test', actor: 'system' })).rejects.toThrow('did not answer');
    // The transition committed with its outbox; nothing after it happened or was announced.
    const half = (await store.payments.findById(p.id))!;
    expect(half.status).toBe('completed');
    expect(half.pendingEffects).toEqual(['accept_offer', 'reject_siblings', 'request_paid', 'announce_completion']);
    expect((await store.sellerOffers.findById(offer.id))!.status).toBe('pending');
    expect((first.events as RecordingEvents).emitted).toEqual([]);

    flaky.heal();
    const restarted = await startTestWorld({ store, events: new RecordingEvents(), env: { EFFECTS_GRACE_MS: '0' } });
    const sweeper = restarted.ctx.monitors.get('effectsSweeper') as IntervalMonitor;
    await sweeper.tick();
    await sweeper.tick();

    expect((await store.payments.findById(p.id))!.pendingEffects).toEqual([]);
    expect((await store.sellerOffers.findById(offer.id))!.status).toBe('accepted');
    expect((await store.sellerOffers.findById(otherOffer.id))!.status).toBe('rejected');
    expect((await store.purchaseRequests.findById(request.id))!.status).toBe('payment_processing');
    const events = restarted.events as RecordingEvents;
    expect(events.named('purchase-request-update')).toHaveLength(1);
    expect(events.named('seller-offer-update').filter((e) => e.target.kind === 'seller')).toHaveLength(2);
    expect(events.named('payment-updated').filter((e) => e.target.kind === 'request')).toHaveLength(1);
    // The completion itself happened once.
    expect((await store.payments.findById(p.id))!.history.filter((h) => h.toStatus === 'completed')).toHaveLength(1);
  });

  it('leaves a payment whose effects are still within the grace period to the request carrying them out', async () => {
    const store = new MemoryStore(systemClock);
    const { request, offer } = await seedMarketplace(store);
    await store.payments.insertOne(
      payment({ purchaseRequestId: request.id, sellerOfferId: offer.id, status: 'completed', escrowState: 'funded', pendingEffects: ['accept_offer'] }),
    );
    const app = await startTestWorld({ store, env: { EFFECTS_GRACE_MS: '60000' } });
    await (app.ctx.monitors.get('effectsSweeper') as IntervalMonitor).tick();
    expect((await store.sellerOffers.findById(offer.id))!.status).toBe('pending');
  });
});
