import { describe, expect, it } from 'vitest';
import { newObjectId } from '../../src/platform/ids.js';
import { createLogger } from '../../src/platform/logger.js';
import { IDEMPOTENCY_TTL_MS } from '../../src/features/shared/idempotencyMiddleware.js';
import type { IntervalMonitor } from '../../src/platform/monitors/intervalMonitor.js';
import { MonitorRegistry } from '../../src/platform/monitors/monitorRegistry.js';
import { BAD_SIGNATURE_TTL_MS, DeliveryLog } from '../../src/core/webhooks/deliveryLog.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import type { IdempotencyRecord, WebhookDeliveryRecord } from '../../src/core/store/records.js';
import { RetentionSweep, retentionSweepFor } from '../../src/adapters/store/retentionSweep.js';
import type { Store } from '../../src/core/store/store.js';
import { startTestWorld } from '../helpers/testWorld.js';
import { ManualClock } from '../helpers/manualClock.js';
import { signedDeliveryFields } from '../helpers/fixtures.js';

/**
 * Webhook deliveries and idempotency records expire (`expiresAt`). MongoDB drops expired rows with
 * its TTL indexes; the in-process store has a sweep that deletes them.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const logger = createLogger('silent');

/** A delivery row named by its external id. */
const delivery = (name: string, expiresAt: Date | null, at: Date): WebhookDeliveryRecord => ({
  id: newObjectId(at),
  provider: 'shkeeper',
  kind: 'invoice',
  verification: 'hmac_timestamp',
  verificationError: null,
  externalId: name,
  status: 'PAID',
  txids: [],
  receivedAt: at,
  outcome: 'applied',
  dedupeKey: null,
  paymentId: null,
  detail: null,
  expiresAt,
  createdAt: at,
  updatedAt: at,
});

/** An idempotency record named by its scope key. */
const idempotencyKey = (name: string, expiresAt: Date, at: Date): IdempotencyRecord => ({
  id: newObjectId(at),
  scopeKey: name,
  requestHash: 'h',
  state: 'done',
  statusCode: 200,
  responseBody: null,
  expiresAt,
  createdAt: at,
  updatedAt: at,
});

/** The same store, but saying it is MongoDB (whose TTL indexes need no sweep). */
const claimingMongo = (store: Store): Store => Object.assign(Object.create(store) as Store, { kind: 'mongodb' as const });

describe('the retention sweep (in-process store)', () => {
  it('deletes rows whose expiresAt has come, from both collections, and keeps the live ones', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    const t0 = clock.now();
    const at = (ms: number) => new Date(t0.getTime() + ms);
    await store.webhookDeliveries.insertOne(delivery('d-past', at(-1), t0));
    await store.webhookDeliveries.insertOne(delivery('d-now', at(HOUR), t0));
    await store.webhookDeliveries.insertOne(delivery('d-live', at(HOUR + 1), t0));
    await store.idempotencyKeys.insertOne(idempotencyKey('k-now', at(HOUR), t0));
    await store.idempotencyKeys.insertOne(idempotencyKey('k-live', at(HOUR + 1), t0));
    const sweep = new RetentionSweep({ store, clock }, logger);

    await sweep.tick();
    expect((await store.webhookDeliveries.find({})).map((d) => d.externalId).sort()).toEqual(['d-live', 'd-now']);
    expect(await store.idempotencyKeys.count({})).toBe(2);

    clock.advance(HOUR); // exactly the expiry of d-now and k-now: `expiresAt <= now` goes
    await sweep.tick();
    expect((await store.webhookDeliveries.find({})).map((d) => d.externalId)).toEqual(['d-live']);
    expect((await store.idempotencyKeys.find({})).map((k) => k.scopeKey)).toEqual(['k-live']);
    expect(sweep.status()).toMatchObject({ lastError: null, deleted: { webhookDeliveries: 2, idempotencyKeys: 1 } });

    clock.advance(1);
    await sweep.tick();
    expect(await store.webhookDeliveries.count({})).toBe(0);
    expect(await store.idempotencyKeys.count({})).toBe(0);
  });

  it('runs on every instance: a monitor leader gate does not stop it (the in-process store is this process alone)', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    await store.idempotencyKeys.insertOne(idempotencyKey('k', new Date(clock.now().getTime() - 1), clock.now()));
    const registry = new MonitorRegistry();
    registry.setGate(() => false);
    const sweep = new RetentionSweep({ store, clock }, logger);
    registry.register(sweep);
    await sweep.tick();
    expect(await store.idempotencyKeys.count({})).toBe(0);
  });

  it('exists for the in-process store only: on MongoDB the TTL indexes expire the rows', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    expect(retentionSweepFor({ store, clock }, logger)).toBeInstanceOf(RetentionSweep);
    expect(retentionSweepFor({ store: claimingMongo(store), clock }, logger)).toBeUndefined();

    expect((await startTestWorld({ store, clock })).ctx.monitors.get('retentionSweep')).toBeInstanceOf(RetentionSweep);
    expect((await startTestWorld({ store: claimingMongo(new MemoryStore(clock)), clock })).ctx.monitors.get('retentionSweep')).toBeUndefined();
  });

  it('the app registers it with the injected clock', async () => {
    const clock = new ManualClock();
    const t = await startTestWorld({ clock });
    await t.store.idempotencyKeys.insertOne(idempotencyKey('k', new Date(clock.now().getTime() + HOUR), clock.now()));
    const sweep = t.ctx.monitors.get('retentionSweep') as IntervalMonitor;
    await sweep.tick();
    expect(await t.store.idempotencyKeys.count({})).toBe(1);
    clock.advance(HOUR);
    await sweep.tick();
    expect(await t.store.idempotencyKeys.count({})).toBe(0);
  });
});

