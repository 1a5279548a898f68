import { describe, expect, it } from 'vitest';
import { newObjectId } from '../../src/platform/ids.js';
import { Metrics } from '../../src/platform/metrics/metrics.js';
import { MonitorRegistry, type Monitor } from '../../src/platform/monitors/monitorRegistry.js';
import { DeliveryLog } from '../../src/core/webhooks/deliveryLog.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import type { Store } from '../../src/core/store/store.js';
import { startTestWorld, type TestWorld } from '../helpers/testWorld.js';
import { payment } from '../helpers/fixtures.js';
import { fundEscrow, hash32 } from '../escrow/ledgerKit.js';

const RECEIVER = '0x5555555555555555555555555555555555555555';
const PAYER = '0x3333333333333333333333333333333333333333';

async function scrape(t: TestWorld): Promise<string> {
  const res = await t.http().get('/metrics');
  expect(res.status).toBe(200);
  return res.text;
}

/** The value of one series, or undefined when it is absent. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const fund = (t: TestWorld, amount: string, currency: string, status?: 'released' | 'refunded') =>
  fundEscrow(
    { store: t.store, server: { ctx: t.ctx } },
    { requestId: newObjectId(), offerId: newObjectId(), buyerId: 'buyer-1', sellerId: 'seller-1', amount, currency, payer: PAYER, receiver: RECEIVER, status },
  );

describe('GET /metrics', () => {
  it('reports request durations by route template, transitions, webhook outcomes and monitors', async () => {
    const t = await startTestWorld({ env: { SHKEEPER_WEBHOOK_SECRET: 'secret-0123456789' } });
    const p = payment();
    await t.store.payments.insertOne(p);
    expect((await t.http().get(`/api/payment/${p.id}`).set('Authorization', t.bearer('buyer-1'))).status).toBe(200);
    expect((await t.http().put(`/api/payment/${p.id}`).set('Authorization', t.bearer('buyer-1')).send({ status: 'cancelled' })).status).toBe(200);
    expect((await t.http().post('/api/payment/shkeeper/webhook').send('{}')).status).toBe(401);

    const text = await scrape(t);
    // Route templates, never raw ids.
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/api\/payment\/:id",status="200"\} 1/);
    expect(text).not.toContain(p.id);
    expect(text).toMatch(/payment_transitions_total\{from="pending",to="cancelled"\} 1/);
    expect(text).toMatch(/webhook_deliveries_total\{kind="invoice",outcome="bad_signature"\} 1/);
    // Monitor passes are counts: counters, named `_total`.
    expect(text).toContain('# TYPE monitor_runs_total counter');
    expect(text).toContain('# TYPE monitor_errors_total counter');
    expect(text).toMatch(/monitor_runs_total\{monitor="autoWebhook"\} 0/);
    expect(text).not.toMatch(/^monitor_runs\{/m);
  });

  it("labels a route's errors with the same full template as its successes, nested routers included", async () => {
    const t = await startTestWorld();
    const p = payment();
    await t.store.payments.insertOne(p);
    const auth = t.bearer('buyer-1');
    expect((await t.http().get(`/api/payment/${p.id}`).set('Authorization', auth)).status).toBe(200);
    // Errors raised inside the nested routers, answered by the app's error handler.
    expect((await t.http().get(`/api/payment/${newObjectId()}`).set('Authorization', auth)).status).toBe(404);
    expect((await t.http().put(`/api/payment/${p.id}`).set('Authorization', auth).send({ status: 'nonsense' })).status).toBe(400);
    expect((await t.http().get(`/api/payment/${p.id}`)).status).toBe(401);

    const text = await scrape(t);
    const routes = [...text.matchAll(/http_request_duration_seconds_count\{method="(\w+)",route="([^"]*)",status="(\d+)"\}/g)].map(
      (m) => `${m[1]} ${m[2]} ${m[3]}`,
    );
    expect(routes).toEqual(expect.arrayContaining(['GET /api/payment/:id 200', 'GET /api/payment/:id 404', 'PUT /api/payment/:id 400']));
    // No label is a nested router's own path.
    for (const r of routes) expect(r.split(' ')[1]).toMatch(/^(\/api\/payment|\/metrics|unmatched)/);
  });

  it('counts escrows funded, released and refunded per currency, and reads the money held and disbursements in doubt from the store', async () => {
    const t = await startTestWorld();
    // Nothing yet: no series for a currency never seen.
    expect(await scrape(t)).not.toMatch(/escrow_held_amount\{/);

    await fund(t, '0.1', 'USDT');
    await fund(t, '0.2', 'USDT');
    await fund(t, '7', 'USDT', 'released');
    await fund(t, '5', 'USDT', 'refunded');
    const usdc = await fund(t, '10.000000000000000001', 'USDC');
    // An outbound payout completing is not an escrow funded.
    const out = payment({ direction: 'out', status: 'processing', amount: { amount: '3', currency: 'USDT' } });
    await t.store.payments.insertOne(out);
    await t.ctx.coordinator.transition(out.id, { to: 'completed', source: 'test', actor: 'test' });

    let text = await scrape(t);
    expect(text).toContain('# TYPE escrows_funded_total counter');
    expect(value(text, 'escrows_funded_total{currency="USDT"}')).toBe(4);
    expect(value(text, 'escrows_funded_total{currency="USDC"}')).toBe(1);
    expect(value(text, 'escrows_released_total{currency="USDT"}')).toBe(1);
    expect(value(text, 'escrows_refunded_total{currency="USDT"}')).toBe(1);
    expect(value(text, 'escrows_released_total{currency="USDC"}')).toBeUndefined();
    // Summed exactly (0.1 + 0.2 is 0.3, not 0.30000000000000004); a float only for the exposition.
    expect(text).toContain('# TYPE escrow_held_amount gauge');
    expect(text).toMatch(/^escrow_held_amount\{currency="USDT"\} 0\.3$/m);
    expect(value(text, 'escrow_held_amount{currency="USDC"}')).toBe(10);
    expect(text).not.toMatch(/escrow_disbursements_in_doubt\{/);

    // A disbursement whose answer was lost is in doubt until evidence decides it.
    const step = { source: 'test', actor: 'test' };
    const d = {
      id: newObjectId(),
      kind: 'release',
      method: 'escrow_tx',
      recipient: RECEIVER,
      amount: '4',
      state: 'submitted',
      override: null,
      payoutId: null,
      evidence: hash32(),
      payload: null,
      createdBy: 'test',
    } as const;
    await t.ctx.coordinator.openDisbursement(usdc.id, d, step);
    await t.ctx.coordinator.moveDisbursement(usdc.id, d.id, 'in_doubt', step);
    text = await scrape(t);
    expect(value(text, 'escrow_disbursements_in_doubt{currency="USDC"}')).toBe(1);
    // Held until it settles.
    expect(value(text, 'escrow_held_amount{currency="USDC"}')).toBe(10);

    // Settled (a partial release): no longer in doubt (0, not a stale 1); the held amount drops.
    await t.ctx.coordinator.settleDisbursement(usdc.id, d.id, { ...step, evidence: d.evidence, effects: [] });
    text = await scrape(t);
    expect(value(text, 'escrow_disbursements_in_doubt{currency="USDC"}')).toBe(0);
    // The escrow is released now: nothing of USDC is held, and the series reads 0.
    expect(value(text, 'escrow_held_amount{currency="USDC"}')).toBe(0);
    expect(value(text, 'escrows_released_total{currency="USDC"}')).toBe(1);
  });

  it('drops store-derived gauges and counts the failure when the store cannot be read; the rest is still served', async () => {
    const store = new MemoryStore({ now: () => new Date() });
    let broken = false;
    const payments = store.payments;
    const stream = payments.stream.bind(payments);
    payments.stream = (filter, options) => {
      if (broken) throw new Error('store down');
      return stream(filter, options);
    };
    const t = await startTestWorld({ store: store as Store });
    await fund(t, '2', 'USDT');
    expect(value(await scrape(t), 'escrow_held_amount{currency="USDT"}')).toBe(2);
    broken = true;
    const text = await scrape(t);
    expect(text).not.toMatch(/escrow_held_amount\{/);
    expect(value(text, 'metrics_store_read_errors_total{metric="escrow_held_amount"}')).toBe(1);
    expect(value(text, 'escrows_funded_total{currency="USDT"}')).toBe(1);
  });

  it('requires the metrics token when one is configured', async () => {
    const t = await startTestWorld({ env: { METRICS_TOKEN: 'metrics-token-0123456789' } });
    expect((await t.http().get('/metrics')).status).toBe(401);
    expect((await t.http().get('/metrics').set('Authorization', 'Bearer wrong')).status).toBe(401);
    expect((await t.http().get('/metrics').set('Authorization', 'Bearer metrics-token-0123456789')).status).toBe(200);
  });
});

describe('Metrics', () => {
  it("mirrors each monitor's passes and failures as counters", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const monitors = new MonitorRegistry();
    let runs = 3;
    const status = () => ({ running: true, intervalMs: 1000, lastRunAt: null, lastError: null, runs, errors: 1 });
    monitors.register({ name: 'sweeper', status, start: () => {}, stop: async () => {} } as Monitor);
    metrics.watchMonitors(monitors);
    let text = await metrics.scrape();
    expect(text).toContain('monitor_runs_total{monitor="sweeper"} 3');
    expect(text).toContain('monitor_errors_total{monitor="sweeper"} 1');
    runs = 5;
    text = await metrics.scrape();
    expect(text).toContain('monitor_runs_total{monitor="sweeper"} 5');
  });

  it('measures webhook processing lag from receipt to applied, by kind', async () => {
    let now = new Date('2030-01-01T00:00:00Z');
    const clock = { now: () => now };
    const metrics = new Metrics({ defaultMetrics: false });
    const log = new DeliveryLog(new MemoryStore(clock), clock, metrics);
    const base = { verification: 'hmac_body' as const, verificationError: null, externalId: 'x', status: 'PAID', txids: [] };
    const row = await log.queued({ kind: 'invoice', ...base }, '{}', 'invoice:x');
    now = new Date(now.getTime() + 2_500);
    log.settled({ ...row, outcome: 'applied', job: { ...row.job!, state: null, finishedAt: now } });
    // Not applied: counted as an outcome, not a lag.
    const other = await log.queued({ kind: 'payout', ...base }, '{}', 'payout:x');
    log.settled({ ...other, outcome: 'stale', job: { ...other.job!, state: null, finishedAt: now } });

    const text = await metrics.scrape();
    expect(text).toContain('# TYPE webhook_processing_lag_seconds histogram');
    expect(text).toContain('webhook_processing_lag_seconds_bucket{le="1",kind="invoice"} 0');
    expect(text).toContain('webhook_processing_lag_seconds_bucket{le="2.5",kind="invoice"} 1');
    expect(text).toContain('webhook_processing_lag_seconds_sum{kind="invoice"} 2.5');
    expect(text).toContain('webhook_processing_lag_seconds_count{kind="invoice"} 1');
    expect(text).not.toContain('webhook_processing_lag_seconds_count{kind="payout"}');
    expect(text).toContain('webhook_deliveries_total{kind="payout",outcome="stale"} 1');
  });

  it('counts only inbound payments as escrows', () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.transition('processing', 'completed', { currency: 'USDT', direction: 'out' });
    metrics.transition('processing', 'completed', { currency: 'USDT', direction: 'in' });
    metrics.transition('completed', 'released', { currency: 'USDT', direction: 'in' });
    metrics.transition('pending', 'cancelled', { currency: 'USDT', direction: 'in' });
    return metrics.scrape().then((text) => {
      expect(text).toContain('escrows_funded_total{currency="USDT"} 1');
      expect(text).toContain('escrows_released_total{currency="USDT"} 1');
      expect(text).toContain('payment_transitions_total{from="processing",to="completed"} 2');
    });
  });
});
