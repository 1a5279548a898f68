import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/testApp.js';
import { payment } from '../helpers/fixtures.js';

describe('GET /metrics', () => {
  it('reports request durations by route template, transitions, webhook outcomes and monitors', async () => {
    const t = buildTestApp({ env: { SHKEEPER_WEBHOOK_SECRET: 'secret-0123456789' } });
    const p = payment();
    await t.store.payments.insertOne(p);
    expect((await t.http().get(`/api/payment/${p.id}`).set('Authorization', t.bearer('buyer-1'))).status).toBe(200);
    expect((await t.http().put(`/api/payment/${p.id}`).set('Authorization', t.bearer('buyer-1')).send({ status: 'cancelled' })).status).toBe(200);
    expect((await t.http().post('/api/payment/shkeeper/webhook').send('{}')).status).toBe(401);

    const res = await t.http().get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    // Route templates, never raw ids.
    expect(res.text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/api\/payment\/:id",status="200"\} 1/);
    expect(res.text).not.toContain(p.id);
    expect(res.text).toMatch(/payment_transitions_total\{from="pending",to="cancelled"\} 1/);
    expect(res.text).toMatch(/webhook_deliveries_total\{kind="invoice",outcome="bad_signature"\} 1/);
    expect(res.text).toMatch(/monitor_runs\{monitor="autoWebhook"\} 0/);
  });

  it('requires the metrics token when one is configured', async () => {
    const t = buildTestApp({ env: { METRICS_TOKEN: 'metrics-token-0123456789' } });
    expect((await t.http().get('/metrics')).status).toBe(401);
    expect((await t.http().get('/metrics').set('Authorization', 'Bearer wrong')).status).toBe(401);
    expect((await t.http().get('/metrics').set('Authorization', 'Bearer metrics-token-0123456789')).status).toBe(200);
  });
});
