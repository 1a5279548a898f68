import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { verifyEventSignature } from '../../src/core/events/eventSignature.js';
import type { Store } from '../../src/core/store/store.js';
import { systemClock } from '../../src/platform/clock.js';
import { ManualClock } from '../helpers/manualClock.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import { addEndpoint, flush, waitFor } from '../helpers/eventsKit.js';
import { WebhookReceiver } from '../helpers/webhookReceiver.js';
import { intentFor, invoiceCallback, postWebhook, seed } from '../shkeeper/payinTestKit.js';

/**
 * Signed events out (issue 16), end to end against a real HTTP receiver on 127.0.0.1: every
 * change of a payment is announced once, signed so the receiver can check it, retried while the
 * receiver is down (across a restart of the service), in order per payment, and redeliverable.
 */

const worlds: ListeningWorld[] = [];
const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0).reverse()) await w.stop();
  for (const r of receivers.splice(0)) await r.close();
});

const FAST_RETRIES = {
  WEBHOOK_ENDPOINTS_ALLOW_PRIVATE: 'true',
  OUTBOUND_WEBHOOK_POLL_MS: '20',
  OUTBOUND_WEBHOOK_RETRY_BASE_MS: '20',
  OUTBOUND_WEBHOOK_RETRY_MAX_MS: '80',
  OUTBOUND_WEBHOOK_TIMEOUT_MS: '2000',
  WEBHOOK_INBOX_POLL_MS: '20',
};

async function world(opts: { store?: Store; clock?: ManualClock; env?: Record<string, string> } = {}) {
  const w = await startTestWorld({ listen: true, shkeeper: true, store: opts.store, clock: opts.clock, env: { ...FAST_RETRIES, ...opts.env } });
  worlds.push(w);
  return w;
}

async function receiver() {
  const r = await WebhookReceiver.start();
  receivers.push(r);
  return r;
}

/** A SHKeeper payment created, then funded by a PAID callback: `payment.created`, `escrow.funded`. */
async function fundedPayment(h: ListeningWorld, n: number) {
  const intent = await intentFor(h, await seed(h));
  const txid = `0x${n.toString(16).padStart(64, 'a')}`;
  await postWebhook(h, invoiceCallback(intent, { balance_crypto: '25.5' }, { amount_crypto: '25.5', txid }));
  return intent.paymentId;
}

const listEvents = (h: ListeningWorld, q: Record<string, string>) => h.admin.get(`/events?${new URLSearchParams(q).toString()}`);

const eventsOf = (body: string) => JSON.parse(body) as { id: string; type: string; data: { payment: { id: string; status: string } } };

