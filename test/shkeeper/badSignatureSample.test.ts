import { describe, expect, it } from 'vitest';
import { BAD_SIGNATURE_SAMPLE_SIZE, BAD_SIGNATURE_TTL_MS, DELIVERY_RETENTION_MS, DeliveryLog } from '../../src/core/webhooks/deliveryLog.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { startTestWorld } from '../helpers/testWorld.js';
import { ManualClock } from '../helpers/manualClock.js';
import { signedDeliveryFields } from '../helpers/fixtures.js';

/**
 * Anyone can post to the webhook URLs, so a delivery with a bad signature is counted (a Prometheus
 * counter) and only a bounded, expiring sample of them is stored: the newest 100, each for 24 h.
 */

const SECRET = 'secret-0123456789';

describe('the stored sample', () => {
  it(`keeps at most ${BAD_SIGNATURE_SAMPLE_SIZE}, the newest, while every one is counted`, async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    const counted: string[] = [];
    const log = new DeliveryLog(store, clock, { delivery: () => undefined, badSignature: (kind, reason) => void counted.push(`${kind}:${reason}`) });
    for (let i = 0; i < BAD_SIGNATURE_SAMPLE_SIZE + 30; i++) {
      clock.advance(1_000);
      await log.badSignature(i % 2 === 0 ? 'invoice' : 'payout', `reason ${i}`);
    }
    expect(counted).toHaveLength(BAD_SIGNATURE_SAMPLE_SIZE + 30);
    const kept = await store.webhookDeliveries.find({ outcome: 'bad_signature' }, { sort: { receivedAt: 1 } });
    expect(kept).toHaveLength(BAD_SIGNATURE_SAMPLE_SIZE);
    expect(kept[0]!.verificationError).toBe('reason 30');
    expect(kept.at(-1)!.verificationError).toBe(`reason ${BAD_SIGNATURE_SAMPLE_SIZE + 29}`);
    for (const d of kept) expect(d.expiresAt!.getTime() - d.receivedAt.getTime()).toBe(BAD_SIGNATURE_TTL_MS);
  });

  it('drops rows older than 24 h on the next write; signed deliveries are never touched', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    const log = new DeliveryLog(store, clock);
    await log.received({ ...signedDeliveryFields, txids: [...signedDeliveryFields.txids] }, 'applied');
    await log.badSignature('invoice', 'signature mismatch');
    await log.badSignature('payout', 'missing signature');
    clock.advance(BAD_SIGNATURE_TTL_MS - 1);
    await log.badSignature('invoice', 'signature mismatch');
    expect(await store.webhookDeliveries.count({ outcome: 'bad_signature' })).toBe(3);
    clock.advance(2);
    await log.badSignature('invoice', 'malformed signature');
    const rows = await store.webhookDeliveries.find({}, { sort: { receivedAt: 1 } });
    expect(rows.map((r) => r.outcome)).toEqual(['applied', 'bad_signature', 'bad_signature']);
    // The signed row keeps the log's own retention (test/store/retention.test.ts), not the sample's day.
    expect(rows[0]!.expiresAt!.getTime() - rows[0]!.receivedAt.getTime()).toBe(DELIVERY_RETENTION_MS);
    expect(rows.slice(1).map((r) => r.verificationError)).toEqual(['signature mismatch', 'malformed signature']);
  });

  it('the MongoDB model expires rows by `expiresAt` (a TTL index)', async () => {
    const { webhookDeliverySchema } = await import('../../src/adapters/store/mongoModels.js');
    const ttl = webhookDeliverySchema.indexes().find(([fields]) => 'expiresAt' in fields);
    expect(ttl).toEqual([{ expiresAt: 1 }, expect.objectContaining({ expireAfterSeconds: 0 })]);
    expect(webhookDeliverySchema.path('expiresAt')).toBeDefined();
  });
});

describe('over HTTP', () => {
  it('invoice and payout webhooks with bad signatures → 401, counted by kind and reason, sampled with an expiry', async () => {
    const t = await startTestWorld({ env: { SHKEEPER_WEBHOOK_SECRET: SECRET } });
    for (let i = 0; i < 3; i++) expect((await t.http().post('/api/payment/shkeeper/webhook').send('{}')).status).toBe(401);
    const payout = await t.http().post('/api/payment/shkeeper/payout/webhook').set('X-Shkeeper-Signature', 'zz').send('{}');
    expect(payout.status).toBe(401);

    const metrics = (await t.http().get('/metrics')).text;
    expect(metrics).toMatch(/webhook_bad_signatures_total\{kind="invoice",reason="missing signature"\} 3/);
    expect(metrics).toMatch(/webhook_bad_signatures_total\{kind="payout",reason="malformed signature"\} 1/);
    expect(metrics).toMatch(/webhook_deliveries_total\{kind="invoice",outcome="bad_signature"\} 3/);

    const rows = await t.store.webhookDeliveries.find({});
    expect(rows).toHaveLength(4);
    for (const r of rows) {
      expect(r.outcome).toBe('bad_signature');
      expect(r.expiresAt).toBeInstanceOf(Date);
    }
    // The admin stats read the sample.
    const stats = await t
      .http()
      .get('/api/payment/shkeeper/webhook-stats')
      .set('Authorization', t.bearer('admin-1', { admin: true }));
    expect(stats.status).toBe(200);
    expect(stats.body.data.invoice.badSignature).toBe(3);
    expect(stats.body.data.payout.badSignature).toBe(1);
  });
});
