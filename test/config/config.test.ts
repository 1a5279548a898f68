import { describe, expect, it } from 'vitest';
import { BSC_MAINNET_USDT, ConfigError, loadConfig } from '../../src/config/config.js';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
  return '';
};

describe('config', () => {
  it('runs on defaults outside production: auto store, dev JWT secret, BSC mainnet USDT', () => {
    const c = loadConfig({});
    expect(c.env).toBe('development');
    expect(c.store.choice).toBe('auto');
    expect(c.jwt.isDevDefault).toBe(true);
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
    const ok = loadConfig({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/x', JWT_SECRET: 'x'.repeat(32) });
    expect(ok.enableDevRoutes).toBe(false);
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
});
