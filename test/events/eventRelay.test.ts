import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { deliveryId, deliveryKey, eventBody, EventRelay, subscribes } from '../../src/core/events/eventRelay.js';
import { PaymentCoordinator, type CreditInput, type NewPayment } from '../../src/core/payments/paymentCoordinator.js';
import type { EventDeliveryRecord, WebhookEndpointRecord } from '../../src/core/store/eventRecords.js';
import type { PaymentRecord, PendingEvent } from '../../src/core/store/records.js';
import { newObjectId } from '../../src/platform/ids.js';
import { InProcessKeyedLock } from '../../src/platform/keyedLock.js';
import { createLogger } from '../../src/platform/logger.js';
import { payment } from '../helpers/fixtures.js';
import { ManualClock } from '../helpers/manualClock.js';

/**
 * The relay from the payments' outbox to the event log and the delivery queue (README, "Events
 * out"): each pending event is recorded once in `paymentEvents`, with one queued delivery per
 * enabled endpoint that subscribes to its type, and then leaves the outbox; running it again, two
 * at once, or after a crash between recording and removing records nothing twice; one payment's
 * deliveries are queued in the order of its events. Time is a ManualClock that the relay never
 * moves, so ordering comes from the relay itself, not from time passing.
 */

const RETENTION_MS = 30 * 86_400_000;
const logger = createLogger('silent');

let clock: ManualClock;
let store: MemoryStore;
let coordinator: PaymentCoordinator;
let relays: EventRelay[];

beforeEach(() => {
  clock = new ManualClock();
  store = new MemoryStore(clock);
  coordinator = new PaymentCoordinator(store, new InProcessKeyedLock(), clock);
  relays = [];
});
afterEach(async () => {
  await Promise.all(relays.map((r) => r.stop()));
});

function relay(): EventRelay {
  const r = new EventRelay({ store, clock, pollMs: 60_000, retentionMs: RETENTION_MS }, logger);
  relays.push(r);
  return r;
}

async function endpoint(eventTypes: string[], enabled = true): Promise<WebhookEndpointRecord> {
  const now = clock.now();
  const e: WebhookEndpointRecord = {
    id: newObjectId(now),
    url: 'https://hooks.example.com/escrow',
    description: null,
    enabled,
    eventTypes,
    secrets: [{ secret: 'whsec_test', createdAt: now, expiresAt: null }],
    createdBy: 'admin-1',
    createdAt: now,
    updatedAt: now,
  };
  await store.webhookEndpoints.insertOne(e);
  return e;
}

let txCount = 0;
const transfer = (amount: string): CreditInput => ({
  txHash: `0x${(++txCount).toString(16).padStart(64, '0')}`,
  from: '0x1111111111111111111111111111111111111111',
  to: '0x00000000000000000000000000000000000e5c40',
  network: 'bsc',
  token: 'USDT',
  amount,
  baseUnits: null,
  blockNumber: null,
});
const step = { source: 'test', actor: 'tester', completionEffects: [] };

/** A payment created through the coordinator (one `payment.created` event, or `payout.created`). */
async function created(direction: 'in' | 'out' = 'in'): Promise<PaymentRecord> {
  const { history: _h, createdAt: _c, updatedAt: _u, escrow: _e, creditKeys: _k, fundedRequestKey: _f, pendingEffects: _p, ...fields } = payment({ direction });
  return coordinator.create(fields as NewPayment, 'api', 'buyer-1');
}

/** A payment with five events, all at one instant: created, processing, funded, excess, attention. */
async function busyPayment(): Promise<PaymentRecord> {
  const p = await created();
  await coordinator.credit(p.id, transfer('10'), step);
  await coordinator.credit(p.id, transfer('15.5'), step);
  await coordinator.credit(p.id, transfer('1'), step);
  return coordinator.flagForAdmin(p.id, { reason: 'check_me', source: 'test', actor: 'tester' });
}

const outbox = async (id: string) => (await store.payments.findById(id))!.pendingEvents ?? [];
const allDeliveries = () => store.eventDeliveries.find({}, { sort: { createdAt: 1, id: 1 } });
const allEvents = () => store.paymentEvents.find({}, { sort: { id: 1 } });