describe('webhook delivery rows', () => {
  const signed: Parameters<DeliveryLog['received']>[0] = { ...signedDeliveryFields, txids: [...signedDeliveryFields.txids] };

  it('expire WEBHOOK_DELIVERY_RETENTION_DAYS after receipt (30 by default)', async () => {
    for (const [env, days] of [
      [{}, 30],
      [{ WEBHOOK_DELIVERY_RETENTION_DAYS: '7' }, 7],
    ] as const) {
      const t = await startTestWorld({ clock: new ManualClock(), env });
      const { id } = await t.ctx.deliveries.queued(signed, '{}', `invoice:k-${days}`);
      const row = (await t.store.webhookDeliveries.findById(id))!;
      expect(row.expiresAt!.getTime() - row.receivedAt.getTime()).toBe(days * DAY);
    }
  });

  it('bad-signature samples keep their 24 h, or the retention when that is sooner', async () => {
    const clock = new ManualClock();
    const t = await startTestWorld({ clock, env: { WEBHOOK_DELIVERY_RETENTION_DAYS: '30' } });
    await t.ctx.deliveries.badSignature('invoice', 'signature mismatch');
    const [sample] = await t.store.webhookDeliveries.find({ outcome: 'bad_signature' });
    expect(sample!.expiresAt!.getTime() - sample!.receivedAt.getTime()).toBe(BAD_SIGNATURE_TTL_MS);

    const store = new MemoryStore(clock);
    const short = new DeliveryLog(store, clock, undefined, { retentionMs: HOUR });
    await short.badSignature('payout', 'missing signature');
    const { id } = await short.queued(signed, '{}', 'invoice:AMN_1');
    for (const row of await store.webhookDeliveries.find({})) {
      expect(row.expiresAt!.getTime() - row.receivedAt.getTime(), row.id === id ? 'signed' : 'bad signature').toBe(HOUR);
    }
  });
});

describe('idempotency records', () => {
  const PAYMENT = 'a'.repeat(24);

  it('expire IDEMPOTENCY_RETENTION_HOURS after the request (24 by default, as before the setting)', async () => {
    for (const [env, hours] of [
      [{}, 24],
      [{ IDEMPOTENCY_RETENTION_HOURS: '2' }, 2],
    ] as const) {
      const clock = new ManualClock();
      const t = await startTestWorld({ clock, env });
      await t
        .http()
        .post(`/api/payment/shkeeper/${PAYMENT}/release`)
        .set('Authorization', t.bearer('admin-1', { admin: true }))
        .set('Idempotency-Key', 'k1')
        .send({});
      const [record] = await t.store.idempotencyKeys.find({});
      expect(record!.expiresAt.getTime() - clock.now().getTime()).toBe(hours * HOUR);
    }
    expect(24 * HOUR).toBe(IDEMPOTENCY_TTL_MS);
  });

  it('replay the answer until then; after it, the same key is processed anew', async () => {
    const clock = new ManualClock();
    const t = await startTestWorld({ clock, env: { IDEMPOTENCY_RETENTION_HOURS: '2' } });
    const send = () =>
      t
        .http()
        .post(`/api/payment/shkeeper/${PAYMENT}/release`)
        .set('Authorization', t.bearer('admin-1', { admin: true }))
        .set('Idempotency-Key', 'k1')
        .send({});
    const first = await send();
    expect(first.status).toBe(404);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    clock.advance(2 * HOUR - 1);
    const replay = await send();
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);

    clock.advance(1);
    const anew = await send();
    expect(anew.status).toBe(404);
    expect(anew.headers['idempotent-replayed']).toBeUndefined();
    const [record] = await t.store.idempotencyKeys.find({});
    expect(record!.createdAt).toEqual(clock.now());
  });
});
