import { describe, expect, it } from 'vitest';
import { newObjectId } from '../../src/platform/ids.js';
import { TokenService } from '../../src/platform/auth/tokens.js';
import { expectRefused } from '../helpers/controllerKit.js';
import { payment } from '../helpers/fixtures.js';
import { startTestWorld, TEST_JWT_SECRET, type TestWorld } from '../helpers/testWorld.js';
import { BUYER, MARKETPLACE, SELLER, ingestMarketplace, offerBody, requestBody, service, serviceBearer } from './ingestKit.js';

const ROUTES = [
  { name: 'PUT /purchase-requests/:id', path: (id: string) => `/purchase-requests/${id}`, body: () => requestBody() },
  { name: 'PUT /seller-offers/:id', path: (id: string) => `/seller-offers/${id}`, body: (requestId: string) => offerBody(requestId) },
];

describe('the service credential', () => {
  const tokens = new TokenService(TEST_JWT_SECRET);

  it.each([{ role: 'service' }, { roles: ['service'] }, { roles: ['service', 'admin'] }, { role: 'service', roles: ['admin'] }])(
    'a token with %j is a service principal and never an admin',
    (claims) => {
      expect(tokens.verify(tokens.sign({ sub: MARKETPLACE, ...claims }, 60))).toEqual({ userId: MARKETPLACE, isAdmin: false, isService: true });
    },
  );

  it('ordinary and admin tokens are not service principals', () => {
    expect(tokens.verify(tokens.sign({ sub: 'u1' }, 60))).toEqual({ userId: 'u1', isAdmin: false });
    expect(tokens.verify(tokens.sign({ sub: 'a1', role: 'admin' }, 60))).toEqual({ userId: 'a1', isAdmin: true });
  });
});

describe.each(ROUTES)('$name: only a service credential or an admin', (route) => {
  async function world(): Promise<{ t: TestWorld; requestId: string }> {
    const t = await startTestWorld();
    return { t, requestId: (await ingestMarketplace(t)).requestId };
  }

  it('a service credential may (201)', async () => {
    const { t, requestId } = await world();
    expect((await service(t).put(route.path(newObjectId()), route.body(requestId))).status).toBe(201);
  });

  it('an admin may (201)', async () => {
    const { t, requestId } = await world();
    expect((await t.admin.put(route.path(newObjectId()), route.body(requestId))).status).toBe(201);
  });

  it.each([BUYER, SELLER])('the user %s may not (403 admin_required, nothing written)', async (user) => {
    const { t, requestId } = await world();
    const res = await expectRefused(t, () => t.as(user).put(route.path(newObjectId()), route.body(requestId)), 403, 'admin_required');
    expect(res.body.error.message).toMatch(/service/);
  });

  it('no token: 401 missing_token, even with a malformed id', async () => {
    const { t, requestId } = await world();
    await expectRefused(t, () => t.anonymous.put(route.path(newObjectId()), route.body(requestId)), 401, 'missing_token');
    await expectRefused(t, () => t.anonymous.put(route.path('nope'), route.body(requestId)), 401, 'missing_token');
  });
});

describe('a service credential elsewhere is an ordinary user at most', () => {
  it.each([undefined, ['service', 'admin']])('is refused on admin routes (403 admin_required), roles %j', async (roles) => {
    const t = await startTestWorld();
    const p = payment();
    await t.store.payments.insertOne(p);
    const as = t.as({ authorization: serviceBearer(t, roles) });
    await expectRefused(t, () => as.get('/shkeeper/webhook-stats'), 403, 'admin_required');
    await expectRefused(t, () => as.get(`/${p.id}/debug`), 403, 'admin_required');
    await expectRefused(t, () => as.post(`/shkeeper/${p.id}/release`), 403, 'admin_required');
    await expectRefused(t, () => as.post('/payments/cleanup-pending', {}), 403, 'admin_required');
  });

  it("cannot read another user's payment (404) or list (403)", async () => {
    const t = await startTestWorld();
    const p = payment({ buyerId: BUYER });
    await t.store.payments.insertOne(p);
    const res = await service(t).get(`/${p.id}`);
    expect(res.status).toBe(404);
    expect((await service(t).get(`/user/${BUYER}`)).status).toBe(403);
  });
});