describe('signed events to an endpoint', () => {
  it('every change is sent once, signed over the exact body (t=…,v1=…) with the endpoint secret', async () => {
    const h = await world();
    const r = await receiver();
    const { secret } = await addEndpoint(h, r.url);
    const paymentId = await fundedPayment(h, 1);
    await flush(h);
    await waitFor(() => r.delivered.length >= 2, 'two deliveries');

    expect(r.delivered.map((x) => eventsOf(x.body).type)).toEqual(['payment.created', 'escrow.funded']);
    for (const got of r.delivered) {
      const header = got.headers['escrow-signature'] as string;
      expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(verifyEventSignature({ body: got.body, header, secret })).toMatchObject({ ok: true });
      // Any change to the bytes, or another secret, fails.
      expect(verifyEventSignature({ body: `${got.body} `, header, secret }).ok).toBe(false);
      expect(verifyEventSignature({ body: got.body, header, secret: 'whsec_other' }).ok).toBe(false);
      expect(got.headers['escrow-event-id']).toBe(eventsOf(got.body).id);
    }
    const funded = eventsOf(r.delivered[1]!.body);
    expect(funded.data.payment).toMatchObject({ id: paymentId, status: 'completed', escrowState: 'funded', received: '25.5' });
    // The log holds the same events, in the same order, and each delivery succeeded on its first try.
    const log = await listEvents(h, { paymentId });
    expect((log.body.data.events as { id: string }[]).map((e) => e.id).reverse()).toEqual(r.delivered.map((x) => eventsOf(x.body).id));
    const deliveries = await h.store.eventDeliveries.find({});
    expect(deliveries.map((d) => [d.status, d.job?.attempts])).toEqual([
      ['succeeded', 1],
      ['succeeded', 1],
    ]);
  });

  it('an endpoint subscribed to some types gets only those', async () => {
    const h = await world();
    const r = await receiver();
    await addEndpoint(h, r.url, { eventTypes: ['escrow.funded'] });
    await fundedPayment(h, 2);
    await flush(h);
    await waitFor(() => r.delivered.length >= 1, 'one delivery');
    await flush(h);
    expect(r.delivered.map((x) => eventsOf(x.body).type)).toEqual(['escrow.funded']);
  });

  it('during a secret rotation each delivery carries both signatures, and either secret verifies it', async () => {
    const h = await world();
    const r = await receiver();
    const { id, secret: old } = await addEndpoint(h, r.url);
    const rotated = await h.admin.post(`/webhook-endpoints/${id}/rotate-secret`, { overlapHours: 1 });
    expect(rotated.status, rotated.text).toBe(200);
    const fresh = rotated.body.data.secret as string;
    expect(fresh).not.toBe(old);
    expect(JSON.stringify((await h.admin.get(`/webhook-endpoints/${id}`)).body)).not.toContain(fresh);
    await fundedPayment(h, 3);
    await flush(h);
    await waitFor(() => r.delivered.length >= 2, 'deliveries');
    const header = r.delivered[0]!.headers['escrow-signature'] as string;
    expect(header.split(',').filter((p) => p.startsWith('v1='))).toHaveLength(2);
    for (const secret of [old, fresh]) expect(verifyEventSignature({ body: r.delivered[0]!.body, header, secret }).ok).toBe(true);
  });
});

