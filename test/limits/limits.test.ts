import { describe, expect, it } from 'vitest';
import { startTestWorld } from '../helpers/testWorld.js';
import { seedMarketplace } from '../helpers/fixtures.js';

describe('rate limits', () => {
  it('answers 429 in the error shape with Retry-After once an IP is over its limit', async () => {
    const t = await startTestWorld({ env: { RATE_LIMIT_PER_IP: '3' } });
    for (let i = 0; i < 3; i++) expect((await t.http().get('/api/payment/shkeeper/config')).status).toBe(200);
    const limited = await t.http().get('/api/payment/shkeeper/config');
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ success: false, error: { code: 'rate_limited' } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Health probes are never limited: a load balancer must always learn the truth.
    for (let i = 0; i < 5; i++) expect((await t.http().get('/api/payment/health')).status).toBe(200);
  });

  it('limits each signed-in user’s mutating requests on their own, so one user cannot use up another’s allowance', async () => {
    const t = await startTestWorld({ env: { RATE_LIMIT_PER_USER: '2' } });
    // An empty body is refused (400) but still counts: validation runs after the limit.
    const post = (user: string) => t.http().post('/api/payment').set('Authorization', t.bearer(user)).send({});
    for (let i = 0; i < 2; i++) expect((await post('u1')).status).toBe(400);
    expect((await post('u1')).status).toBe(429);
    expect((await post('u2')).status).toBe(400);
  });

  it('does not limit a signed-in user’s reads, but counts reads with an invalid token against the IP', async () => {
    const t = await startTestWorld({ env: { RATE_LIMIT_PER_IP: '2', RATE_LIMIT_PER_USER: '2' } });
    for (let i = 0; i < 5; i++) expect((await t.http().get('/api/payment').set('Authorization', t.bearer('u1'))).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await t.http().get('/api/payment').set('Authorization', 'Bearer forged')).status).toBe(401);
    expect((await t.http().get('/api/payment').set('Authorization', 'Bearer forged')).status).toBe(429);
  });

  it('gives SHKeeper webhooks a limit of their own: a busy API never starves them', async () => {
    const t = await startTestWorld({ env: { RATE_LIMIT_PER_IP: '1', SHKEEPER_WEBHOOK_SECRET: 'secret-0123456789' } });
    expect((await t.http().get('/api/payment/shkeeper/config')).status).toBe(200);
    expect((await t.http().get('/api/payment/shkeeper/config')).status).toBe(429);
    // Unsigned, so refused — but by the signature check (401), not by the API's rate limit.
    for (let i = 0; i < 3; i++) expect((await t.http().post('/api/payment/shkeeper/webhook').send('{}')).status).toBe(401);
  });

  it('refuses a body over the JSON limit with 413 and changes nothing', async () => {
    const t = await startTestWorld({ env: { JSON_BODY_LIMIT: '1kb' } });
    const { request, offer } = await seedMarketplace(t.store);
    const res = await t
      .http()
      .post('/api/payment')
      .set('Authorization', t.bearer('buyer-1'))
      .send({
        purchaseRequestId: request.id,
        sellerOfferId: offer.id,
        buyerId: 'buyer-1',
        sellerId: 'seller-1',
        amount: { amount: '25.5', currency: 'USDT' },
        metadata: { note: 'x'.repeat(2_000) },
      });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    expect(await t.store.payments.count({})).toBe(0);
  });
});

describe('CORS and security headers', () => {
  it('allows only the configured origins, and keeps the SHKeeper widget config open to any', async () => {
    const t = await startTestWorld({ env: { CORS_ORIGINS: 'https://shop.example' } });
    const allowed = await t.http().get('/api/payment/health').set('Origin', 'https://shop.example');
    expect(allowed.headers['access-control-allow-origin']).toBe('https://shop.example');
    const other = await t.http().get('/api/payment/health').set('Origin', 'https://evil.example');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const widget = await t.http().get('/api/payment/shkeeper/config').set('Origin', 'https://evil.example');
    expect(widget.headers['access-control-allow-origin']).toBe('*');
  });

  it('sends helmet’s headers on API answers', async () => {
    const t = await startTestWorld();
    const res = await t.http().get('/api/payment/health');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});