/** Everything the relay writes, to compare two runs. */
async function recorded() {
  return { events: await allEvents(), deliveries: await store.eventDeliveries.find({}, { sort: { id: 1 } }) };
}

describe('eventBody, subscribes, deliveryId', () => {
  it('the body is the event in the README shape, created in unix seconds', () => {
    const at = new Date('2025-01-01T00:00:01.999Z');
    const body = eventBody({ id: 'e1', type: 'escrow.funded', createdAt: at, data: { payment: { id: 'p1' } } });
    expect(JSON.parse(body)).toEqual({ id: 'e1', object: 'event', type: 'escrow.funded', created: 1735689601, data: { payment: { id: 'p1' } } });
    expect(Object.keys(JSON.parse(body))).toEqual(['id', 'object', 'type', 'created', 'data']);
  });

  it.each([
    [['*'], true, 'escrow.funded', true],
    [['escrow.funded'], true, 'escrow.funded', true],
    [['escrow.funded', 'payment.created'], true, 'payment.created', true],
    [['escrow.funded'], true, 'escrow.released', false],
    [['escrow.*'], true, 'escrow.funded', false],
    [[], true, 'escrow.funded', false],
    [['*'], false, 'escrow.funded', false],
    [['escrow.funded'], false, 'escrow.funded', false],
  ])('an endpoint for %j (enabled %s) takes %s: %s', (eventTypes, enabled, type, takes) => {
    expect(subscribes({ eventTypes, enabled }, type)).toBe(takes);
  });

  it('a delivery id is 24 hex, fixed by the event and the endpoint, and differs for either', () => {
    const [e1, e2, x1, x2] = [newObjectId(), newObjectId(), newObjectId(), newObjectId()];
    expect(deliveryId(e1, x1)).toMatch(/^[0-9a-f]{24}$/);
    expect(deliveryId(e1, x1)).toBe(deliveryId(e1, x1));
    expect(new Set([deliveryId(e1, x1), deliveryId(e1, x2), deliveryId(e2, x1), deliveryId(e2, x2)]).size).toBe(4);
    expect(deliveryKey(x1, 'p1')).toBe(`${x1}:p1`);
  });
});

