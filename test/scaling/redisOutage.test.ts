import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedMarketplace } from '../helpers/fixtures.js';
import { eventually, startCluster, type Cluster, type Instance } from '../helpers/multiInstance.js';
import { redisUnavailable } from '../helpers/redisServer.js';

/**
 * Redis going away under two instances: the service says so (health 503, redis not ok), refuses
 * what needs Redis with a clear 503 instead of hanging or guessing, applies nothing twice, and
 * recovers by itself when Redis comes back on the same port.
 */

if (redisUnavailable) console.warn(`SKIPPED test/scaling/redisOutage: ${redisUnavailable}`);

const BUYER = 'buyer-outage';
let cluster: Cluster;
let a: Instance;
let b: Instance;
const clients: Socket[] = [];

beforeAll(async () => {
  if (redisUnavailable) return;
  cluster = await startCluster({ instances: 2 });
  [a, b] = cluster.instances as [Instance, Instance];
});
afterAll(async () => {
  for (const c of clients.splice(0)) c.close();
  await cluster?.stop();
});

async function call(on: Instance, method: string, path: string, body?: unknown) {
  const res = await fetch(`${on.url}/api/payment${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), authorization: cluster.bearer(BUYER) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any };
}

const health = async (on: Instance) => {
  const res = await fetch(`${on.url}/api/payment/health`, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: (await res.json()) as any };
};

async function createPayment(on: Instance) {
  const { request, offer } = await seedMarketplace(cluster.store, { buyerId: BUYER });
  const r = await call(on, 'POST', '', {
    purchaseRequestId: request.id, sellerOfferId: offer.id, buyerId: BUYER, sellerId: 'seller-1', amount: { amount: '25.5', currency: 'USDT' },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { paymentId: r.body.data.id as string, requestId: request.id, offerId: offer.id };
}

async function listener(on: Instance, userId: string) {
  const c = connect(on.url, { auth: { token: cluster.tokens.sign({ sub: userId }, 600) }, transports: ['websocket'], reconnection: false });
  clients.push(c);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('connect_error', reject);
  });
  const got: string[] = [];
  c.on('payment-updated', (p: { status: string }) => got.push(p.status));
  return got;
}

describe.skipIf(!!redisUnavailable)('losing Redis under two instances', () => {
  it('degrades with clear 503s, applies nothing twice, and recovers when Redis returns on the same port', async () => {
    for (const i of [a, b]) expect((await health(i)).body).toMatchObject({ success: true, redis: { ok: true } });
    const cancelled = await createPayment(a);
    const completed = await createPayment(b);
    const heardOnB = await listener(b, BUYER);

    await cluster.redis.kill();

    // Health fails on every instance, so a load balancer takes them out. (Its body should say
    // `redis: { ok: false }`; today the Redis-backed per-IP limiter in front of /health answers
    // first with rate_limit_unavailable — the `it.fails` case below pins that bug.)
    for (const i of [a, b]) {
      const h = await health(i);
      expect(h.status, JSON.stringify(h.body)).toBe(503);
      expect(h.body.success).toBe(false);
      expect(['redis_unavailable', 'rate_limit_unavailable']).toContain(h.body.error.code);
      if (h.body.redis) expect(h.body.redis.ok).toBe(false);
    }
    // A status change needs the rate-limit counters and the payment's lease: a clear 503, nothing written.
    const refused = await call(b, 'PUT', `/${cancelled.paymentId}`, { status: 'cancelled' });
    expect(refused.status, JSON.stringify(refused.body)).toBe(503);
    expect(['lock_unavailable', 'rate_limit_unavailable']).toContain(refused.body.error.code);
    // A completion reached from inside (a monitor, a webhook past its limiter) needs the lease: refused too.
    const started = performance.now();
    await expect(a.ctx.settlement.complete(completed.paymentId, { source: 'test', actor: 'system' })).rejects.toMatchObject({
      code: 'lock_unavailable',
    });
    expect(performance.now() - started, 'refused at once, not after the lock retries').toBeLessThan(2_000);
    for (const id of [cancelled.paymentId, completed.paymentId]) {
      const p = (await cluster.store.payments.findById(id))!;
      expect(p).toMatchObject({ status: 'pending', pendingEffects: [] });
      expect(p.history).toHaveLength(1);
    }
    // The leader finds out at its next beat (a third of the lease) and its monitors pause; no one
    // else can take the lease meanwhile.
    await eventually(() => cluster.leaders().length === 0, 'the monitor leader to step down', 5_000);

    await cluster.redis.restart();

    // Each instance's connections come back by themselves (reconnect backoff ≤ 2 s).
    await eventually(async () => (await health(a)).status === 200 && (await health(b)).status === 200, 'health to recover', 15_000, 200);
    // The lease was lost with Redis; exactly one instance takes it again.
    await eventually(() => cluster.leaders().length === 1, 'a leader after the restart', 10_000);

    const cancel = await call(b, 'PUT', `/${cancelled.paymentId}`, { status: 'cancelled' });
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
    const again = await call(a, 'PUT', `/${cancelled.paymentId}`, { status: 'cancelled' });
    expect(again.status).toBe(200);
    expect((await a.ctx.settlement.complete(completed.paymentId, { source: 'test', actor: 'system' })).changed).toBe(true);
    expect((await b.ctx.settlement.complete(completed.paymentId, { source: 'test', actor: 'system' })).changed).toBe(false);

    const c = (await cluster.store.payments.findById(cancelled.paymentId))!;
    expect(c.history.map((h) => h.toStatus)).toEqual(['pending', 'cancelled']);
    const done = (await cluster.store.payments.findById(completed.paymentId))!;
    expect(done.history.map((h) => h.toStatus)).toEqual(['pending', 'completed']);
    expect(done.pendingEffects).toEqual([]);
    expect((await cluster.store.sellerOffers.findById(completed.offerId))!.status).toBe('accepted');
    expect((await cluster.store.purchaseRequests.findById(completed.requestId))!.status).toBe('payment_processing');
    expect(cluster.events.named('purchase-request-update').filter((e) => (e.payload as any).paymentId === completed.paymentId)).toHaveLength(1);

    // Events emitted on A reach B's clients again (the adapter's subscriber resubscribed).
    await eventually(() => heardOnB.includes('completed') && heardOnB.includes('cancelled'), 'B to hear A and B again', 5_000);
  });

  // KNOWN BUG (src/app.ts, reported, not fixed here): /api/payment/health sits behind the per-IP
  // rate limiter, whose counters live in Redis, so with Redis down the limiter answers 503
  // rate_limit_unavailable before the health route can report `redis: { ok: false }`. When /health
  // is exempted from rate limiting this case starts passing: turn `it.fails` into `it`.
  it.fails('health itself reports redis not ok while Redis is down', async () => {
    await cluster.redis.kill();
    let h: Awaited<ReturnType<typeof health>>;
    try {
      h = await health(a);
    } finally {
      await cluster.redis.restart();
      await eventually(async () => (await health(a)).status === 200, 'health to recover', 15_000, 200);
    }
    expect(h.status).toBe(503);
    expect(h.body).toMatchObject({ success: false, redis: { ok: false }, error: { code: 'redis_unavailable' } });
  });
});
