import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/platform/clock.js';
import { jsonDeeperThan, MAX_JSON_DEPTH } from '../../src/platform/http/http.js';
import { createLogger } from '../../src/platform/logger.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { seedMarketplace } from '../helpers/fixtures.js';
import { startTestWorld, TEST_JWT_SECRET } from '../helpers/testWorld.js';

/**
 * Request bodies an anonymous caller controls: nested too deep → 400 `json_too_deep`, too large →
 * 413 `payload_too_large`, both in the one error shape, nothing written, nothing logged as an error.
 */

async function appWithLog(env: Record<string, string> = {}) {
  const lines: { level: number; msg: string; err?: unknown }[] = [];
  const logger = createLogger('debug', { write: (line: string) => void lines.push(JSON.parse(line)) });
  const t = await startTestWorld({ env, logger, store: new MemoryStore(systemClock) });
  // pino: 50 = error, 60 = fatal.
  const errors = () => lines.filter((l) => l.level >= 50);
  return { http: t.http, store: t.store, lines, errors };
}

const nestedObject = (depth: number, leaf = '1') => '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
const nestedArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const saveBody = (metadata: string) => `{"purchaseRequestId":"0123456789abcdef01234567","buyerId":"u1","amount":"5","metadata":${metadata}}`;

describe('JSON nesting depth', () => {
  it.each([100, 5_000, 50_000])('an anonymous body nested %i levels deep → 400 json_too_deep, no error logged', async (depth) => {
    const t = await appWithLog({ JSON_BODY_LIMIT: '1mb' });
    const r = await t
      .http()
      .post('/api/payment/decentralized/save')
      .set('Content-Type', 'application/json')
      .send(saveBody(nestedObject(depth)));
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      success: false,
      error: { code: 'json_too_deep', message: `the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`, details: { maxDepth: MAX_JSON_DEPTH } },
    });
    expect(await t.store.payments.count({})).toBe(0);
    expect(t.errors()).toEqual([]);
    expect(JSON.stringify(t.lines)).not.toMatch(/RangeError|Maximum call stack/);
  });

  it('arrays count as levels too, on any route, before authentication is even asked', async () => {
    const t = await appWithLog({ JSON_BODY_LIMIT: '1mb' });
    for (const path of ['/api/payment', '/api/payment/shkeeper/payout', '/api/payment/decentralized/update', '/api/payment/nowhere']) {
      const r = await t.http().post(path).set('Content-Type', 'application/json').send(nestedArray(10_000));
      expect(r.status, path).toBe(400);
      expect(r.body.error.code, path).toBe('json_too_deep');
    }
    expect(t.errors()).toEqual([]);
  });

  it('exactly the limit is accepted by the parser (what the schema then says is its business)', async () => {
    const t = await appWithLog();
    // The whole body is level 1, so metadata's objects start at level 2.
    const atLimit = await t
      .http()
      .post('/api/payment/decentralized/save')
      .set('Content-Type', 'application/json')
      .send(saveBody(nestedObject(MAX_JSON_DEPTH - 1)));
    expect(atLimit.status).toBe(400);
    expect(atLimit.body.error.code).toBe('validation_error'); // metadata's own, stricter depth rule
    const over = await t
      .http()
      .post('/api/payment/decentralized/save')
      .set('Content-Type', 'application/json')
      .send(saveBody(nestedObject(MAX_JSON_DEPTH)));
    expect(over.body.error.code).toBe('json_too_deep');
  });

  it('jsonDeeperThan: scalars do not count, the top-level container is level 1, and it does not recurse', () => {
    expect(jsonDeeperThan(1, 0)).toBe(false);
    expect(jsonDeeperThan({}, 1)).toBe(false);
    expect(jsonDeeperThan({ a: {} }, 1)).toBe(true);
    expect(jsonDeeperThan([[1, 2], { b: 'x' }], 2)).toBe(false);
    expect(jsonDeeperThan([[1, [2]]], 2)).toBe(true);
    expect(jsonDeeperThan(JSON.parse(nestedArray(200_000)), 32)).toBe(true);
  });

  it('ordinary bodies still work: a real create goes through', async () => {
    const t = await appWithLog();
    const { request: pr, offer } = await seedMarketplace(t.store);
    const tokens = await import('../../src/platform/auth/tokens.js');
    const bearer = `Bearer ${new tokens.TokenService(TEST_JWT_SECRET).sign({ sub: 'buyer-1' }, 600)}`;
    const r = await t
      .http()
      .post('/api/payment')
      .set('Authorization', bearer)
      .send({
        purchaseRequestId: pr.id,
        sellerOfferId: offer.id,
        buyerId: 'buyer-1',
        sellerId: 'seller-1',
        amount: { amount: '25.5', currency: 'USDT' },
        metadata: { a: { b: { c: 1 } } },
      });
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  });
});

describe('JSON body size', () => {
  it('a body over JSON_BODY_LIMIT from an anonymous caller → 413 payload_too_large, no error logged', async () => {
    const t = await appWithLog({ JSON_BODY_LIMIT: '1kb' });
    const r = await t
      .http()
      .post('/api/payment/decentralized/save')
      .set('Content-Type', 'application/json')
      .send(saveBody(`{"note":"${'x'.repeat(4_000)}"}`));
    expect(r.status).toBe(413);
    expect(r.body).toEqual({ success: false, error: { code: 'payload_too_large', message: 'request body is too large' } });
    expect(await t.store.payments.count({})).toBe(0);
    expect(t.errors()).toEqual([]);
  });

  it('a webhook body over its own limit → 413 in the same shape', async () => {
    const t = await appWithLog({ SHKEEPER_WEBHOOK_SECRET: 'secret-0123456789' });
    const r = await t
      .http()
      .post('/api/payment/shkeeper/webhook')
      .set('Content-Type', 'application/json')
      .send('x'.repeat(300 * 1024));
    expect(r.status).toBe(413);
    expect(r.body).toEqual({ success: false, error: { code: 'payload_too_large', message: 'request body is too large' } });
    expect(t.errors()).toEqual([]);
    expect(await t.store.webhookDeliveries.count({})).toBe(0);
  });

  it('malformed JSON stays a 400 malformed_json', async () => {
    const t = await appWithLog();
    const r = await t.http().post('/api/payment/decentralized/save').set('Content-Type', 'application/json').send('{"a":');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('malformed_json');
    expect(t.errors()).toEqual([]);
  });
});
