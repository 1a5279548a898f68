import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/platform/clock.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { startTestWorld } from '../helpers/testWorld.js';

class FailingStore extends MemoryStore {
  override async ping(): Promise<void> {
    throw new Error('connection refused');
  }
}

class HangingStore extends MemoryStore {
  override ping(): Promise<void> {
    return new Promise(() => undefined);
  }
}

const ENDPOINTS = {
  shkeeper: '/api/payment/shkeeper',
  decentralized: '/api/payment/decentralized',
  health: '/api/payment/health',
};

describe('GET /api/payment/health', () => {
  it('answers 200 without authentication, naming the store kind', async () => {
    const t = await startTestWorld();
    const res = await t.http().get('/api/payment/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      success: true,
      message: expect.any(String),
      endpoints: ENDPOINTS,
      store: { kind: t.store.kind, description: t.store.description, ok: true, latencyMs: expect.any(Number) },
      monitors: {},
    });
    expect(res.body).not.toHaveProperty('error');
  });

  it('answers 503 with an error when the store ping fails', async () => {
    const t = await startTestWorld({ store: new FailingStore(systemClock, 'failing test store') });
    const res = await t.http().get('/api/payment/health');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      success: false,
      endpoints: ENDPOINTS,
      store: { kind: 'memory', description: 'failing test store', ok: false },
      error: { code: 'store_unavailable', message: expect.any(String) },
    });
    expect(JSON.stringify(res.body)).not.toContain('connection refused');
  });

  it('answers 503 when the store does not answer in time', async () => {
    const t = await startTestWorld({ store: new HangingStore(systemClock) });
    const res = await t.http().get('/api/payment/health');
    expect(res.status).toBe(503);
    expect(res.body.store.ok).toBe(false);
    expect(res.body.store.latencyMs).toBeGreaterThanOrEqual(1900);
  });

  it('is not shadowed by the payment id route and ignores a bad token', async () => {
    const t = await startTestWorld();
    const res = await t.http().get('/api/payment/health').set('Authorization', 'Bearer garbage');
    expect(res.status).toBe(200);
  });
});