describe('a receiver that is down', () => {
  it('gets every event once and in order per payment once it is up, across a restart of the service in between', async () => {
    const store = new MemoryStore(systemClock);
    const first = await world({ store });
    const r = await receiver();
    await addEndpoint(first, r.url);
    await r.down();
    const payments = [];
    for (let i = 0; i < 4; i++) payments.push(await fundedPayment(first, 10 + i));
    await first.ctx.eventRelay.drain();
    // Several tries of each payment's first event fail while it is down; its second waits behind it.
    const heads = async () => store.eventDeliveries.find({ eventType: 'payment.created' });
    await waitFor(async () => (await heads()).every((d) => (d.job?.attempts ?? 0) >= 2), 'failed tries');
    expect(await store.eventDeliveries.count({})).toBe(8);
    expect((await heads()).every((d) => d.status === 'pending' && d.responseCode === null && d.error !== null)).toBe(true);
    expect((await store.eventDeliveries.find({ eventType: 'escrow.funded' })).map((d) => d.job?.attempts)).toEqual([0, 0, 0, 0]);

    // The service restarts with deliveries still queued; the receiver comes back meanwhile.
    await first.stop();
    await r.up();
    const second = await world({ store });
    await flush(second);
    await waitFor(async () => (await store.eventDeliveries.count({ status: 'succeeded' })) === 8, 'all delivered');

    const got = r.delivered.map((x) => eventsOf(x.body));
    expect(new Set(got.map((e) => e.id)).size).toBe(got.length);
    expect(got).toHaveLength(8);
    for (const paymentId of payments) {
      expect(got.filter((e) => e.data.payment.id === paymentId).map((e) => e.type)).toEqual(['payment.created', 'escrow.funded']);
    }
    const log = (await store.eventDeliveries.find({}))[0]!;
    expect(log.attemptLog.length).toBeGreaterThanOrEqual(3);
    expect(log.attemptLog.at(-1)).toMatchObject({ responseCode: 200, error: null });
  });

  it("a payment whose deliveries keep failing holds back no other payment's", async () => {
    const h = await world();
    const failing = await receiver();
    const healthy = await receiver();
    failing.status = 500;
    const bad = await addEndpoint(h, failing.url);
    await addEndpoint(h, healthy.url);
    await fundedPayment(h, 20);
    await flush(h);
    await waitFor(() => healthy.delivered.length === 2 && failing.received.length >= 4, 'healthy deliveries and failing retries');
    const stuck = await h.store.eventDeliveries.find({ endpointId: bad.id });
    // In order: the second event of the payment waits behind the first, which is retried.
    expect(stuck.map((d) => d.status)).toEqual(['pending', 'pending']);
    expect(failing.received.every((x) => eventsOf(x.body).type === 'payment.created')).toBe(true);
    expect(stuck.find((d) => d.eventType === 'payment.created')!.responseCode).toBe(500);
  });

  it('gives a delivery up once retrying would pass OUTBOUND_WEBHOOK_RETRY_HOURS, as `failed`', async () => {
    const clock = new ManualClock(Date.now());
    const h = await world({
      clock,
      env: { OUTBOUND_WEBHOOK_RETRY_HOURS: '1', OUTBOUND_WEBHOOK_RETRY_BASE_MS: '60000', OUTBOUND_WEBHOOK_RETRY_MAX_MS: '60000' },
    });
    const r = await receiver();
    r.status = 503;
    await addEndpoint(h, r.url, { eventTypes: ['payment.created'] });
    await intentFor(h, await seed(h));
    await flush(h);
    await waitFor(async () => (await h.store.eventDeliveries.count({ 'job.attempts': 1, 'job.state': 'queued' })) === 1, 'first try');
    // An hour later, the next try's retry would start past the hour: it is the last.
    clock.advance(61 * 60_000);
    await flush(h);
    await waitFor(async () => (await h.store.eventDeliveries.count({ status: 'failed' })) === 1, 'given up');
    expect(r.received).toHaveLength(2);
    const [d] = await h.store.eventDeliveries.find({});
    expect(d).toMatchObject({ status: 'failed', responseCode: 503, error: 'HTTP 503', job: { state: 'dead' } });
  });
});

describe('redelivery', () => {
  it('sends a delivered event again as a new delivery; a pending one is refused', async () => {
    const h = await world();
    const r = await receiver();
    const { id } = await addEndpoint(h, r.url, { eventTypes: ['payment.created'] });
    await intentFor(h, await seed(h));
    await flush(h);
    await waitFor(() => r.delivered.length === 1, 'first delivery');
    const [first] = await h.store.eventDeliveries.find({});
    // The sender is held so the redelivery stays pending while the test looks at it.
    await h.ctx.eventDeliveries.stop();
    const again = await h.admin.post(`/webhook-endpoints/${id}/deliveries/${first!.id}/redeliver`, {});
    expect(again.status, again.text).toBe(202);
    expect(again.body.data).toMatchObject({ redeliveryOf: first!.id, requestedBy: 'admin-1', status: 'pending' });
    // While it is pending, redelivering it is refused.
    const pending = await h.admin.post(`/webhook-endpoints/${id}/deliveries/${again.body.data.id}/redeliver`, {});
    expect(pending.status).toBe(409);
    expect(pending.body.error.code).toBe('delivery_pending');
    h.ctx.eventDeliveries.start();
    await waitFor(() => r.delivered.length === 2, 'the redelivery');
    expect(eventsOf(r.delivered[1]!.body).id).toBe(eventsOf(r.delivered[0]!.body).id);
    const list = await h.admin.get(`/webhook-endpoints/${id}/deliveries`);
    expect(list.body.data.deliveries).toHaveLength(2);
    expect(list.body.data.deliveries[0]).toMatchObject({ status: 'succeeded', responseCode: 200, responseBody: 'ok', redeliveryOf: first!.id });
    expect(list.body.data.deliveries[0].requestBody).toBe(first!.requestBody);
  });
});

