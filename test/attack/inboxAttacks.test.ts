import { afterEach, describe, expect, it } from 'vitest';
import { callbackHeaders, compactSortedJson } from '../helpers/fakeShkeeper/signing.js';
import type { Store } from '../../src/core/store/store.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { systemClock } from '../../src/platform/clock.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import { paid, pending, tx, type Intent } from './invoiceAttackKit.js';
import {
  ADMIN,
  BUYER,
  expectSoundLedgers,
  hmac,
  intentFor,
  invoiceCallback,
  nowSec,
  paymentOf,
  postWebhook,
  secretOf,
  seed,
  webhookStats,
} from '../shkeeper/payinTestKit.js';
import { createPayout, payoutBody, seed as seedFunded, startPayoutHarness } from '../payouts/payoutKit.js';
import { failingPaymentWrites, withPaymentsHook } from '../helpers/storeFaults.js';

/**
 * Attacks on the durable webhook inbox (issue 15: SHKeeper's invoice and payout callbacks are
 * answered 202 once verified and recorded, and applied afterwards by a worker). Who can do what:
 * - an outsider can post anything unsigned (or replay what it saw);
 * - a buyer can send any number of transfers to an invoice's pay address, so it decides how many
 *   signed deliveries SHKeeper sends for that invoice, and in what order they are triggered;
 * - a glitchy network (or SHKeeper itself) re-sends, reorders and races deliveries;
 * - a signed body SHKeeper would never send needs SHKeeper or its leaked API key.
 * Each `it` states an invariant that holds today; each `it.fails` documents a fault found here
 * (the comment above it names it) and passes only while the fault is there.
 */

const worlds: ListeningWorld[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0).reverse()) await w.stop();
});

