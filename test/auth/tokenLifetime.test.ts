import jwt from 'jsonwebtoken';
import { io as connect } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/platform/clock.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { startTestWorld, TEST_JWT_SECRET, type ListeningWorld } from '../helpers/testWorld.js';

/** Every token must expire, within JWT_MAX_LIFETIME_SECONDS: over HTTP and on the socket handshake. */
const now = () => Math.floor(Date.now() / 1000);
const signed = (claims: Record<string, unknown>, opts: jwt.SignOptions = {}) =>
  jwt.sign({ sub: 'buyer-1', ...claims }, TEST_JWT_SECRET, { algorithm: 'HS256', ...opts });

describe('token lifetime over HTTP', () => {
  it('answers 401 token_without_expiry for a token without exp', async () => {
    const t = await startTestWorld();
    const res = await t
      .http()
      .get('/api/payment')
      .set('Authorization', `Bearer ${signed({})}`);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('token_without_expiry');
  });

  it('answers 401 token_lifetime_too_long past the default maximum (86400 s), and 200 within it', async () => {
    const t = await startTestWorld();
    const long = signed({ iat: now(), exp: now() + 86_401 });
    const res = await t.http().get('/api/payment').set('Authorization', `Bearer ${long}`);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('token_lifetime_too_long');
    const ok = signed({ iat: now(), exp: now() + 86_400 });
    expect((await t.http().get('/api/payment').set('Authorization', `Bearer ${ok}`)).status).toBe(200);
  });

  it('follows JWT_MAX_LIFETIME_SECONDS', async () => {
    const t = await startTestWorld({ env: { JWT_MAX_LIFETIME_SECONDS: '600' } });
    const res = await t
      .http()
      .get('/api/payment')
      .set('Authorization', `Bearer ${signed({}, { expiresIn: 601 })}`);
    expect(res.body.error?.code).toBe('token_lifetime_too_long');
    expect(
      (
        await t
          .http()
          .get('/api/payment')
          .set('Authorization', `Bearer ${signed({}, { expiresIn: 600 })}`)
      ).status,
    ).toBe(200);
  });
});

describe('token lifetime on the Socket.IO handshake', () => {
  let server: ListeningWorld | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  const handshake = (token: string) =>
    new Promise<string>((resolve) => {
      const c = connect(server!.url, { auth: { token }, transports: ['websocket'], reconnection: false });
      c.once('connect', () => (c.close(), resolve('connected')));
      c.once('connect_error', (err) => (c.close(), resolve(err.message)));
    });

  it('refuses tokens without exp or with too long a lifetime, and accepts a bounded one', async () => {
    server = await startTestWorld({ listen: true, store: new MemoryStore(systemClock), env: { ESCROW_RECEIVER_ADDRESS: undefined } });
    expect(await handshake(signed({}))).toBe('unauthorized');
    expect(await handshake(signed({ iat: now(), exp: now() + 90_000 }))).toBe('unauthorized');
    expect(await handshake(signed({}, { expiresIn: 600 }))).toBe('connected');
  });
});
