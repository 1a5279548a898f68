import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/platform/errors.js';
import { createLogger } from '../../src/platform/logger.js';
import { cryptoIdFor, tokenOfCryptoId } from '../../src/adapters/shkeeper/cryptoIds.js';
import { createShkeeperClient, type ShkeeperClient, type ShkeeperClientOptions } from '../../src/adapters/shkeeper/shkeeperClient.js';
import { FakeShkeeper } from '../helpers/fakeShkeeper/fakeShkeeper.js';

let fake: FakeShkeeper;
let logLines: string[];

beforeEach(async () => {
  fake = await FakeShkeeper.start();
  logLines = [];
});
afterEach(() => fake.stop());

function client(over: Partial<ShkeeperClientOptions> = {}): ShkeeperClient {
  return createShkeeperClient({
    apiUrl: fake.url,
    apiKey: fake.apiKey,
    username: fake.username,
    password: fake.password,
    timeoutMs: 2_000,
    retries: 2,
    retryBaseDelayMs: 1,
    logger: createLogger('debug', { write: (line: string) => void logLines.push(line) }),
    ...over,
  });
}

/** The rejection of `p`, which must be a provider_error with `code`. */
async function providerError(p: Promise<unknown>, code: string): Promise<AppError & { details: Record<string, any> }> {
  const err = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect(err).toMatchObject({ kind: 'provider_error', code });
  return err as AppError & { details: Record<string, any> };
}

const invoiceReq = { externalId: 'order-1', fiat: 'usd', amount: '18.25', callbackUrl: 'http://127.0.0.1:1/cb' };
const payoutReq = { amount: '107', destination: '0xBD26', fee: '0' };

describe('cryptoIdFor', () => {
  it('maps our token and network to SHKeeper ids, case-insensitively', () => {
    expect(cryptoIdFor('USDT', 'bsc')).toBe('BNB-USDT');
    expect(cryptoIdFor('usdc', 'BSC')).toBe('BNB-USDC');
    expect(cryptoIdFor('bnb', 'bsc')).toBe('BNB');
    expect(cryptoIdFor('USDT', 'tron')).toBe('USDT');
    expect(cryptoIdFor('USDT', 'trc20')).toBe('USDT');
    expect(cryptoIdFor('USDT', 'ethereum')).toBe('ETH-USDT');
    expect(cryptoIdFor('USDT', 'eth')).toBe('ETH-USDT');
    expect(cryptoIdFor('USDT', 'polygon')).toBe('POLYGON-USDT');
    expect(cryptoIdFor('eth', 'arbitrum')).toBe('ARBETH');
    expect(tokenOfCryptoId('BNB-USDT')).toEqual({ token: 'USDT', network: 'bsc' });
    expect(tokenOfCryptoId('USDT')).toEqual({ token: 'USDT', network: 'tron' });
  });

  it('refuses pairs SHKeeper has no module for', () => {
    for (const [token, network] of [
      ['USDT', 'arbitrum'],
      ['DOGE', 'bsc'],
      ['USDT', 'mars'],
    ]) {
      expect(() => cryptoIdFor(token!, network!)).toThrow(expect.objectContaining({ kind: 'validation', code: 'unsupported_token' }));
    }
  });
});