async function world(env: Record<string, string> = {}, opts: { captureLogs?: boolean; wrapStore?: (s: Store) => Store } = {}) {
  const w = await startTestWorld({ listen: true, shkeeper: true, ...opts, env: { WEBHOOK_INBOX_POLL_MS: '20', ...env } });
  worlds.push(w);
  return w;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A PARTIAL callback for `intent`: one transfer of `amount`. */
const partial = (intent: Intent, txid: string, amount: string) =>
  invoiceCallback(intent, { balance_crypto: amount, status: 'PARTIAL', paid: false }, { txid, amount_crypto: amount });

/** The §5.4 unconfirmed variant. */
const unconfirmed = (intent: Intent, txid: string, amount = '25.5') => ({
  addr: intent.payAddress,
  amount,
  crypto: 'BNB-USDT',
  external_id: intent.externalId,
  status: 'unconfirmed',
  txid,
});

const rowsOf = (h: ListeningWorld, externalId: string) => h.store.webhookDeliveries.find({ externalId }, { sort: { createdAt: 1, id: 1 } });
const queuedRows = (h: ListeningWorld) => h.store.webhookDeliveries.count({ 'job.state': { $in: ['queued', 'running'] } });

/** Completed once, each transfer credited once, and the escrow holding exactly `received` (what arrived). */
async function completedOnce(h: ListeningWorld, paymentId: string, received = '25.5') {
  const p = await paymentOf(h, paymentId);
  expect(p.status).toBe('completed');
  expect(p.history.filter((x) => x.toStatus === 'completed')).toHaveLength(1);
  const keys = p.escrow!.credits.map((c) => c.key);
  expect(new Set(keys).size).toBe(keys.length);
  expect(Number(p.escrow!.received)).toBe(Number(received));
  return p;
}

describe('an outsider (no valid signature)', () => {
  it('a bad, missing or stale signature is 401, queues nothing, and leaves the payment as it was', async () => {
    const h = await world();
    const intent = await pending(h);
    const body = paid(intent);
    const raw = compactSortedJson(body);
    const answers = [
      await postWebhook(h, body, { secret: 'not-the-secret' }),
      await postWebhook(h, body, { form: 'none' }),
      // A real signature over other bytes (a captured delivery, edited).
      await postWebhook(h, paid(intent, tx(1), '99'), {
        headers: { 'x-shkeeper-timestamp': String(nowSec()), 'x-shkeeper-signature': hmac(secretOf(h), `${nowSec()}.`, raw) },
      }),
      // A captured delivery replayed after the ±300 s window.
      await postWebhook(h, body, { ts: nowSec() - 301 }),
      await postWebhook(h, body, { ts: nowSec() + 301 }),
    ];
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401, 401]);
    expect((await h.store.webhookDeliveries.find({})).filter((r) => r.job || r.body)).toEqual([]);
    expect((await webhookStats(h)).inbox).toMatchObject({ depth: 0, running: 0, dead: 0 });
    expect((await paymentOf(h, intent.paymentId)).status).toBe('pending');
  });

  it('a flood of bad signatures keeps at most the bounded sample (100 rows), never the bodies', async () => {
    const h = await world();
    for (let i = 0; i < 110; i++) await postWebhook(h, { junk: 'x'.repeat(1000), i }, { secret: 'wrong', settle: false });
    const rows = await h.store.webhookDeliveries.find({});
    expect(rows.length).toBeLessThanOrEqual(100);
    expect(rows.filter((r) => r.outcome !== 'bad_signature' || r.body || r.job)).toEqual([]);
  });

  it('the payout callback: a bad signature is 401 with nothing recorded to apply; the legacy API-key header is not accepted', async () => {
    const h = await world();
    const raw = compactSortedJson({ external_id: 'PAYOUT_x', tx_hash: tx(9), status: 'SUCCESS', amount: '25.5', crypto: 'BNB-USDT' });
    const bad = await h.anonymous
      .post('/shkeeper/payout/webhook')
      .set({ 'content-type': 'application/json', 'x-shkeeper-timestamp': String(nowSec()), 'x-shkeeper-signature': hmac('wrong', `${nowSec()}.`, raw) })
      .send(raw);
    expect(bad.status).toBe(401);
    const legacy = await h.anonymous
      .post('/shkeeper/payout/webhook')
      .set({ 'content-type': 'application/json', 'x-shkeeper-api-key': h.config.shkeeper.apiKey ?? 'k' })
      .send(raw);
    expect(legacy.status).toBe(401);
    expect(bad.body).toMatchObject({ success: false, data: null });
    expect((await h.store.webhookDeliveries.find({})).filter((r) => r.job || r.body)).toEqual([]);
  });

  it('webhook-stats is an admin’s, and shows counts only: no body, txid, address or secret', async () => {
    const h = await world();
    const intent = await pending(h);
    await postWebhook(h, paid(intent, tx(0x5e)));
    expect((await h.as(BUYER).get('/shkeeper/webhook-stats')).status).toBeGreaterThanOrEqual(401);
    expect((await h.anonymous.get('/shkeeper/webhook-stats')).status).toBe(401);
    const r = await h.as({ admin: ADMIN }).get('/shkeeper/webhook-stats');
    expect(r.status).toBe(200);
    for (const leak of [tx(0x5e).slice(2, 20), intent.payAddress.slice(2), intent.externalId, secretOf(h)]) expect(r.text).not.toContain(leak);
  });
});

describe('the logs', () => {
  it('neither the signed body nor the webhook secret is written to the log, by the route or by the worker', async () => {
    const h = await world({}, { captureLogs: true });
    const intent = await pending(h);
    const marker = 'PRIVATE-NOTE-7f3a';
    await postWebhook(h, { ...paid(intent), note: marker });
    await postWebhook(h, { ...paid(intent), note: marker }, { secret: 'wrong' });
    await completedOnce(h, intent.paymentId);
    const all = h.logs.join('\n');
    expect(all).not.toContain(marker);
    expect(all).not.toContain(secretOf(h));
  });
});

