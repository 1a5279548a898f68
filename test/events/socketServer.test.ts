import { io as connect, type Socket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenService } from '../../src/auth/tokens.js';
import { systemClock } from '../../src/common/clock.js';
import { createLogger } from '../../src/common/logger.js';
import { configFrom } from '../../src/config/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { seedMarketplace } from '../helpers/fixtures.js';
import { TEST_JWT_SECRET } from '../helpers/testApp.js';

const tokens = new TokenService(TEST_JWT_SECRET);
let server: RunningServer;
let store: MemoryStore;
const clients: Socket[] = [];

beforeEach(async () => {
  store = new MemoryStore(systemClock);
  server = await startServer(
    { config: configFrom({ JWT_SECRET: TEST_JWT_SECRET }), store, logger: createLogger('silent'), clock: systemClock },
    { port: 0, host: '127.0.0.1' },
  );
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.close(1_000);
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

async function createPayment(requestId: string, offerId: string) {
  const res = await fetch(`${server.url}/api/payment`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.sign({ sub: 'buyer-1' })}` },
    body: JSON.stringify({
      purchaseRequestId: requestId,
      sellerOfferId: offerId,
      buyerId: 'buyer-1',
      sellerId: 'seller-1',
      amount: { amount: '25.5', currency: 'USDT' },
    }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { data: { id: string } }).data;
}

describe('Socket.IO events', () => {
  it('refuses a handshake without a valid token', async () => {
    await expect(client()).rejects.toThrow('unauthorized');
    await expect(client(new TokenService('another-secret-0123456789abcdef').sign({ sub: 'x' }))).rejects.toThrow('unauthorized');
  });

  it('lets the buyer, a seller with an offer and an admin join a request room, and no one else', async () => {
    const { request } = await seedMarketplace(store);
    expect(await join(await client(tokens.sign({ sub: 'buyer-1' })), request.id)).toEqual({ ok: true });
    expect(await join(await client(tokens.sign({ sub: 'seller-2' })), request.id)).toEqual({ ok: true });
    expect(await join(await client(tokens.sign({ sub: 'admin', role: 'admin' })), request.id)).toEqual({ ok: true });
    expect(await join(await client(tokens.sign({ sub: 'stranger' })), request.id)).toEqual({ ok: false, error: 'forbidden' });
    expect(await join(await client(tokens.sign({ sub: 'buyer-1' })), 'not-an-id')).toEqual({ ok: false, error: 'forbidden' });
  });

  it('announces a created payment to the request room and globally, after it is stored', async () => {
    const { request, offer } = await seedMarketplace(store);
    const buyer = await client(tokens.sign({ sub: 'buyer-1' }));
    await join(buyer, request.id);
    const stranger = await client(tokens.sign({ sub: 'stranger' }));
    const strangerRequestEvents: unknown[] = [];
    const strangerGlobal = nextEvent(stranger, 'payment-created');

    // The buyer gets the event twice (global + room); collect both.
    const seen: { paymentId: string }[] = [];
    buyer.on('payment-created', (p: { paymentId: string }) => seen.push(p));
    stranger.on('payment-updated', (p: unknown) => strangerRequestEvents.push(p));

    const created = await createPayment(request.id, offer.id);
    const globalPayload = await strangerGlobal;
    expect(globalPayload).toMatchObject({ paymentId: created.id, purchaseRequestId: request.id, status: 'pending' });
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.map((p) => p.paymentId)).toEqual([created.id, created.id]);
    // The event announced a committed write: the payment is readable at once.
    expect(await store.payments.findById(created.id)).not.toBeNull();

    // A status change goes to the request room and the parties, not to a stranger.
    const update = nextEvent<{ status: string }>(buyer, 'payment-updated');
    const res = await fetch(`${server.url}/api/payment/${created.id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.sign({ sub: 'buyer-1' })}` },
      body: JSON.stringify({ status: 'cancelled' }),
    });
    expect(res.status).toBe(200);
    expect((await update).status).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 100));
    expect(strangerRequestEvents).toEqual([]);
  });
});
