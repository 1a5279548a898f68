import { io as connect, type Socket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCluster, type Cluster, type Instance } from '../helpers/multiInstance.js';
import { redisUnavailable } from '../helpers/redisServer.js';
import { seedMarketplace } from '../helpers/fixtures.js';
import { BUYER, createIntent } from '../shkeeper/payinChainKit.js';

/**
 * Socket.IO across instances: an event emitted on one instance reaches the room's clients on
 * every instance, through the Redis adapter (a real redis-server). SHKeeper's callbacks go to
 * instance A (its PUBLIC_BASE_URL was the callback URL of the invoice); the buyer listens on B.
 */

if (redisUnavailable) process.stderr.write(`SKIPPED test/scaling/crossInstanceEvents: ${redisUnavailable}\n`);

let cluster: Cluster;
let a: Instance;
let b: Instance;
const clients: Socket[] = [];

beforeEach(async () => {
  if (redisUnavailable) return;
  cluster = await startCluster({ instances: 2, shkeeper: true, env: { AUTO_WEBHOOK_ENABLED: 'false' } });
  [a, b] = cluster.instances as [Instance, Instance];
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await cluster?.stop();
});

async function client(on: Instance, userId: string, opts: { admin?: boolean } = {}): Promise<Socket> {
  const token = cluster.tokens.sign({ sub: userId, ...(opts.admin ? { role: 'admin' } : {}) }, 600);
  const c = connect(on.url, { auth: { token }, transports: ['websocket'], reconnection: false });
  clients.push(c);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('connect_error', reject);
  });
  return c;
}

async function join(c: Socket, requestId: string) {
  expect(await c.emitWithAck('join-request', requestId)).toEqual({ ok: true });
}

/** Everything a client receives, by event name. */
function record(c: Socket) {
  const got: { event: string; payload: any }[] = [];
  c.onAny((event: string, payload: unknown) => got.push({ event, payload }));
  return { got, named: (e: string) => got.filter((x) => x.event === e).map((x) => x.payload) };
}

const settle = (ms = 200) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!!redisUnavailable)('events across instances (Redis adapter)', () => {
  it('a buyer connected to B hears the completion of a SHKeeper webhook delivered to A, once', async () => {
    const intent = await createIntent(cluster.harness(a));
    const buyerOnB = await client(b, BUYER);
    await join(buyerOnB, intent.purchaseRequestId);
    const buyerOnA = await client(a, BUYER);
    await join(buyerOnA, intent.purchaseRequestId);
    const [onB, onA] = [record(buyerOnB), record(buyerOnA)];
    const sellerOnB = record(await client(b, 'seller-2'));

    const arrived = new Promise<any>((resolve) => buyerOnB.on('purchase-request-update', resolve));
    cluster.fake!.pay({ externalId: intent.externalId });
    await cluster.fake!.callbacksSettled();
    expect(cluster.fake!.deliveries.map((d) => [new URL(d.url).origin, d.status])).toEqual([[a.url, 202]]);

    await expect(Promise.race([arrived, settle(3_000).then(() => 'nothing within 3 s')])).resolves.toEqual({
      purchaseRequestId: intent.purchaseRequestId,
      status: 'payment_processing',
      type: 'payment_completed',
      paymentId: intent.paymentId,
    });
    await settle();
    // A announced it (B only relayed): one emission in all, and one copy per client per room.
    expect(a.events.named('purchase-request-update')).toHaveLength(1);
    expect(b.events.emitted).toEqual([]);
    expect(onB.named('purchase-request-update')).toHaveLength(1);
    expect(onA.named('purchase-request-update')).toEqual(onB.named('purchase-request-update'));
    // The buyer is in the request room and its own user room: one emission to both, one copy.
    expect(onB.named('payment-updated').map((p) => p.status)).toEqual(['completed']);
    // The rejected seller, on B and never in the room, hears about its own offer only.
    expect(sellerOnB.named('seller-offer-update')).toEqual([
      { sellerOfferId: intent.otherOfferId, purchaseRequestId: intent.purchaseRequestId, status: 'rejected' },
    ]);
    expect(sellerOnB.named('purchase-request-update')).toEqual([]);
  });

  it('a payment created and cancelled through A is announced once to its buyer and an admin on B; a stranger on B hears nothing', async () => {
    const { request, offer } = await seedMarketplace(cluster.store, { buyerId: BUYER });
    const buyer = await client(b, BUYER);
    await join(buyer, request.id);
    const onBuyer = record(buyer);
    const onStranger = record(await client(b, 'stranger'));
    const admin = await client(b, 'ops', { admin: true });
    await join(admin, request.id);
    const onAdmin = record(admin);

    const call = (method: string, path: string, body: unknown) =>
      fetch(`${a.url}/api/payment${path}`, {
        method,
        headers: { 'content-type': 'application/json', authorization: cluster.bearer(BUYER) },
        body: JSON.stringify(body),
      });
    const created = await call('POST', '', {
      purchaseRequestId: request.id,
      sellerOfferId: offer.id,
      buyerId: BUYER,
      sellerId: 'seller-1',
      amount: { amount: '25.5', currency: 'USDT' },
    });
    expect(created.status).toBe(201);
    const paymentId = ((await created.json()) as { data: { id: string } }).data.id;
    expect((await call('PUT', `/${paymentId}`, { status: 'cancelled' })).status).toBe(200);
    await settle(300);

    // The buyer is in the request room and its user room, the admin in the admins' room and the
    // request room: each receives each event once, through Redis as on one instance.
    expect(onBuyer.named('payment-created').map((p) => p.paymentId)).toEqual([paymentId]);
    expect(onBuyer.named('payment-updated').map((p) => [p.paymentId, p.status])).toEqual([[paymentId, 'cancelled']]);
    expect(onAdmin.named('payment-created').map((p) => p.paymentId)).toEqual([paymentId]);
    expect(onAdmin.named('payment-updated').map((p) => [p.paymentId, p.status])).toEqual([[paymentId, 'cancelled']]);
    expect(onStranger.got).toEqual([]);
    expect(b.events.emitted).toEqual([]);
  });

  it('delivers every event of a burst emitted on A to a client on B, in order', async () => {
    const c = await client(b, 'burst-user');
    const seen: string[] = [];
    c.on('payout-updated', (p: { payoutId: string }) => seen.push(p.payoutId));
    const ids = Array.from({ length: 300 }, (_, i) => `p${i}`);
    for (const id of ids) a.ctx.events.emit({ kind: 'user', id: 'burst-user' }, 'payout-updated', { payoutId: id, status: 'x' });
    const t0 = performance.now();
    while (seen.length < ids.length && performance.now() - t0 < 5_000) await settle(20);
    expect(seen).toEqual(ids);
  });
});
