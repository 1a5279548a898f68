import { describe, expect, it } from 'vitest';
import { BSC_MAINNET_USDT, ConfigError, loadConfig } from '../../src/platform/config.js';
import { IDEMPOTENCY_TTL_MS } from '../../src/features/shared/idempotencyMiddleware.js';
import { DELIVERY_RETENTION_MS } from '../../src/core/webhooks/deliveryLog.js';

const problemsOf = (env: Record<string, string | undefined>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
  return '';
};

describe('config', () => {
  it('runs on defaults outside production: auto store, a random JWT secret, loopback, BSC mainnet USDT', () => {
    const c = loadConfig({});
    expect(c.env).toBe('development');
    expect(c.store.choice).toBe('auto');
    expect(c.host).toBe('127.0.0.1');
    expect(c.jwt).toMatchObject({ source: 'ephemeral', maxLifetimeSeconds: 86_400 });
    expect(c.jwt.secret.length).toBeGreaterThanOrEqual(32);
    // Random per process without a DATA_DIR keeper: nothing secret is written in the source.
    expect(loadConfig({}).jwt.secret).not.toBe(c.jwt.secret);
    expect(c.bsc).toMatchObject({ chainId: 56, usdtAddress: BSC_MAINNET_USDT, usdtDecimals: 18 });
    expect(c.enableDevRoutes).toBe(true);
    expect(c.publicBaseUrl).toBe('http://localhost:3000');
    expect(Object.isFrozen(c) && Object.isFrozen(c.bsc)).toBe(true);
  });

  it('chooses MongoDB when MONGODB_URI is set, and PAYMENT_STORE overrides', () => {
    expect(loadConfig({ MONGODB_URI: 'mongodb://db:27017/x' }).store.choice).toBe('mongodb');
    expect(loadConfig({ MONGODB_URI: 'mongodb://db:27017/x', PAYMENT_STORE: 'memory' }).store.choice).toBe('memory');
  });

  it('signs SHKeeper webhooks with the API key unless a webhook secret is given', () => {
    expect(loadConfig({ SHKEEPER_API_KEY: 'k1' }).shkeeper.webhookSecret).toBe('k1');
    expect(loadConfig({ SHKEEPER_API_KEY: 'k1', SHKEEPER_WEBHOOK_SECRET: 's1' }).shkeeper.webhookSecret).toBe('s1');
  });

  it('refuses production without MONGODB_URI, with the memory store, or with a weak JWT secret', () => {
    const p = problemsOf({ NODE_ENV: 'production', PAYMENT_STORE: 'memory', JWT_SECRET: 'short-but-16-chars' });
    expect(p).toContain('MONGODB_URI');
    expect(p).toContain('PAYMENT_STORE');
    expect(p).toContain('JWT_SECRET');
    const ok = loadConfig({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/x', JWT_SECRET: 'x'.repeat(32), METRICS_TOKEN: 'm'.repeat(16) });
    expect(ok.enableDevRoutes).toBe(false);
    expect(ok.jwt.source).toBe('env');
  });

  const PROD = { NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/x', JWT_SECRET: 'x'.repeat(32), METRICS_TOKEN: 'm'.repeat(16) };

  it('refuses production without JWT_SECRET, never generating one there', () => {
    let kept = 0;
    const keeper = () => ((kept += 1), { secret: 'k'.repeat(40), file: '/tmp/x' });
    expect(() => loadConfig({ ...PROD, JWT_SECRET: undefined }, { devJwtSecret: keeper })).toThrow(/JWT_SECRET: required in production/);
    expect(kept).toBe(0);
  });

  it.each(['true', '1', 'yes'])('refuses ENABLE_DEV_ROUTES=%s in production, naming the setting', (v) => {
    expect(problemsOf({ ...PROD, ENABLE_DEV_ROUTES: v })).toMatch(/^ENABLE_DEV_ROUTES: dev routes are never mounted in production/m);
  });

  it('accepts ENABLE_DEV_ROUTES=false in production, and keeps dev routes on by default elsewhere', () => {
    expect(loadConfig({ ...PROD, ENABLE_DEV_ROUTES: 'false' }).enableDevRoutes).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test', ENABLE_DEV_ROUTES: 'true' }).enableDevRoutes).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test', ENABLE_DEV_ROUTES: 'false' }).enableDevRoutes).toBe(false);
  });

  it('requires METRICS_TOKEN (16+ characters) in production only', () => {
    expect(problemsOf({ ...PROD, METRICS_TOKEN: undefined })).toMatch(/^METRICS_TOKEN: required in production/m);
    expect(problemsOf({ ...PROD, METRICS_TOKEN: 'short' })).toContain('METRICS_TOKEN');
    expect(loadConfig({}).metricsToken).toBeUndefined();
  });

  it('reads JWT_MAX_LIFETIME_SECONDS (default 86400) and names it when out of range', () => {
    expect(loadConfig({ JWT_MAX_LIFETIME_SECONDS: '3600' }).jwt.maxLifetimeSeconds).toBe(3600);
    expect(problemsOf({ JWT_MAX_LIFETIME_SECONDS: '10' })).toContain('JWT_MAX_LIFETIME_SECONDS');
    expect(problemsOf({ JWT_MAX_LIFETIME_SECONDS: 'a day' })).toContain('JWT_MAX_LIFETIME_SECONDS');
  });

  it('outside production, takes a missing JWT_SECRET from the DATA_DIR keeper it is given', () => {
    const seen: string[] = [];
    const c = loadConfig({ DATA_DIR: '/srv/d' }, { devJwtSecret: (dir) => (seen.push(dir), { secret: 's'.repeat(40), file: `${dir}/jwt-secret` }) });
    expect(seen).toEqual(['/srv/d']);
    expect(c.jwt).toMatchObject({ secret: 's'.repeat(40), source: 'data-dir', file: '/srv/d/jwt-secret' });
    // A set JWT_SECRET wins; the keeper is not asked.
    expect(
      loadConfig(
        { JWT_SECRET: 'e'.repeat(32) },
        {
          devJwtSecret: () => {
            throw new Error('asked');
          },
        },
      ).jwt.source,
    ).toBe('env');
    // A keeper that fails is a configuration error naming JWT_SECRET and DATA_DIR.
    expect(() =>
      loadConfig(
        {},
        {
          devJwtSecret: () => {
            throw new Error('EACCES');
          },
        },
      ),
    ).toThrow(/JWT_SECRET: not set.*DATA_DIR.*EACCES/);
  });

  it('reads the retention settings and the MongoDB query timeout, with their defaults', () => {
    const d = loadConfig({});
    // 24 h is what the idempotency middleware replayed for before the setting existed.
    expect(d.retention).toEqual({ webhookDeliveryDays: 30, idempotencyHours: 24 });
    expect(d.retention.idempotencyHours * 3_600_000).toBe(IDEMPOTENCY_TTL_MS);
    expect(d.retention.webhookDeliveryDays * 86_400_000).toBe(DELIVERY_RETENTION_MS);
    expect(d.store.queryTimeoutMs).toBe(5_000);
    const c = loadConfig({ WEBHOOK_DELIVERY_RETENTION_DAYS: '7', IDEMPOTENCY_RETENTION_HOURS: '48', MONGODB_QUERY_TIMEOUT_MS: '100' });
    expect(c.retention).toEqual({ webhookDeliveryDays: 7, idempotencyHours: 48 });
    expect(c.store.queryTimeoutMs).toBe(100);
    expect(loadConfig({ MONGODB_QUERY_TIMEOUT_MS: '600000' }).store.queryTimeoutMs).toBe(600_000);
    expect(Object.isFrozen(c.retention)).toBe(true);
    expect(d.monitorLeaseMs).toBe(10_000);
    expect(loadConfig({ MONITOR_LEASE_MS: '3000' }).monitorLeaseMs).toBe(3_000);
  });

  it.each([
    ['WEBHOOK_DELIVERY_RETENTION_DAYS', '0', '>=1'],
    ['WEBHOOK_DELIVERY_RETENTION_DAYS', '1.5', 'must be a whole number'],
    ['WEBHOOK_DELIVERY_RETENTION_DAYS', 'a month', 'must be a whole number'],
    ['IDEMPOTENCY_RETENTION_HOURS', '0', '>=1'],
    ['IDEMPOTENCY_RETENTION_HOURS', '-24', '>=1'],
    ['IDEMPOTENCY_RETENTION_HOURS', '24h', 'must be a whole number'],
    ['MONGODB_QUERY_TIMEOUT_MS', '99', '>=100'],
    ['MONGODB_QUERY_TIMEOUT_MS', '600001', '<=600000'],
    ['MONGODB_QUERY_TIMEOUT_MS', '5s', 'must be a whole number'],
    ['MONITOR_LEASE_MS', '299', '>=300'],
    ['MONITOR_LEASE_MS', '10s', 'must be a whole number'],
  ])('refuses %s=%s, naming it (%s)', (key, value, why) => {
    expect(() => loadConfig({ [key]: value })).toThrow(ConfigError);
    const p = problemsOf({ [key]: value });
    expect(p).toMatch(new RegExp(`^${key}: `, 'm'));
    expect(p).toContain(why);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['BSC_CHAIN_ID', '1e3'],
    ['BSC_CONFIRMATIONS', '-1'],
    ['ESCROW_RECEIVER_ADDRESS', '0x123'],
    ['ADMIN_WALLET_PRIVATE_KEY', 'not-a-key'],
    ['MONGODB_URI', 'http://db'],
    ['PUBLIC_BASE_URL', 'ftp://x'],
    ['PAYMENT_STORE', 'postgres'],
    ['ENABLE_DEV_ROUTES', 'maybe'],
    ['REDIS_URL', 'localhost:6379'],
  ])('names %s when it is malformed (%s)', (key, value) => {
    expect(problemsOf({ [key]: value })).toContain(key);
  });

  it('checksums the escrow address and trims trailing slashes from URLs', () => {
    const c = loadConfig({
      ESCROW_RECEIVER_ADDRESS: '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266',
      PUBLIC_BASE_URL: 'https://pay.example.com/',
      SHKEEPER_API_URL: 'https://shk.example.com//',
    });
    expect(c.escrow.receiverAddress).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
    expect(c.publicBaseUrl).toBe('https://pay.example.com');
    expect(c.shkeeper.apiUrl).toBe('https://shk.example.com');
  });

  it('outbound webhooks: defaults, and a retention that would drop deliveries still being retried is refused', () => {
    expect(loadConfig({}).outboundWebhooks).toEqual({
      concurrency: 8,
      pollMs: 1_000,
      timeoutMs: 10_000,
      retryBaseMs: 30_000,
      retryMaxMs: 3_600_000,
      retryForMs: 72 * 3_600_000,
      allowPrivateUrls: false,
      eventRetentionMs: 30 * 86_400_000,
    });
    expect(problemsOf({ EVENT_RETENTION_DAYS: '3' })).toMatch(/^EVENT_RETENTION_DAYS: must be longer than OUTBOUND_WEBHOOK_RETRY_HOURS \(72 h\)/m);
    expect(problemsOf({ EVENT_RETENTION_DAYS: '1', OUTBOUND_WEBHOOK_RETRY_HOURS: '12' })).toBe('');
    expect(loadConfig({ WEBHOOK_ENDPOINTS_ALLOW_PRIVATE: 'true' }).outboundWebhooks.allowPrivateUrls).toBe(true);
  });
});
