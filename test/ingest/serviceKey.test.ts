import { describe, expect, it } from 'vitest';
import { newServiceKey, parseServiceKeys } from '../../src/platform/auth/serviceKeys.js';
import { newObjectId } from '../../src/platform/ids.js';
import { startTestWorld, type TestWorld } from '../helpers/testWorld.js';
import { paymentOfRequest, requestBody } from './ingestKit.js';

/**
 * The marketplace's service key (`X-Service-Key`): the backend holds the key, the service only
 * its SHA-256 (SERVICE_API_KEYS). It opens the two ingest routes and nothing else; it is never an
 * admin; a wrong key is 401 whatever else the request carries.
 */

const marketplace = newServiceKey('marketplace');

async function world(keys = marketplace.entry) {
  return startTestWorld({ env: { SERVICE_API_KEYS: keys } });
}

const withKey = (t: TestWorld, key: string) => ({
  put: (path: string, body: unknown) =>
    t
      .http()
      .put(`/api/payment${path}`)
      .set('X-Service-Key', key)
      .send(body as object),
  get: (path: string) => t.http().get(`/api/payment${path}`).set('X-Service-Key', key),
});

describe('a service key', () => {
  it('upserts a purchase request, and the actor of what it changes is service:<name>', async () => {
    const t = await world();
    const id = newObjectId();
    const created = await withKey(t, marketplace.key).put(`/purchase-requests/${id}`, requestBody());
    expect(created.status, created.text).toBe(201);
    expect((await withKey(t, marketplace.key).put(`/purchase-requests/${id}`, requestBody())).status).toBe(200);
    const p = await paymentOfRequest(t, id, newObjectId());
    // Written as the coordinator would, so cancelling has something to cancel.
    await t.store.payments.updateOne({ id: p.id }, { $set: { provider: 'manual' } });
    const cancelled = await withKey(t, marketplace.key).put(`/purchase-requests/${id}`, requestBody({ status: 'cancelled' }));
    expect(cancelled.status, cancelled.text).toBe(200);
    const after = (await t.store.payments.findById(p.id))!;
    expect(after.status).toBe('cancelled');
    expect(after.history.at(-1)).toMatchObject({ toStatus: 'cancelled', actor: 'service:marketplace' });
  });

  it('a key that is not configured is 401 invalid_service_key, and nothing is written', async () => {
    const t = await world();
    for (const key of ['svc_wrong', '', marketplace.key.slice(0, -1), `${marketplace.key}x`]) {
      const id = newObjectId();
      const r = await withKey(t, key).put(`/purchase-requests/${id}`, requestBody());
      expect(r.status, JSON.stringify(key)).toBe(401);
      expect(r.body.error.code).toBe('invalid_service_key');
      expect(await t.store.purchaseRequests.findById(id)).toBeNull();
    }
  });

  it('opens nothing else: on admin and user routes the key is no credential at all', async () => {
    const t = await world();
    for (const path of ['/shkeeper/webhook-stats', '/events', '/webhook-endpoints', '/stats']) {
      expect((await withKey(t, marketplace.key).get(path)).status, path).toBe(401);
    }
  });

  it('with no SERVICE_API_KEYS, every key is refused', async () => {
    const t = await world('');
    expect((await withKey(t, marketplace.key).put(`/purchase-requests/${newObjectId()}`, requestBody())).status).toBe(401);
  });
});

describe('SERVICE_API_KEYS', () => {
  it('takes comma-separated name:sha256 entries and refuses anything else without echoing it', () => {
    const other = newServiceKey('ops.backend-2');
    expect(parseServiceKeys(`${marketplace.entry}, ${other.entry}`)).toEqual({
      keys: [
        { name: 'marketplace', sha256: marketplace.entry.split(':')[1] },
        { name: 'ops.backend-2', sha256: other.entry.split(':')[1] },
      ],
    });
    expect(parseServiceKeys(undefined)).toEqual({ keys: [] });
    for (const bad of [marketplace.key, 'x:abc', `bad name:${'a'.repeat(64)}`, `n:${'A'.repeat(64)}`]) {
      const r = parseServiceKeys(bad);
      expect('problem' in r && !r.problem.includes(bad)).toBe(true);
    }
  });

  it('a key entry shows its hash, never the key', () => {
    expect(marketplace.key).toMatch(/^svc_[A-Za-z0-9_-]{43}$/);
    expect(marketplace.entry).not.toContain(marketplace.key);
  });
});