describe('endpoint URLs', () => {
  it('refuses loopback, private and link-local hosts unless WEBHOOK_ENDPOINTS_ALLOW_PRIVATE is set', async () => {
    const h = await world({ env: { WEBHOOK_ENDPOINTS_ALLOW_PRIVATE: 'false' } });
    for (const url of [
      'http://127.0.0.1:8080/hooks',
      'http://localhost/hooks',
      'http://[::1]/hooks',
      'http://10.1.2.3/hooks',
      'http://169.254.169.254/latest/meta-data',
      'http://192.168.1.10/x',
      'ftp://example.com/x',
      'https://user:pass@example.com/x',
      'not a url',
    ]) {
      const r = await h.admin.post('/webhook-endpoints', { url });
      expect(r.status, url).toBe(400);
      expect(r.body.error.code, url).toBe('endpoint_url_refused');
    }
    expect(await h.store.webhookEndpoints.count({})).toBe(0);
    expect((await h.admin.post('/webhook-endpoints', { url: 'https://hooks.example.com/escrow' })).status).toBe(201);
  });

  it('a stored endpoint that points at a private address is not called when the setting is off', async () => {
    const store = new MemoryStore(systemClock);
    const open = await world({ store });
    const r = await receiver();
    await addEndpoint(open, r.url);
    await open.stop();
    const strict = await world({ store, env: { WEBHOOK_ENDPOINTS_ALLOW_PRIVATE: 'false', OUTBOUND_WEBHOOK_RETRY_BASE_MS: '60000' } });
    await intentFor(strict, await seed(strict));
    await flush(strict);
    await waitFor(async () => (await store.eventDeliveries.count({ 'job.attempts': { $gte: 1 } })) === 1, 'one try');
    expect(r.received).toHaveLength(0);
    expect((await store.eventDeliveries.find({}))[0]!.error).toMatch(/refused URL/);
  });
});

describe('the event log', () => {
  it('pages newest first with starting_after and has_more, over many events, and new events never shift a page', async () => {
    const h = await world();
    for (let i = 0; i < 30; i++) await fundedPayment(h, 30 + i);
    await h.ctx.eventRelay.drain();
    const total = await h.store.paymentEvents.count({});
    expect(total).toBe(60);
    const seen: { id: string; createdAt: string }[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const r = await listEvents(h, { limit: '7', ...(after ? { starting_after: after } : {}) });
      expect(r.status, r.text).toBe(200);
      seen.push(...r.body.data.events);
      pages++;
      if (pages === 2) {
        // Events that happen while paging come first in a new listing, not inside the next page.
        await fundedPayment(h, 99);
        await h.ctx.eventRelay.drain();
      }
      if (!r.body.data.has_more) break;
      after = r.body.data.events.at(-1).id;
    }
    expect(pages).toBe(9);
    expect(seen).toHaveLength(total);
    expect(new Set(seen.map((e) => e.id)).size).toBe(total);
    const order = seen.map((e) => `${e.createdAt}|${e.id}`);
    expect(order).toEqual([...order].sort().reverse());
    const typed = await listEvents(h, { type: 'escrow.funded', limit: '100' });
    expect(typed.body.data.events).toHaveLength(31);
    const bad = await listEvents(h, { starting_after: '0'.repeat(24) });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('cursor_not_found');
  });

  it('is for admins only', async () => {
    const h = await world();
    expect((await h.anonymous.get('/events')).status).toBe(401);
    expect((await h.as('buyer-1').get('/events')).status).toBe(403);
    expect((await h.as('buyer-1').post('/webhook-endpoints', { url: 'https://hooks.example.com/x' })).status).toBe(403);
  });
});
