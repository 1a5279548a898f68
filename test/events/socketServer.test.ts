import { io as connect, type Socket } from 'socket.io-client';
import { TokenService } from '../../src/platform/auth/tokens.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { roomOf, to } from '../../src/core/events/paymentEvents.js';
import { systemClock } from '../../src/platform/clock.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { seedMarketplace } from '../helpers/fixtures.js';
import { dataOf, startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';

let server: ListeningWorld;
let store: MemoryStore;
const clients: Socket[] = [];

beforeEach(async () => {
  store = new MemoryStore(systemClock);
  server = await startTestWorld({ listen: true, store, env: { ESCROW_RECEIVER_ADDRESS: undefined } });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.stop();
});

async function client(token?: string): Promise<Socket> {
  const c = connect(server.url, { auth: token ? { token } : {}, transports: ['websocket'], reconnection: false });
  clients.push(c);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('connect_error', reject);
  });
  return c;
}

const join = (c: Socket, requestId: string) => c.emitWithAck('join-request', requestId) as Promise<{ ok: boolean; error?: string }>;

function nextEvent<T>(c: Socket, event: string, ms = 2_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    c.once(event, (payload: T) => {
      clearTimeout(t);
      resolve(payload);
    });
  });
}

/** Everything a client receives, in order. */
function record(c: Socket) {
  const got: { event: string; payload: { paymentId?: string; payoutId?: string; status?: string } }[] = [];
  c.onAny((event: string, payload: (typeof got)[number]['payload']) => got.push({ event, payload }));
  return { got, named: (e: string) => got.filter((x) => x.event === e).map((x) => x.payload) };
}

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

async function createPayment(requestId: string, offerId: string) {
  const res = await server.as('buyer-1').post('', {
    purchaseRequestId: requestId,
    sellerOfferId: offerId,
    buyerId: 'buyer-1',
    sellerId: 'seller-1',
    amount: { amount: '25.5', currency: 'USDT' },
  });
  expect(res.status).toBe(201);
  return dataOf<{ id: string }>(res);
}

describe('Socket.IO events', () => {
  it('refuses a handshake without a valid token', async () => {
    await expect(client()).rejects.toThrow('unauthorized');
    await expect(client(new TokenService('another-secret-0123456789abcdef').sign({ sub: 'x' }))).rejects.toThrow('unauthorized');
  });

  it('lets the buyer, a seller with an offer and an admin join a request room, and no one else', async () => {
    const { request } = await seedMarketplace(store);
    expect(await join(await client(server.tokens.sign({ sub: 'buyer-1' })), request.id)).toEqual({ ok: true });
    expect(await join(await client(server.tokens.sign({ sub: 'seller-2' })), request.id)).toEqual({ ok: true });
    expect(await join(await client(server.tokens.sign({ sub: 'admin', role: 'admin' })), request.id)).toEqual({ ok: true });
    expect(await join(await client(server.tokens.sign({ sub: 'stranger' })), request.id)).toEqual({ ok: false, error: 'forbidden' });
    expect(await join(await client(server.tokens.sign({ sub: 'buyer-1' })), 'not-an-id')).toEqual({ ok: false, error: 'forbidden' });
  });

  it('announces a created payment once to each concerned client (admins, request room, parties), after it is stored; a stranger hears nothing', async () => {
    const { request, offer } = await seedMarketplace(store);
    // The buyer is in the request room and its own rooms; the admin in the admins' room and,
    // having joined it, the request room too: each must receive each event once.
    const buyer = await client(server.tokens.sign({ sub: 'buyer-1' }));
    expect(await join(buyer, request.id)).toEqual({ ok: true });
    const admin = await client(server.tokens.sign({ sub: 'ops', role: 'admin' }));
    expect(await join(admin, request.id)).toEqual({ ok: true });
    const otherAdmin = await client(server.tokens.sign({ sub: 'ops-2', role: 'admin' }));
    const seller = await client(server.tokens.sign({ sub: 'seller-1' }));
    const stranger = await client(server.tokens.sign({ sub: 'stranger' }));
    const [onBuyer, onAdmin, onOtherAdmin, onSeller, onStranger] = [record(buyer), record(admin), record(otherAdmin), record(seller), record(stranger)];
    const firstToBuyer = nextEvent<{ paymentId: string }>(buyer, 'payment-created');

    const created = await createPayment(request.id, offer.id);
    expect(await firstToBuyer).toMatchObject({ paymentId: created.id, purchaseRequestId: request.id, status: 'pending' });
    // The event announced a committed write: the payment is readable at once.
    expect(await store.payments.findById(created.id)).not.toBeNull();
    await settle();
    for (const on of [onBuyer, onAdmin, onOtherAdmin, onSeller]) expect(on.named('payment-created').map((p) => p.paymentId)).toEqual([created.id]);

    // A status change goes to the request room and the parties (once each), not to a stranger.
    const res = await server.as('buyer-1').put(`/${created.id}`, { status: 'cancelled' });
    expect(res.status).toBe(200);
    await settle();
    for (const on of [onBuyer, onAdmin, onSeller]) expect(on.named('payment-updated').map((p) => p.status)).toEqual(['cancelled']);
    expect(onStranger.got).toEqual([]);
  });

  it("sends payout events to the admins and the payout's parties only, once each", async () => {
    const of = async (sub: string, roles?: string[]) => record(await client(server.tokens.sign({ sub, ...(roles ? { roles } : {}) })));
    const [onBuyer, onSeller, onStranger, onOtherSeller, onAdmin] = [
      await of('buyer-1'),
      await of('seller-1'),
      await of('stranger'),
      await of('seller-2'),
      await of('ops', ['admin']),
    ];

    // What the payout services emit: one call to the admins' room and both parties' rooms.
    server.ctx.events.emit([to.admins, ...to.parties({ buyerId: 'buyer-1', sellerId: 'seller-1' })], 'payout-created', {
      payoutId: 'p1',
      status: 'processing',
    });
    // A target listed twice, or a client in several listed rooms, still gets one copy.
    server.ctx.events.emit([to.admins, to.user('buyer-1'), to.seller('buyer-1'), to.user('buyer-1')], 'payout-updated', { payoutId: 'p1', status: 'failed' });
    await settle();

    expect(onAdmin.got.map((e) => [e.event, e.payload.payoutId])).toEqual([
      ['payout-created', 'p1'],
      ['payout-updated', 'p1'],
    ]);
    expect(onBuyer.got.map((e) => e.event)).toEqual(['payout-created', 'payout-updated']);
    expect(onSeller.got.map((e) => e.event)).toEqual(['payout-created']);
    expect(onStranger.got).toEqual([]);
    expect(onOtherSeller.got).toEqual([]);
  });

  it("puts only admins in the admins' room", async () => {
    const admin = await client(server.tokens.sign({ sub: 'ops', role: 'admin' }));
    const user = await client(server.tokens.sign({ sub: 'admins' }));
    const [onAdmin, onUser] = [record(admin), record(user)];
    server.ctx.events.emit(to.admins, 'payout-updated', { payoutId: 'p2', status: 'processing' });
    await settle();
    expect(onAdmin.named('payout-updated')).toEqual([{ payoutId: 'p2', status: 'processing' }]);
    // A user whose id happens to be "admins" is in user:admins and seller:admins, never in admins.
    expect(onUser.got).toEqual([]);
    expect(roomOf(to.admins)).toBe('admins');
    expect(roomOf(to.user('admins'))).toBe('user:admins');
  });
});
