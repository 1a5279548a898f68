import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler } from '../../src/platform/http/errorHandler.js';
import { systemClock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/logger.js';
import { idempotency } from '../../src/features/shared/idempotencyMiddleware.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import type { ListeningWorld } from '../helpers/testWorld.js';
import { ADMIN, outbound, payoutBody, seed, startPayoutHarness } from '../payouts/payoutKit.js';

/**
 * Idempotency keys are scoped by caller, method and route TEMPLATE. Routes match
 * case-insensitively (and with or without a trailing slash), so every spelling of one route shares
 * its keys: a forced payout sent twice under differently-cased URLs runs once.
 */

describe('a payout sent under two spellings of its URL', () => {
  let h: ListeningWorld;
  beforeAll(async () => {
    h = await startPayoutHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  const post = (path: string, body: unknown, key: string, as = h.bearer(ADMIN, { admin: true })) =>
    // Spellings of the URL outside the client's /api/payment base: sent at the root.
    h
      .http()
      .post(path)
      .set({ authorization: as, 'content-type': 'application/json', 'Idempotency-Key': key })
      .send(JSON.stringify(body))
      .then((r) => ({ status: r.status, body: r.body, replayed: r.headers['idempotent-replayed'] ?? null }));

  it('the same key replays on a differently-cased URL: SHKeeper is asked once, one payout exists', async () => {
    const m = await seed(h);
    const calls = h.fake.calls('payout');
    const key = `force-${m.offer.id}`;
    const first = await post('/api/payment/shkeeper/payout', payoutBody(m), key);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    for (const path of ['/API/payment/SHKEEPER/payout', '/api/Payment/ShKeeper/Payout/', '/API/PAYMENT/SHKEEPER/PAYOUT']) {
      const again = await post(path, payoutBody(m), key);
      expect(again.status, path).toBe(200);
      expect(again.replayed, path).toBe('true');
      expect(again.body).toEqual(first.body);
    }
    expect(h.fake.calls('payout')).toBe(calls + 1);
    expect(await outbound(h, m.offer.id)).toHaveLength(1);
  });

  it('sent at the same time under two spellings, it still runs once', async () => {
    const m = await seed(h);
    const calls = h.fake.calls('payout');
    const key = `race-${m.offer.id}`;
    const answers = await Promise.all([post('/api/payment/shkeeper/payout', payoutBody(m), key), post('/API/PAYMENT/SHKEEPER/PAYOUT', payoutBody(m), key)]);
    const statuses = answers.map((a) => a.status).sort();
    // One ran; the other is its replay or "still in progress" (409), never a second payout.
    expect(statuses[0]).toBe(200);
    expect([200, 409]).toContain(statuses[1]);
    expect(h.fake.calls('payout')).toBe(calls + 1);
    expect(await outbound(h, m.offer.id)).toHaveLength(1);
  });

  it('keys stay the caller’s own: another admin with the same key runs its own request', async () => {
    const m = await seed(h);
    const key = `mine-${m.offer.id}`;
    const a = await post('/api/payment/shkeeper/payout', payoutBody(m), key);
    const b = await post('/API/payment/shkeeper/payout', payoutBody(m), key, h.bearer('admin-2', { admin: true }));
    expect(a.status).toBe(200);
    expect(b.replayed).toBeNull();
    // Not a replay: the second admin's request ran, and found the payout already open.
    expect(b.body).not.toEqual(a.body);
  });
});

describe('the scope, on a small app', () => {
  function appWith() {
    const store = new MemoryStore(systemClock);
    const logger = createLogger('silent');
    let runs = 0;
    const app = express();
    app.use((req, _res, next) => {
      req.log = logger;
      req.principal = { userId: String(req.headers['x-user'] ?? 'u1'), role: 'user' } as never;
      next();
    });
    app.use(express.json());
    const router = express.Router();
    router.post('/things/:id/act', idempotency(store, systemClock), (req, res) => {
      runs += 1;
      res.json({ id: req.params.id, run: runs });
    });
    router.put('/things/:id/act', idempotency(store, systemClock), (req, res) => {
      runs += 1;
      res.json({ put: req.params.id, run: runs });
    });
    app.use('/Api/Mount', router);
    app.use(errorHandler);
    return { http: () => request(app), runs: () => runs, store };
  }

  it('one scope per method and template: spelling and trailing slash do not matter', async () => {
    const t = appWith();
    const a = await t.http().post('/api/mount/things/a1/act').set('Idempotency-Key', 'k').send({ x: 1 });
    const b = await t.http().post('/API/MOUNT/THINGS/a1/ACT/').set('Idempotency-Key', 'k').send({ x: 1 });
    expect(a.body).toEqual({ id: 'a1', run: 1 });
    expect(b.body).toEqual(a.body);
    expect(b.headers['idempotent-replayed']).toBe('true');
    // Another method is another scope.
    const put = await t.http().put('/api/mount/things/a1/act').set('Idempotency-Key', 'k').send({ x: 1 });
    expect(put.body).toEqual({ put: 'a1', run: 2 });
    expect(t.runs()).toBe(2);
    const scopes = (await t.store.idempotencyKeys.find({})).map((r) => r.scopeKey).sort();
    expect(scopes).toEqual(['POST /api/mount/things/:id/act u1 k', 'PUT /api/mount/things/:id/act u1 k']);
  });

  it('the same key for another resource on the same template is refused, never replayed', async () => {
    const t = appWith();
    expect((await t.http().post('/api/mount/things/a1/act').set('Idempotency-Key', 'k').send({})).status).toBe(200);
    const other = await t.http().post('/api/mount/things/b2/act').set('Idempotency-Key', 'k').send({});
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    expect(t.runs()).toBe(1);
  });

  it('another caller with the same key has a scope of its own', async () => {
    const t = appWith();
    await t.http().post('/api/mount/things/a1/act').set('Idempotency-Key', 'k').send({});
    const other = await t.http().post('/api/mount/things/a1/act').set('x-user', 'u2').set('Idempotency-Key', 'k').send({});
    expect(other.status).toBe(200);
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    expect(t.runs()).toBe(2);
  });
});
