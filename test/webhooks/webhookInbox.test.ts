import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/store/store.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { compactSortedJson } from '../helpers/fakeShkeeper/signing.js';
import { ManualClock } from '../helpers/manualClock.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import { expectSoundLedgers, intentFor, invoiceCallback, paymentOf, postWebhook, seed, webhookStats } from '../shkeeper/payinTestKit.js';
import { failingPaymentWrites } from '../helpers/storeFaults.js';

/**
 * The durable webhook inbox end to end (issue 15): SHKeeper's delivery is answered 202 once it
 * is recorded, and applied afterwards by the inbox's worker. What must hold whatever happens
 * between the two — a process that stops, a failure of ours — is that the delivery is applied,
 * and applied once: one completion, one credit (escrow-ledger invariant: a transfer credits one
 * escrow once), the side effects once. The queue's own rules (order per key, leases, retries) are
 * proven in test/jobs/durableQueue.test.ts; two instances on Redis in test/scaling/inboxCluster.test.ts.
 */

const worlds: ListeningWorld[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0).reverse()) await w.stop();
});

async function world(opts: { store?: Store; clock?: ManualClock; env?: Record<string, string>; wrapStore?: (s: Store) => Store } = {}) {
  const w = await startTestWorld({ listen: true, shkeeper: true, ...opts, env: { WEBHOOK_INBOX_POLL_MS: '20', ...opts.env } });
  worlds.push(w);
  return w;
}

/** A pending SHKeeper payment in `h` and the PAID callback for it (its whole price, one transfer). */
async function pendingInvoice(h: ListeningWorld) {
  const intent = await intentFor(h, await seed(h));
  return { intent, body: invoiceCallback(intent, { balance_crypto: '25.5' }, { amount_crypto: '25.5' }) };
}