describe('EventRelay', () => {
  it('records each pending event once, with one queued delivery per enabled endpoint that subscribes to it, and empties the outbox', async () => {
    const all = await endpoint(['*']);
    const funded = await endpoint(['escrow.funded']);
    const disabled = await endpoint(['*'], false);
    const disabledExplicit = await endpoint(['payment.created', 'escrow.funded'], false);
    const payouts = await endpoint(['payout.created']);
    const p = await created();
    clock.advance(1_000);
    const after = (await coordinator.credit(p.id, transfer('25.5'), step)).payment;
    const pending = after.pendingEvents!;
    expect(pending.map((e) => e.type)).toEqual(['payment.created', 'escrow.funded']);
    clock.advance(5_000);
    const now = clock.now();
    let told = 0;
    const r = relay();
    r.onRecorded = () => told++;
    await r.drain();

    expect(await outbox(p.id)).toEqual([]);
    expect(told).toBeGreaterThan(0);
    const events = await allEvents();
    expect(events).toHaveLength(2);
    for (const e of pending) {
      expect(events.find((x) => x.id === e.id)).toMatchObject({
        type: e.type,
        paymentId: p.id,
        data: e.data,
        createdAt: e.at,
        expiresAt: new Date(now.getTime() + RETENTION_MS),
      });
    }

    const deliveries = await allDeliveries();
    const expected = [
      [pending[0]!, all],
      [pending[1]!, all],
      [pending[1]!, funded],
    ] as const;
    expect(deliveries.map((d) => `${d.eventType}→${d.endpointId}`).sort()).toEqual(expected.map(([e, x]) => `${e.type}→${x.id}`).sort());
    for (const [e, x] of expected) {
      const d = deliveries.find((y) => y.eventId === e.id && y.endpointId === x.id)!;
      expect(d).toMatchObject({
        id: deliveryId(e.id, x.id),
        paymentId: p.id,
        eventType: e.type,
        status: 'pending',
        attemptLog: [],
        responseCode: null,
        error: null,
        deliveredAt: null,
        redeliveryOf: null,
        expiresAt: new Date(now.getTime() + RETENTION_MS),
        job: { state: 'queued', key: deliveryKey(x.id, p.id), attempts: 0, leaseOwner: null },
      });
      expect(d.requestBody).toBe(eventBody({ id: e.id, type: e.type, createdAt: e.at, data: e.data }));
      expect(d.job!.runAt).toEqual(d.createdAt);
    }
    for (const x of [disabled, disabledExplicit, payouts]) expect(deliveries.filter((d) => d.endpointId === x.id)).toEqual([]);
  });

  it('records the event in the log even when no endpoint takes it', async () => {
    const p = await created();
    await relay().drain();
    expect((await allEvents()).map((e) => e.paymentId)).toEqual([p.id]);
    expect(await allDeliveries()).toEqual([]);
    expect(await outbox(p.id)).toEqual([]);
  });

  it('is idempotent: a second drain, and a new event after it, add only what is new', async () => {
    await endpoint(['*']);
    const p = await created();
    const r = relay();
    await r.drain();
    const first = await recorded();
    await r.drain();
    expect(await recorded()).toEqual(first);
    await relay().drain();
    expect(await recorded()).toEqual(first);

    clock.advance(1_000);
    await coordinator.transition(p.id, { to: 'cancelled', source: 'test', actor: 'tester' });
    await r.drain();
    const second = await recorded();
    expect(second.events).toHaveLength(2);
    expect(second.deliveries).toHaveLength(2);
    expect(second.events.filter((e) => first.events.some((f) => f.id === e.id))).toEqual(first.events);
  });

  it('two drains at once, on one relay or on two, record every event and delivery once', async () => {
    await endpoint(['*']);
    await endpoint(['escrow.funded', 'escrow.excess_received']);
    const ps = [await busyPayment(), await busyPayment(), await created('out')];
    const pending = ps.flatMap((p) => p.pendingEvents!);
    const one = relay();
    await Promise.all([one.drain(), one.drain(), relay().drain(), relay().drain()]);
    expect((await allEvents()).map((e) => e.id).sort()).toEqual(pending.map((e) => e.id).sort());
    const deliveries = await allDeliveries();
    const perEvent = (type: string) => (['escrow.funded', 'escrow.excess_received'].includes(type) ? 2 : 1);
    expect(deliveries).toHaveLength(pending.reduce((n, e) => n + perEvent(e.type), 0));
    expect(new Set(deliveries.map((d) => d.id)).size).toBe(deliveries.length);
    for (const p of ps) expect(await outbox(p.id)).toEqual([]);
  });

  it("keeps each payment's order: its deliveries to an endpoint are queued with strictly increasing createdAt, in event order", async () => {
    const x = await endpoint(['*']);
    const y = await endpoint(['escrow.funded', 'payment.attention_required', 'payment.created']);
    const ps = [await busyPayment(), await busyPayment()];
    // The clock never moves: every event and delivery happens at the same instant.
    await relay().drain();
    const deliveries = await allDeliveries();
    for (const p of ps) {
      const order = p.pendingEvents!.map((e) => e.id);
      expect(order).toHaveLength(5);
      for (const e of [x, y]) {
        const mine = deliveries.filter((d) => d.paymentId === p.id && d.endpointId === e.id);
        expect(mine.map((d) => d.eventId)).toEqual(order.filter((id) => mine.some((d) => d.eventId === id)));
        for (let i = 1; i < mine.length; i++) expect(mine[i]!.createdAt.getTime()).toBeGreaterThan(mine[i - 1]!.createdAt.getTime());
      }
    }
    // And across passes: the next event of a payment queues after the earlier ones.
    await coordinator.flagForAdmin(ps[0]!.id, { reason: 'later', source: 'test', actor: 'tester' });
    await relay().drain();
    const mine = (await allDeliveries()).filter((d) => d.paymentId === ps[0]!.id && d.endpointId === x.id);
    expect(mine.at(-1)!.eventType).toBe('payment.attention_required');
    expect(mine.at(-1)!.createdAt.getTime()).toBeGreaterThan(mine.at(-2)!.createdAt.getTime());
  });

  it('relays more payments than one read takes', async () => {
    await endpoint(['payment.created']);
    const ps: PaymentRecord[] = [];
    for (let i = 0; i < 120; i++) ps.push(await created());
    await relay().drain();
    expect(await store.paymentEvents.count({})).toBe(120);
    expect(await store.eventDeliveries.count({})).toBe(120);
    expect(await store.payments.count({ 'pendingEvents.id': { $type: 'string' } })).toBe(0);
  });

  it('a crash between recording and removing records nothing twice when the event is relayed again', async () => {
    await endpoint(['*']);
    await endpoint(['escrow.funded']);
    const p = await busyPayment();
    const pending = p.pendingEvents!;
    const r = relay();
    await r.drain();
    const first = await recorded();
    expect(first.events).toHaveLength(5);
    // As if the process died after recording and before the $pull: the events are back in the outbox.
    await store.payments.updateOne({ id: p.id }, { $set: { pendingEvents: pending } });
    clock.advance(60_000);
    await r.drain();
    await relay().drain(); // and a fresh relay, as after a restart
    expect(await recorded()).toEqual(first);
    expect(await outbox(p.id)).toEqual([]);
  });

  it('a pass that fails midway (the store refuses the removal) leaves the outbox, and the next pass finishes without duplicates', async () => {
    await endpoint(['*']);
    const p = await busyPayment();
    const original = store.payments.updateOne.bind(store.payments);
    let failing = true;
    store.payments.updateOne = async (...args: Parameters<typeof original>) => {
      if (failing && args[1].$pull) throw new Error('store down');
      return original(...args);
    };
    const r = relay();
    // drain runs a pass through the monitor (which logs the error) and then one of its own, which throws it.
    await expect(r.drain()).rejects.toThrow('store down');
    expect((await outbox(p.id)).length).toBeGreaterThan(0);
    expect(r.status()).toMatchObject({ lastError: 'store down' });
    failing = false;
    await r.drain();
    expect(await outbox(p.id)).toEqual([]);
    expect(await store.paymentEvents.count({})).toBe(5);
    expect(await store.eventDeliveries.count({})).toBe(5);
  });

  // Found here (fixed): a delivery's place in its key's queue came from a per-process counter, so a
  // second relay (after a crash or a leader change) could stamp a payment's next event earlier than
  // its first. Deliveries now take the event's own time, strictly increasing per payment.
  it("keeps one payment's order when another relay records its next event after a crash", async () => {
    await endpoint(['*']);
    // A burst: relay A's counter runs 30 ms ahead of the (still) clock.
    for (let i = 0; i < 30; i++) await created();
    const a = relay();
    await a.drain();
    const p = await created();
    await coordinator.flagForAdmin(p.id, { reason: 'check_me', source: 'test', actor: 'tester' });
    const [first, second] = (await outbox(p.id)) as [PendingEvent, PendingEvent];
    // A records the first event's delivery, then dies.
    const insert = store.eventDeliveries.insertIfAbsent.bind(store.eventDeliveries);
    store.eventDeliveries.insertIfAbsent = async (d: EventDeliveryRecord) => {
      if (d.eventId === second.id) throw new Error('process died');
      return insert(d);
    };
    await expect(a.drain()).rejects.toThrow('process died');
    expect((await allDeliveries()).filter((d) => d.paymentId === p.id).map((d) => d.eventId)).toEqual([first.id]);
    store.eventDeliveries.insertIfAbsent = insert;
    await relay().drain(); // B takes over
    const mine = (await allDeliveries()).filter((d) => d.paymentId === p.id);
    expect(mine.map((d) => d.eventId)).toEqual([first.id, second.id]);
  });
});