describe('success paths', () => {
  it('lists cryptos without credentials', async () => {
    expect(await client().listCryptos()).toContainEqual({ name: 'BNB-USDT', displayName: 'BEP20 USDT' });
    expect(fake.requests[0]!.headers['x-shkeeper-api-key']).toBeUndefined();
    expect(fake.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('creates an invoice with the API key, upper-case names and string amounts', async () => {
    const inv = await client({ apiUrl: `${fake.url}/api/v1/` }).createPaymentRequest('bnb-usdt', invoiceReq);
    expect(inv).toEqual({ id: 1, amount: '18.615', exchangeRate: '1', wallet: fake.invoices[0]!.addr, displayName: 'BEP20 USDT', recalculateAfterHours: 0 });
    const sent = fake.requests[0]!;
    expect(sent.path).toBe('/api/v1/BNB-USDT/payment_request');
    expect(sent.headers['x-shkeeper-api-key']).toBe(fake.apiKey);
    expect(sent.headers.authorization).toBeUndefined();
    expect(JSON.parse(sent.body)).toEqual({ external_id: 'order-1', fiat: 'USD', amount: '18.25', callback_url: invoiceReq.callbackUrl });
  });

  it('reads invoices by external id', async () => {
    const c = client();
    await c.createPaymentRequest('BNB-USDT', invoiceReq);
    fake.pay({ externalId: 'order-1', amountCrypto: '10', txid: '0xa', callback: {} });
    expect(await c.getInvoices('order-1')).toEqual([
      {
        externalId: 'order-1',
        fiat: 'USD',
        amountFiat: '18.25',
        balanceFiat: '10',
        status: 'PARTIAL',
        txs: [{ addr: fake.invoices[0]!.addr, amount: '10', crypto: 'BNB-USDT', status: 'CONFIRMED', txid: '0xa' }],
      },
    ]);
    expect(await c.getInvoices('unknown')).toEqual([]);
  });

  it('pays out with Basic auth only, follows the task and reads the status by external id', async () => {
    const c = client();
    const { taskId, externalId } = await c.createPayout('BNB-USDT', { ...payoutReq, externalId: 'po-1' });
    expect(externalId).toBe('po-1');
    const sent = fake.requests.find((r) => r.endpoint === 'payout')!;
    expect(sent.headers.authorization).toBe(`Basic ${Buffer.from(`${fake.username}:${fake.password}`).toString('base64')}`);
    expect(sent.headers['x-shkeeper-api-key']).toBeUndefined();
    expect(JSON.parse(sent.body)).toEqual({ amount: '107', destination: '0xBD26', fee: '0', external_id: 'po-1' });

    expect(await c.getTask('BNB-USDT', taskId)).toEqual({ status: 'PENDING', result: null });
    expect(await c.payoutStatus('BNB-USDT', 'po-1')).toEqual({ status: 'IN_PROGRESS', txid: null });
    fake.completePayoutTask(taskId, { txids: ['0xpaid'] });
    expect(await c.getTask('BNB-USDT', taskId)).toMatchObject({ status: 'SUCCESS', result: [{ status: 'success', txids: ['0xpaid'] }] });
    expect(await c.payoutStatus('BNB-USDT', 'po-1')).toEqual({ status: 'SUCCESS', txid: '0xpaid' });
    expect(await c.payoutStatus('BNB-USDT', 'po-unknown')).toBeNull();
    const statusCall = fake.requests.find((r) => r.endpoint === 'payout_status')!;
    expect(statusCall.headers['x-shkeeper-api-key']).toBe(fake.apiKey);
    expect(statusCall.headers.authorization).toBeUndefined();
  });
});

describe('SHKeeper error answers become provider_error', () => {
  it('maps the auth answers to shkeeper_auth, keeping the text only in details', async () => {
    const badKey = await providerError(client({ apiKey: 'wrong' }).createPaymentRequest('BNB-USDT', invoiceReq), 'shkeeper_auth');
    expect(badKey.details.providerMessage).toBe('Bad API key');
    expect(badKey.message).not.toContain('API key');
    expect((await providerError(client({ apiKey: undefined }).getInvoices('x'), 'shkeeper_auth')).details.providerMessage).toBe('No API key');
    const badPassword = await providerError(client({ password: 'wrong' }).createPayout('BNB-USDT', payoutReq), 'shkeeper_auth');
    expect(badPassword.details.providerMessage).toBe('Bad HTTP Basic Auth credentials');
    const noLogin = await providerError(client({ username: undefined, password: undefined }).getTask('BNB-USDT', 't'), 'shkeeper_auth');
    expect(noLogin.details).toMatchObject({ httpStatus: 302, providerMessage: 'HTTP 302 redirect to /login' });
    expect(fake.calls('task')).toBe(1); // a redirect is not retried
    expect(fake.payouts).toHaveLength(0);
  });

  it('maps business errors to shkeeper_error without the traceback', async () => {
    const c = client();
    const unknown = await providerError(c.createPaymentRequest('DOGE', invoiceReq), 'shkeeper_error');
    expect(unknown.details.providerMessage).toBe('DOGE payment gateway is unavailable');
    const fiat = await providerError(c.createPaymentRequest('BNB-USDT', { ...invoiceReq, fiat: 'try' }), 'shkeeper_error');
    expect(fiat.details.providerMessage).toBe('Exchange rate src config for TRY-BNB-USDT is not found');
    expect(JSON.stringify(fiat.details)).not.toContain('Traceback');
    const noId = await providerError(c.payoutStatus('BNB-USDT', ''), 'shkeeper_error');
    expect(noId.details).toMatchObject({ httpStatus: 400, providerMessage: 'external_id is required' });
    const wrongBase = await providerError(client({ apiUrl: `${fake.url}/elsewhere` }).payoutStatus('BNB-USDT', 'po-1'), 'shkeeper_error');
    expect(wrongBase.details).toMatchObject({ httpStatus: 404 });
    const payoutError = await providerError(c.createPayout('DOGE', payoutReq), 'shkeeper_error');
    expect(payoutError.details).toMatchObject({ httpStatus: 500, providerMessage: 'Unknown crypto: DOGE' });
    expect(fake.calls('payout')).toBe(1);
  });

  it('reports a payout whose external id SHKeeper already has as shkeeper_duplicate_payout', async () => {
    const c = client();
    await c.createPayout('BNB-USDT', { ...payoutReq, externalId: 'po-1' });
    const dup = await providerError(c.createPayout('BNB-USDT', { ...payoutReq, externalId: 'po-1' }), 'shkeeper_duplicate_payout');
    expect(dup.details).toMatchObject({
      providerMessage: 'Payout with this external_id already exists: po-1',
      firstAttemptAccepted: false,
      existingPayout: { status: 'IN_PROGRESS', txid: null },
    });
    expect(fake.taskIds).toHaveLength(1);
  });
});

describe('retries', () => {
  it('retries safe calls on 5xx and network errors', async () => {
    const c = client();
    fake.fail('http500', { times: 2, endpoint: 'crypto' });
    expect(await c.listCryptos()).not.toHaveLength(0);
    expect(fake.calls('crypto')).toBe(3);
    fake.fail('reset', { times: 1, endpoint: 'invoices' });
    expect(await c.getInvoices('x')).toEqual([]);
    expect(fake.calls('invoices')).toBe(2);
    fake.fail('http500', { times: 1, endpoint: 'payment_request' });
    await c.createPaymentRequest('BNB-USDT', invoiceReq);
    expect(fake.calls('payment_request')).toBe(2);
    expect(fake.invoices).toHaveLength(1);
  });

  it('gives up after the configured retries', async () => {
    fake.fail('http500', { endpoint: 'crypto' });
    const err = await providerError(client().listCryptos(), 'shkeeper_error');
    expect(err.details).toMatchObject({ httpStatus: 500, providerMessage: 'HTTP 500' });
    expect(fake.calls('crypto')).toBe(3);
    fake.fail('http503', { endpoint: 'invoices' });
    const proxy = await providerError(client().getInvoices('x'), 'shkeeper_unreachable');
    expect(proxy.details).toMatchObject({ httpStatus: 503, providerMessage: 'HTTP 503' });
    expect(fake.calls('invoices')).toBe(3);
    await fake.refuseConnections();
    const down = await providerError(client().getInvoices('x'), 'shkeeper_unreachable');
    expect(down.details.attempts).toBe(3);
  });

  it('never retries a payout without an external id', async () => {
    const c = client();
    fake.fail('http500', { times: 1, endpoint: 'payout' });
    await providerError(c.createPayout('BNB-USDT', payoutReq), 'shkeeper_error');
    fake.fail('reset_after_processing', { times: 1, endpoint: 'payout' });
    await providerError(c.createPayout('BNB-USDT', payoutReq), 'shkeeper_unreachable');
    expect(fake.calls('payout')).toBe(2);
    expect(fake.taskIds).toHaveLength(1); // the second one went through: the caller must not blindly resend
  });

  it('never re-sends a payout that may have reached SHKeeper: a 500 or a reset is one call, one task at most', async () => {
    const c = client();
    fake.fail('http500', { times: 1, endpoint: 'payout' });
    await expect(c.createPayout('BNB-USDT', { ...payoutReq, externalId: 'po-1' })).rejects.toBeInstanceOf(AppError);
    expect(fake.calls('payout')).toBe(1);

    fake.fail('reset_after_processing', { times: 1, endpoint: 'payout' });
    await providerError(c.createPayout('BNB-USDT', { ...payoutReq, externalId: 'po-2' }), 'shkeeper_unreachable');
    expect(fake.calls('payout')).toBe(2);
    // SHKeeper did take po-2: it is found by its external id, not paid again.
    expect(fake.taskIds).toHaveLength(1);
    expect(await c.payoutStatus('BNB-USDT', 'po-2')).toMatchObject({ status: 'IN_PROGRESS' });
  });

  it('retries a payout only while the connection is refused, so no attempt can have paid', async () => {
    await fake.refuseConnections();
    await providerError(client().createPayout('BNB-USDT', { ...payoutReq, externalId: 'po-3' }), 'shkeeper_unreachable');
    await fake.heal();
    expect(fake.taskIds).toHaveLength(0);
    const { taskId } = await client().createPayout('BNB-USDT', { ...payoutReq, externalId: 'po-3' });
    expect(fake.taskIds).toEqual([taskId]);
  });

  it('times out a hanging call without retrying it', async () => {
    fake.fail('hang', { endpoint: 'crypto' });
    const started = Date.now();
    const err = await providerError(client({ timeoutMs: 200 }).listCryptos(), 'shkeeper_timeout');
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(err.details.providerMessage).toMatch(/timeout/);
    expect(fake.calls('crypto')).toBe(1);
  });
});

describe('logging', () => {
  it('logs provider messages but never the API key, password or Authorization header', async () => {
    const secret = { apiKey: 'k-SECRET-api-key', password: 'p-SECRET-password' };
    await providerError(client(secret).createPaymentRequest('BNB-USDT', invoiceReq), 'shkeeper_auth');
    await providerError(client(secret).createPayout('BNB-USDT', payoutReq), 'shkeeper_auth');
    fake.fail('http500', { times: 1 });
    await client(secret).listCryptos();
    const log = logLines.join('\n');
    expect(log).toContain('Bad API key');
    expect(log).toContain('Bad HTTP Basic Auth credentials');
    expect(log).toContain('retrying SHKeeper call');
    expect(log).not.toMatch(/SECRET/);
    expect(log).not.toContain(Buffer.from(`${fake.username}:${secret.password}`).toString('base64'));
    expect(log).not.toMatch(/authorization/i);
  });
});