async function waitFor(check: () => Promise<boolean>, what: string) {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The payment's one completion, one funding credit, and the delivery that applied it. */
async function expectAppliedOnce(h: ListeningWorld, paymentId: string, externalId: string) {
  const p = await paymentOf(h, paymentId);
  expect(p.status).toBe('completed');
  expect(p.history.filter((x) => x.toStatus === 'completed')).toHaveLength(1);
  expect(p.escrow!.credits.map((c) => c.kind)).toEqual(['funding']);
  const rows = await h.store.webhookDeliveries.find({ externalId });
  expect(rows.map((r) => [r.outcome, r.job?.state])).toEqual([['applied', null]]);
  return rows[0]!;
}

describe('a delivery recorded and not yet applied', () => {
  it('is answered 202 before it is applied, and counted in the inbox depth and lag', async () => {
    const clock = new ManualClock(Date.now());
    const h = await world({ clock });
    const { intent, body } = await pendingInvoice(h);
    // The worker is stopped: what it would apply stays recorded.
    await h.ctx.inbox.queue.stop();
    const answer = await postWebhook(h, body, { settle: false, ts: Math.floor(clock.now().getTime() / 1000) });
    expect(answer.status).toBe(202);
    expect((await paymentOf(h, intent.paymentId)).status).toBe('pending');
    const [row] = await h.store.webhookDeliveries.find({ externalId: intent.externalId });
    expect(row).toMatchObject({ outcome: 'received', job: { state: 'queued', key: `invoice:${intent.externalId}`, attempts: 0 } });
    // The signed bytes as they arrived: what the worker applies, and what an operator reads.
    expect(row!.body).toBe(compactSortedJson(body));
    clock.advance(7_000);
    expect((await webhookStats(h)).inbox).toEqual({ depth: 1, running: 0, dead: 0, lagSeconds: 7 });

    await h.settle();
    await expectAppliedOnce(h, intent.paymentId, intent.externalId);
    expect((await webhookStats(h)).inbox).toEqual({ depth: 0, running: 0, dead: 0, lagSeconds: 0 });
  });

  it('is applied once by a new process on the same store when the first stopped before applying it', async () => {
    const store = new MemoryStore(new ManualClock(Date.now()));
    const first = await world({ store });
    const { intent, body } = await pendingInvoice(first);
    await first.ctx.inbox.queue.stop();
    expect((await postWebhook(first, body, { settle: false })).status).toBe(202);
    // SHKeeper re-sends it too (it cannot know we recorded it): a duplicate waits behind it.
    expect((await postWebhook(first, body, { settle: false })).status).toBe(202);
    await first.stop();
    worlds.splice(worlds.indexOf(first), 1);
    expect((await store.payments.findById(intent.paymentId))!.status).toBe('pending');

    const next = await world({ store });
    await waitFor(async () => (await store.webhookDeliveries.count({ 'job.state': { $in: ['queued', 'running'] } })) === 0, 'the inbox to empty');
    const p = await paymentOf(next, intent.paymentId);
    expect(p.status).toBe('completed');
    expect(p.history.filter((x) => x.toStatus === 'completed')).toHaveLength(1);
    const rows = await store.webhookDeliveries.find({ externalId: intent.externalId }, { sort: { createdAt: 1, id: 1 } });
    expect(rows.map((r) => [r.outcome, r.job?.attempts])).toEqual([
      ['applied', 1],
      ['duplicate', 1],
    ]);
    // The side effects of completion ran once, in the process that applied it.
    expect(next.events.named('purchase-request-update')).toHaveLength(1);
    await expectSoundLedgers(next);
  });

  it('left running by a process that died mid-apply is taken over once its lease runs out, and applied once', async () => {
    const clock = new ManualClock(Date.now());
    const store = new MemoryStore(clock);
    const first = await world({ store, clock });
    const { intent, body } = await pendingInvoice(first);
    await first.ctx.inbox.queue.stop();
    await postWebhook(first, body, { settle: false, ts: Math.floor(clock.now().getTime() / 1000) });
    // The first process started it (its lease) and died before writing anything more.
    await store.webhookDeliveries.updateMany(
      { externalId: intent.externalId },
      {
        $set: { 'job.state': 'running', 'job.leaseOwner': 'a-process-that-died', 'job.leaseUntil': new Date(clock.now().getTime() + 60_000) },
        $inc: { 'job.attempts': 1 },
      },
    );
    await first.stop();
    worlds.splice(worlds.indexOf(first), 1);

    const next = await world({ store, clock });
    await next.settle();
    // Still leased to the dead process: not touched.
    expect((await store.payments.findById(intent.paymentId))!.status).toBe('pending');
    clock.advance(60_001);
    await next.settle();
    const row = await expectAppliedOnce(next, intent.paymentId, intent.externalId);
    expect(row.job!.attempts).toBe(2);
  });
});

describe('our own failures', () => {
  it('an apply that fails is retried by the inbox (not left to SHKeeper) and then applied once', async () => {
    const outage = failingPaymentWrites();
    const h = await world({ wrapStore: outage.wrap, env: { WEBHOOK_INBOX_RETRY_BASE_MS: '5', WEBHOOK_INBOX_RETRY_MAX_MS: '5' } });
    const { intent, body } = await pendingInvoice(h);
    outage.arm(1);
    const answer = await postWebhook(h, body, { settle: false });
    expect(answer.status).toBe(202);
    await waitFor(async () => (await h.store.webhookDeliveries.count({ externalId: intent.externalId, outcome: 'applied' })) === 1, 'the retry');
    const row = await expectAppliedOnce(h, intent.paymentId, intent.externalId);
    expect(row.job).toMatchObject({ attempts: 2, lastError: null, state: null, key: null });
    expect(h.events.named('purchase-request-update')).toHaveLength(1);
    // SHKeeper was told 202 once: it has nothing to re-send.
    await expectSoundLedgers(h);
  });

  it('gives up after WEBHOOK_INBOX_MAX_ATTEMPTS: dead, outcome error, counted; the invoice’s next delivery is not held behind it', async () => {
    const outage = failingPaymentWrites();
    const h = await world({
      wrapStore: outage.wrap,
      env: { WEBHOOK_INBOX_MAX_ATTEMPTS: '2', WEBHOOK_INBOX_RETRY_BASE_MS: '5', WEBHOOK_INBOX_RETRY_MAX_MS: '5' },
    });
    const { intent, body } = await pendingInvoice(h);
    outage.arm(2);
    await postWebhook(h, body, { settle: false });
    await waitFor(async () => (await h.store.webhookDeliveries.count({ 'job.state': 'dead' })) === 1, 'the delivery to be given up');
    expect((await webhookStats(h)).inbox).toMatchObject({ depth: 0, dead: 1 });
    expect((await h.store.webhookDeliveries.find({ externalId: intent.externalId }))[0]).toMatchObject({
      outcome: 'error',
      job: { state: 'dead', key: null, attempts: 2, lastError: 'store unavailable (injected)' },
    });
    // SHKeeper's retry (or the poller) of the same invoice is applied: nothing waits behind a dead delivery.
    await postWebhook(h, body);
    const p = await paymentOf(h, intent.paymentId);
    expect(p.status).toBe('completed');
    expect(p.escrow!.credits.map((c) => c.kind)).toEqual(['funding']);
  });
});