describe('duplicates, replays and races (a glitchy network, or SHKeeper re-sending)', () => {
  it('five copies of one PAID delivery racing in are applied once: one completion, one funding credit, four duplicates', async () => {
    const h = await world();
    const intent = await pending(h);
    const answers = await Promise.all(Array.from({ length: 5 }, () => postWebhook(h, paid(intent), { settle: false })));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    await h.settle();
    await completedOnce(h, intent.paymentId);
    const outcomes = (await rowsOf(h, intent.externalId)).map((r) => r.outcome).sort();
    expect(outcomes).toEqual(['applied', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    expect(h.events.callsNamed('purchase-request-update')).toHaveLength(1);
    await expectSoundLedgers(h);
  });

  it('a delivery re-sent after the first was applied (and one re-sent while the first waits for a retry) changes nothing', async () => {
    const h = await world();
    const intent = await pending(h);
    await postWebhook(h, paid(intent));
    await postWebhook(h, paid(intent));
    // The same transfer under the other accepted signature form, and as a number external id.
    await postWebhook(h, paid(intent), { form: 'body' });
    await completedOnce(h, intent.paymentId);
    expect((await rowsOf(h, intent.externalId)).map((r) => r.outcome)).toEqual(['applied', 'duplicate', 'duplicate']);
    await expectSoundLedgers(h);
  });

  it('a duplicate that arrives while the original waits for its retry is not applied ahead of it', async () => {
    const h = await world();
    const intent = await pending(h);
    await h.ctx.inbox.queue.stop();
    await postWebhook(h, paid(intent), { settle: false });
    const [first] = await rowsOf(h, intent.externalId);
    // The original failed once (a store or chain failure of ours) and waits for its backoff.
    await h.store.webhookDeliveries.updateOne(
      { id: first!.id },
      { $set: { 'job.runAt': new Date(Date.now() + 3_600_000), 'job.attempts': 1, 'job.lastError': 'rpc down' } },
    );
    await postWebhook(h, paid(intent), { settle: false });
    await h.settle();
    expect((await paymentOf(h, intent.paymentId)).status).toBe('pending');
    expect((await rowsOf(h, intent.externalId)).map((r) => [r.outcome, r.job?.state])).toEqual([
      ['received', 'queued'],
      ['received', 'queued'],
    ]);
  });

  // Was a FAULT (an invoice blocked forever after one failure of ours): the claim marked a key as seen
  // before checking its head, so a retried head, due after its successors, was never started again.
  // Fixed: the head of each key met is looked up and started when due.
  it('a delivery that failed once is applied after its backoff although a later delivery of its invoice is queued', async () => {
    const outage = failingPaymentWrites();
    const h = await world({ WEBHOOK_INBOX_RETRY_BASE_MS: '5', WEBHOOK_INBOX_RETRY_MAX_MS: '5' }, { wrapStore: outage.wrap });
    const intent = await pending(h);
    await h.ctx.inbox.queue.stop();
    // Transfer 1 (10) and transfer 2 (15.5): SHKeeper's PARTIAL for the first, its PAID for the second.
    await postWebhook(h, partial(intent, tx(1), '10'), { settle: false });
    const both = invoiceCallback(intent, { balance_crypto: '25.5' }, { txid: tx(2), amount_crypto: '15.5' });
    both.transactions.unshift({ ...both.transactions[0]!, txid: tx(1), amount_crypto: '10', trigger: false });
    await postWebhook(h, both, { settle: false });
    outage.arm(1);
    await h.settle();
    expect((await rowsOf(h, intent.externalId))[0]!.job).toMatchObject({ state: 'queued', attempts: 1 });
    // The worker runs again: the backoff (5 ms) is long over.
    h.ctx.inbox.queue.start();
    await sleep(300);
    await h.settle();
    await completedOnce(h, intent.paymentId);
    expect(await queuedRows(h)).toBe(0);
  });

  it('one txid reported for two invoices credits each invoice its own transfer once, and a replay of either changes nothing', async () => {
    const h = await world();
    const a = await pending(h);
    const b = await intentFor(h, await seed(h));
    await Promise.all([postWebhook(h, paid(a, tx(7)), { settle: false }), postWebhook(h, paid(b, tx(7)), { settle: false })]);
    await h.settle();
    await postWebhook(h, paid(a, tx(7)));
    await postWebhook(h, paid(b, tx(7)));
    for (const i of [a, b]) {
      const p = await paymentOf(h, i.paymentId);
      expect(p.history.filter((x) => x.toStatus === 'completed').length).toBeLessThanOrEqual(1);
      expect(p.escrow!.credits.filter((c) => c.kind === 'funding').length).toBeLessThanOrEqual(1);
    }
    await expectSoundLedgers(h);
  });
});

describe('someone else’s payment, or more than arrived', () => {
  it('a delivery naming invoice A with invoice B’s pay address funds neither', async () => {
    const h = await world();
    const a = await pending(h);
    const b = await intentFor(h, await seed(h));
    await postWebhook(h, invoiceCallback({ externalId: a.externalId, payAddress: b.payAddress }, { balance_crypto: '25.5' }, { amount_crypto: '25.5' }));
    await postWebhook(h, invoiceCallback({ externalId: b.externalId, payAddress: a.payAddress }, { balance_crypto: '25.5' }, { amount_crypto: '25.5' }));
    expect((await paymentOf(h, a.paymentId)).status).toBe('pending');
    expect((await paymentOf(h, b.paymentId)).status).toBe('pending');
    expect((await h.store.webhookDeliveries.find({ kind: 'invoice' })).map((r) => r.outcome)).toEqual(['refused', 'refused']);
  });

  it('a PAID whose balance is inflated but whose transfers are short funds nothing: the escrow holds what arrived', async () => {
    const h = await world();
    const intent = await pending(h);
    await postWebhook(h, invoiceCallback(intent, { balance_crypto: '1000', status: 'OVERPAID' }, { txid: tx(3), amount_crypto: '10' }));
    const p = await paymentOf(h, intent.paymentId);
    expect(p.status).toBe('processing');
    expect(p.escrowState).not.toBe('funded');
    await expectSoundLedgers(h);
  });

  it('a delivery for another crypto or for an invoice we do not know is answered 202 and funds nothing', async () => {
    const h = await world();
    const intent = await pending(h);
    await postWebhook(h, invoiceCallback(intent, { crypto: 'BTC', balance_crypto: '25.5' }, { crypto: 'BTC', amount_crypto: '25.5' }));
    expect((await postWebhook(h, invoiceCallback('no-such-invoice'))).status).toBe(202);
    expect((await paymentOf(h, intent.paymentId)).status).toBe('pending');
    expect((await h.store.webhookDeliveries.find({ kind: 'invoice' }, { sort: { id: 1 } })).map((r) => r.outcome)).toEqual(['refused', 'unknown_invoice']);
  });

  // Was a FAULT (funded for more than arrived; needs a signed body: SHKeeper or its leaked key): the
  // credit key of a transaction was its txid as sent, so the same hash with a trailing space (or in
  // upper case with `0X`) was another key: one transfer reported twice was credited twice. Fixed at
  // the edge: a txid is printable ASCII without spaces (else 400), and an EVM hash is lowercased.
  it('one transfer reported twice (its txid once with a trailing space, once in upper case) is credited once', async () => {
    const h = await world();
    const intent = await pending(h);
    await postWebhook(h, partial(intent, tx(4), '13'));
    const spaced = await postWebhook(h, invoiceCallback(intent, { balance_crypto: '26', status: 'PAID' }, { txid: `${tx(4)} `, amount_crypto: '13' }));
    expect(spaced.status).toBe(400);
    const upper = `0X${tx(4).slice(2).toUpperCase()}`;
    expect((await postWebhook(h, invoiceCallback(intent, { balance_crypto: '26', status: 'PAID' }, { txid: upper, amount_crypto: '13' }))).status).toBe(202);
    const p = await paymentOf(h, intent.paymentId);
    expect(p.status).not.toBe('completed');
    expect(p.escrow!.credits.map((c) => c.amount)).toEqual(['13']);
  });
});

describe('reordered deliveries never move a payment backwards', () => {
  it('PARTIAL (an earlier transfer) and unconfirmed arriving after PAID leave it completed, funded once', async () => {
    const h = await world();
    const intent = await pending(h);
    await h.ctx.inbox.queue.stop();
    // Transfer 1 (10) then transfer 2 (15.5): SHKeeper's PAID for transfer 2 lists both; the
    // PARTIAL for transfer 1 and its unconfirmed notice arrive late.
    const both = invoiceCallback(intent, { balance_crypto: '25.5' }, { txid: tx(2), amount_crypto: '15.5' });
    both.transactions.unshift({ ...both.transactions[0]!, txid: tx(1), amount_crypto: '10', trigger: false });
    await postWebhook(h, both, { settle: false });
    await postWebhook(h, partial(intent, tx(1), '10'), { settle: false });
    await postWebhook(h, unconfirmed(intent, tx(1), '10'), { settle: false });
    await postWebhook(h, unconfirmed(intent, tx(9), '5'), { settle: false });
    await h.settle();
    const p = await completedOnce(h, intent.paymentId);
    expect(p.escrowState).toBe('funded');
    expect((await rowsOf(h, intent.externalId)).map((r) => r.outcome)).toEqual(['applied', 'stale', 'stale', 'stale']);
    await expectSoundLedgers(h);
  });

  it('deliveries of one invoice are applied in arrival order, one at a time, however many race in', async () => {
    const h = await world();
    const intent = await pending(h);
    await h.ctx.inbox.queue.stop();
    await postWebhook(h, partial(intent, tx(1), '5'), { settle: false });
    await postWebhook(h, invoiceCallback(intent, { balance_crypto: '10', status: 'PARTIAL', paid: false }, { txid: tx(2), amount_crypto: '5' }), {
      settle: false,
    });
    await postWebhook(h, paid(intent, tx(3), '15.5'), { settle: false });
    await h.settle();
    const p = await paymentOf(h, intent.paymentId);
    expect(p.status).toBe('completed');
    expect(p.escrow!.credits.map((c) => c.kind)).toContain('funding');
    const rows = await rowsOf(h, intent.externalId);
    const finished = rows.map((r) => r.job!.finishedAt!.getTime());
    expect([...finished].sort((x, y) => x - y)).toEqual(finished);
    await expectSoundLedgers(h);
  });
});

describe('text and shapes the store cannot keep', () => {
  it('a signed body with a lone surrogate, a NUL in a key, or too deep is 400 and nothing is queued', async () => {
    const h = await world();
    const intent = await pending(h);
    const base = compactSortedJson(paid(intent));
    const bodies = [
      base.replace('"fiat":"USD"', '"fiat":"US\\ud800"'),
      base.replace('{', '{"a\\u0000b":1,'),
      base.replace('{', `{"deep":${'['.repeat(200)}${']'.repeat(200)},`),
      'not json',
      compactSortedJson({ ...paid(intent), status: 'REFUNDED' }),
    ];
    const answers = [];
    for (const b of bodies) answers.push((await postWebhook(h, b)).status);
    expect(answers).toEqual([400, 400, 400, 400, 400]);
    expect((await h.store.webhookDeliveries.find({})).filter((r) => r.job || r.body)).toEqual([]);
    expect((await paymentOf(h, intent.paymentId)).status).toBe('pending');
  });
});

describe('poison and head-of-line blocking', () => {
  it('a delivery for an unknown invoice or one that is refused finishes at once and holds nothing behind it', async () => {
    const h = await world();
    const intent = await pending(h);
    await h.ctx.inbox.queue.stop();
    await postWebhook(h, invoiceCallback(intent, { crypto: 'BTC' }), { settle: false });
    await postWebhook(h, invoiceCallback('ghost'), { settle: false });
    await postWebhook(h, paid(intent), { settle: false });
    await h.settle();
    await completedOnce(h, intent.paymentId);
    expect(await queuedRows(h)).toBe(0);
  });

  // Was a FAULT (head-of-line blocking across invoices): the claim read at most 4 × concurrency due
  // rows and skipped those behind a busy head, so one invoice's backlog hid every other invoice.
  // Fixed: keys found busy are left out of the next read of due rows.
  it('another invoice’s due delivery is applied while one invoice’s head waits for its retry', async () => {
    const h = await world({ WEBHOOK_INBOX_CONCURRENCY: '1' });
    const x = await pending(h);
    const y = await intentFor(h, await seed(h));
    await h.ctx.inbox.queue.stop();
    // The buyer's dust transfers to X: five signed PARTIAL deliveries.
    for (let i = 1; i <= 5; i++) await postWebhook(h, partial(x, tx(i), '0.01'), { settle: false });
    const [head] = await rowsOf(h, x.externalId);
    // X's first delivery failed once (an RPC timeout) and waits for its backoff.
    await h.store.webhookDeliveries.updateOne({ id: head!.id }, { $set: { 'job.runAt': new Date(Date.now() + 600_000), 'job.attempts': 1 } });
    await postWebhook(h, paid(y, tx(0x77)), { settle: false });
    await h.settle();
    expect((await paymentOf(h, y.paymentId)).status).toBe('completed');
  });

  it('with the same backlog and no failure, every invoice is applied', async () => {
    const h = await world({ WEBHOOK_INBOX_CONCURRENCY: '1' });
    const x = await pending(h);
    const y = await intentFor(h, await seed(h));
    await h.ctx.inbox.queue.stop();
    for (let i = 1; i <= 5; i++) await postWebhook(h, partial(x, tx(i), '0.01'), { settle: false });
    await postWebhook(h, paid(y, tx(0x77)), { settle: false });
    await h.settle();
    await completedOnce(h, y.paymentId);
    expect(await queuedRows(h)).toBe(0);
  });
});

describe('two instances on one store (a lease that runs out mid-apply)', () => {
  it('a delivery taken over after its lease ran out while the first worker was still applying it is credited and completed once', async () => {
    const store = new MemoryStore(systemClock);
    let slow = false;
    // Instance A's store answers payment writes slowly (a stalled MongoDB primary, a GC pause).
    const slowWrites = (s: Store): Store => withPaymentsHook(s, (op) => (slow && op === 'updateOne' ? sleep(400) : undefined));
    const env = { WEBHOOK_INBOX_LEASE_MS: '100' };
    const a = await startTestWorld({ listen: true, shkeeper: true, store, wrapStore: slowWrites, env: { WEBHOOK_INBOX_POLL_MS: '20', ...env } });
    worlds.push(a);
    const intent = await pending(a);
    const b = await startTestWorld({ listen: true, shkeeper: true, store, env: { WEBHOOK_INBOX_POLL_MS: '20', ...env } });
    worlds.push(b);
    await b.ctx.inbox.queue.stop();
    slow = true;
    await postWebhook(a, paid(intent), { settle: false });
    // A has started it; its lease (100 ms) runs out while its writes stall; B takes it over.
    for (let i = 0; i < 100 && (await store.webhookDeliveries.count({ 'job.state': 'running' })) === 0; i++) await sleep(5);
    await sleep(150);
    b.ctx.inbox.queue.start();
    await sleep(50);
    await b.settle();
    await sleep(1_500);
    slow = false;
    await a.settle();
    await b.settle();
    const p = await completedOnce(b, intent.paymentId);
    expect(p.escrow!.credits).toHaveLength(1);
    const rows = await rowsOf(b, intent.externalId);
    expect(rows.map((r) => [r.outcome, r.job?.state])).toEqual([['applied', null]]);
    // Both instances started it: B took it over, A's late outcome was not written.
    expect(rows[0]!.job!.attempts).toBe(2);
    expect(a.ctx.inbox.queue.status()).toMatchObject({ lostLeases: 1 });
    expect(a.events.callsNamed('purchase-request-update').length + b.events.callsNamed('purchase-request-update').length).toBe(1);
    await expectSoundLedgers(b);
  });
});

describe('retries that run out', () => {
  it('a delivery whose every attempt failed is dead, counted, and leaves the payment unfunded (never half-applied)', async () => {
    const outage = failingPaymentWrites();
    const h = await world({ WEBHOOK_INBOX_MAX_ATTEMPTS: '2', WEBHOOK_INBOX_RETRY_BASE_MS: '5', WEBHOOK_INBOX_RETRY_MAX_MS: '5' }, { wrapStore: outage.wrap });
    const intent = await pending(h);
    outage.arm(2);
    expect((await postWebhook(h, paid(intent), { settle: false })).status).toBe(202);
    for (let i = 0; i < 100 && (await h.store.webhookDeliveries.count({ 'job.state': 'dead' })) === 0; i++) await sleep(10);
    expect((await webhookStats(h)).inbox).toMatchObject({ depth: 0, dead: 1 });
    const p = await paymentOf(h, intent.paymentId);
    expect(p.status).toBe('pending');
    expect(p.escrow?.credits ?? []).toEqual([]);
    await expectSoundLedgers(h);
  });

  // Was a FAULT (a real payment lost after an outage of ours outlasted the retries): SHKeeper was
  // answered 202 and never re-sends, and nothing queued a dead delivery again. Fixed: the invoice
  // poller (auto-webhook monitor) queues again the given-up deliveries of payments still open.
  it('a PAID delivery given up after its retries still completes the payment once the store is back', async () => {
    const outage = failingPaymentWrites();
    const h = await world(
      { WEBHOOK_INBOX_MAX_ATTEMPTS: '2', WEBHOOK_INBOX_RETRY_BASE_MS: '5', WEBHOOK_INBOX_RETRY_MAX_MS: '5', AUTO_WEBHOOK_AFTER_MS: '0' },
      { wrapStore: outage.wrap },
    );
    const intent = await pending(h);
    outage.arm(2);
    // SHKeeper's own callback for the invoice's whole amount, answered 202 once recorded.
    h.fake.pay({ externalId: intent.externalId });
    await h.fake.callbacksSettled();
    for (let i = 0; i < 100 && (await h.store.webhookDeliveries.count({ 'job.state': 'dead' })) === 0; i++) await sleep(10);
    expect(h.fake.deliveries.filter((d) => d.externalId === intent.externalId).map((d) => d.status)).toEqual([202]);
    // The store is back; the monitors run.
    await h.monitor('autoWebhook').tick();
    await sleep(100);
    await h.settle();
    expect((await paymentOf(h, intent.paymentId)).status).toBe('completed');
  });
});

describe('replays of a captured signed delivery', () => {
  it('a timestamp-signed delivery replayed after ±300 s is refused', async () => {
    const h = await world();
    const intent = await pending(h);
    const ts = nowSec() - 400;
    expect((await postWebhook(h, paid(intent), { ts })).status).toBe(401);
    expect((await paymentOf(h, intent.paymentId)).status).toBe('pending');
  });

  // Found here (the store grew on replays): the body-only signature form has no timestamp, so its
  // bytes stay valid for ever, and each replay was stored with its body and queued. Fixed: a delivery
  // proven without a timestamp whose exact bytes were recorded is answered from the first row.
  it('a body-signed delivery replayed 20 times adds no row and queues nothing', async () => {
    const h = await world();
    const intent = await pending(h);
    await postWebhook(h, paid(intent), { form: 'body' });
    const before = await h.store.webhookDeliveries.count({});
    for (let i = 0; i < 20; i++) expect((await postWebhook(h, paid(intent), { form: 'body', settle: false })).status).toBe(202);
    await h.settle();
    await completedOnce(h, intent.paymentId);
    expect(await h.store.webhookDeliveries.count({})).toBe(before);
  });

  it('a body-signed delivery with different bytes (a real new state) is still recorded and applied', async () => {
    const h = await world();
    const intent = await pending(h);
    await postWebhook(h, partial(intent, tx(1), '10'), { form: 'body' });
    await postWebhook(h, paid(intent, tx(2), '15.5'), { form: 'body' });
    expect((await paymentOf(h, intent.paymentId)).status).toBe('completed');
  });
});

describe('the payout callback’s 202', () => {
  const payoutWorlds: ListeningWorld[] = [];
  afterEach(async () => {
    for (const w of payoutWorlds.splice(0)) await w.stop();
  });
  async function payoutWorld() {
    const h = await startPayoutHarness({ payoutCallbacks: true });
    payoutWorlds.push(h);
    const m = await seedFunded(h);
    const r = await createPayout(h, payoutBody(m));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return { h, payoutId: (r.body.data as { payoutId: string }).payoutId };
  }
  const post = (h: ListeningWorld, body: Record<string, unknown>) => {
    const raw = compactSortedJson(body);
    return h.anonymous
      .post('/shkeeper/payout/webhook')
      .set(callbackHeaders(raw, { apiKey: h.fake.apiKey, withApiKeyHeader: false, timestamp: nowSec() }))
      .send(raw);
  };
  const cb = (payoutId: string, txid: string, over: Record<string, unknown> = {}) => ({
    payout_id: 7,
    external_id: `PAYOUT_${payoutId}`,
    tx_hash: txid,
    status: 'SUCCESS',
    amount: '25.5',
    crypto: 'BNB-USDT',
    ...over,
  });

  it('names only the recorded delivery; SUCCESS re-sent and racing completes the payout once', async () => {
    const { h, payoutId } = await payoutWorld();
    const answers = await Promise.all([post(h, cb(payoutId, tx(0x11))), post(h, cb(payoutId, tx(0x11))), post(h, cb(payoutId, tx(0x11)))]);
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    for (const a of answers) expect(Object.keys(a.body.data)).toEqual(['deliveryId']);
    await h.settle();
    const p = await paymentOf(h, payoutId);
    expect(p.status).toBe('completed');
    expect(p.history.filter((x) => x.toStatus === 'completed')).toHaveLength(1);
    expect(h.events.callsNamed('payout-completed')).toHaveLength(1);
    const rows = await h.store.webhookDeliveries.find({ kind: 'payout' });
    expect(rows.map((r) => r.outcome).sort()).toEqual(['applied', 'duplicate', 'duplicate']);
  });

  it('a callback for a payout we do not know is 202 and changes nothing', async () => {
    const { h, payoutId } = await payoutWorld();
    expect((await post(h, cb('nope', tx(0x12)))).status).toBe(202);
    await h.settle();
    expect((await paymentOf(h, payoutId)).status).not.toBe('completed');
    expect((await h.store.webhookDeliveries.find({ kind: 'payout' })).map((r) => r.outcome)).toEqual(['unknown_invoice']);
  });

  // Was a FAULT (a payout left uncompleted by its webhook; needs a signed non-SUCCESS body): the payout
  // dedupe key had no status and was claimed by a delivery that changed nothing, so a SUCCESS after
  // another callback for the same tx hash was skipped as its duplicate. Fixed: the key holds the status
  // and only a delivery that moved the payout claims it.
  it('a non-SUCCESS callback does not stop the later SUCCESS for the same tx hash from completing the payout', async () => {
    const { h, payoutId } = await payoutWorld();
    await post(h, cb(payoutId, tx(0x13), { status: 'PENDING' }));
    await h.settle();
    await post(h, cb(payoutId, tx(0x13)));
    await h.settle();
    expect((await paymentOf(h, payoutId)).status).toBe('completed');
  });
});
