import type { Wallet } from 'ethers';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { emptyLedger } from '../../src/core/payments/escrowLedger.js';
import type { PaymentRecord } from '../../src/core/store/records.js';
import { startLocalChain, type DeployedToken, type LocalChain } from '../helpers/chain/localChain.js';
import { payment as fixturePayment, snapshot } from '../helpers/fixtures.js';
import { paymentOf, BUYER, bogusHash, deployUsdt, newAddress, pay, startWeb3Harness, units, type Web3Harness } from '../helpers/web3Harness.js';

/**
 * The legacy maintenance endpoints: POST /payments/cleanup-pending (admin),
 * POST /payments/:id/fetch-tx (party or admin) and POST /payments/auto-fetch-missing (admin),
 * against real transfers on a local chain (LEGACY_FETCH_BLOCK_WINDOW=10 blocks).
 */

const WINDOW = 10;

let chain: LocalChain;
let usdt: DeployedToken;
let buyerWallet: Wallet;
let receiver: Wallet;
let h: Web3Harness;
const ADMIN = () => h.bearer('ops', { admin: true });

beforeAll(async () => {
  chain = await startLocalChain();
  ({ usdt, buyerWallet, receiver } = await deployUsdt(chain));
  h = await startWeb3Harness({
    chain,
    tokenAddress: usdt.address,
    env: { ESCROW_RECEIVER_ADDRESS: receiver.address, LEGACY_FETCH_BLOCK_WINDOW: String(WINDOW), LEGACY_CLEANUP_AFTER_MINUTES: '60' },
  });
});
afterAll(async () => {
  await h?.stop();
  await chain?.stop();
});

const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000);
const insert = (over: Partial<PaymentRecord>) => h.store.payments.insertOne(fixturePayment(over));
/** A payment completed (escrow funded) whose transaction hash was never recorded. */
const completedWithoutHash = (over: Partial<PaymentRecord> = {}) =>
  insert({ provider: 'decentralized', status: 'completed', escrowState: 'funded', transactionHash: null, ...over });
/**
 * The escrow ledger of a payment whose payer proved `wallet` at the current head (issue 10: a transfer to
 * the shared receiver is the payment's only when sent by a proven wallet, mined after the proof).
 */
const provenBy = async (wallet: string) => ({
  escrow: { ...emptyLedger(), payers: [{ wallet, provenAt: new Date(), provenAtBlock: await chain.provider.getBlockNumber(), method: 'eip712' as const }] },
});
/** Transfers from earlier cases fall out of the log window. */
const freshWindow = () => chain.mine(WINDOW + 1);

describe('POST /payments/cleanup-pending', () => {
  beforeEach(async () => {
    await h.store.payments.deleteMany({});
  });

  it('deletes only pending payments with no hash and no pay address older than the cut-off', async () => {
    const old = minutesAgo(120);
    const doomed = [await insert({ provider: 'decentralized', createdAt: old }), await insert({ provider: 'manual', createdAt: old })];
    const kept = [
      await insert({ createdAt: old, transactionHash: bogusHash() }),
      await insert({ provider: 'shkeeper', createdAt: old, payAddress: newAddress() }),
      await insert({ createdAt: old, status: 'processing' }),
      await insert({ createdAt: old, status: 'completed', escrowState: 'funded' }),
      await insert({ createdAt: old, status: 'cancelled' }),
      await insert({ createdAt: old, status: 'failed' }),
      await insert({ createdAt: minutesAgo(30) }),
    ];
    const r = await h.as({ authorization: ADMIN() }).post('/payments/cleanup-pending', {});
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ success: true, deletedCount: 2, message: expect.stringContaining('60 minutes') });
    for (const p of doomed) expect(await h.store.payments.findById(p.id)).toBeNull();
    for (const p of kept) expect(await h.store.payments.findById(p.id)).not.toBeNull();
  });

  it('olderThanMinutes moves the cut-off', async () => {
    const recent = await insert({ createdAt: minutesAgo(30) });
    const newer = await insert({ createdAt: minutesAgo(5) });
    const r = await h.as({ authorization: ADMIN() }).post('/payments/cleanup-pending', { olderThanMinutes: 10 });
    expect(r.body).toMatchObject({ success: true, deletedCount: 1 });
    expect(await h.store.payments.findById(recent.id)).toBeNull();
    expect(await h.store.payments.findById(newer.id)).not.toBeNull();
    const none = await h.as({ authorization: ADMIN() }).post('/payments/cleanup-pending');
    expect(none.body).toMatchObject({ success: true, deletedCount: 0 });
  });

  it('401 without a token, 403 for a non-admin, 400 for a bad body; nothing deleted', async () => {
    await insert({ createdAt: minutesAgo(600) });
    const before = await snapshot(h.store);
    expect((await h.anonymous.post('/payments/cleanup-pending', {})).status).toBe(401);
    const user = await h.as(BUYER).post('/payments/cleanup-pending', {});
    expect(user.status).toBe(403);
    for (const body of [{ olderThanMinutes: 0 }, { olderThanMinutes: '5' }, { olderThanMinutes: 1.5 }, { status: 'completed' }]) {
      expect((await h.as({ authorization: ADMIN() }).post('/payments/cleanup-pending', body)).status, JSON.stringify(body)).toBe(400);
    }
    expect(await snapshot(h.store)).toEqual(before);
  });
});

describe('POST /payments/:id/fetch-tx', () => {
  const fetchTx = (id: string, auth: string | null = h.bearer(BUYER)) => h.as({ authorization: auth ?? undefined }).post(`/payments/${id}/fetch-tx`);

  it('finds a Web3 payment’s transfer to the escrow receiver in the window and records it', async () => {
    await freshWindow();
    // Without a proven wallet no transfer to the shared receiver can be tied to the payment (issue 10).
    const unproven = await completedWithoutHash();
    const p = await completedWithoutHash(await provenBy(buyerWallet.address));
    const hash = await pay(chain, usdt.address, buyerWallet, receiver.address, units('25.5'), 3);
    const refused = await fetchTx(unproven.id);
    expect(refused.status, refused.text).toBe(409);
    expect(refused.body.error.code).toBe('wallet_not_proven');
    expect((await paymentOf(h, unproven.id)).transactionHash).toBeNull();
    const r = await fetchTx(p.id);
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ success: true, transactionHash: hash.toLowerCase(), network: 'bsc', source: 'chain', message: expect.any(String) });
    const after = await paymentOf(h, p.id);
    expect(after.transactionHash).toBe(hash.toLowerCase());
    expect(after.status).toBe('completed');
    expect(after.history).toEqual(p.history);
    expect(after.escrow?.credits).toMatchObject([{ kind: 'funding', txHash: hash.toLowerCase(), from: buyerWallet.address, amount: '25.5' }]);

    // Asked again: the recorded hash.
    const again = await fetchTx(p.id, h.bearer('seller-1'));
    expect(again.body).toMatchObject({ success: true, transactionHash: hash.toLowerCase(), source: 'recorded' });
  });

  it('skips a transfer already recorded on another payment and one too small; 404 when nothing is left', async () => {
    await freshWindow();
    const p = await completedWithoutHash(await provenBy(buyerWallet.address));
    const small = await pay(chain, usdt.address, buyerWallet, receiver.address, units('25'), 1);
    // Both deep enough (BSC_CONFIRMATIONS=3), so each is skipped for what it is, not for its depth.
    const taken = await pay(chain, usdt.address, buyerWallet, receiver.address, units('25.5'), 3);
    await insert({ provider: 'decentralized', status: 'completed', escrowState: 'funded', transactionHash: taken.toLowerCase() });
    const before = await snapshot(h.store);
    const r = await fetchTx(p.id, h.bearer('ops', { admin: true }));
    expect(r.status, r.text).toBe(404);
    expect(r.body.error.code).toBe('transaction_not_found');
    expect(await snapshot(h.store)).toEqual(before);
    expect(small).not.toBe(taken);
  });

  it('looks only inside the block window', async () => {
    await freshWindow();
    const p = await completedWithoutHash(await provenBy(buyerWallet.address));
    await pay(chain, usdt.address, buyerWallet, receiver.address, units('25.5'), 1);
    await chain.mine(WINDOW + 2);
    const r = await fetchTx(p.id);
    expect(r.status, r.text).toBe(404);
    expect(r.body.error.code).toBe('transaction_not_found');
  });

  it('a SHKeeper payment: the invoice’s transaction, checked on chain to the invoice address', async () => {
    const payAddress = newAddress();
    const externalId = `SHK_${Date.now()}`;
    h.fake.deferCallbacks();
    h.fake.queueAddress(payAddress);
    await h.shkeeper!.createPaymentRequest('BNB-USDT', { externalId, fiat: 'USD', amount: '25.5', callbackUrl: 'http://127.0.0.1:9/none' });
    // One txid SHKeeper reports that the chain does not know, then the real transfer.
    h.fake.pay({ externalId, txid: bogusHash(), amountCrypto: '1', confirmations: 1 });
    const hash = await pay(chain, usdt.address, buyerWallet, payAddress, units('25.5'), 3);
    h.fake.pay({ externalId, txid: hash, amountCrypto: '25.5', confirmations: 1 });
    const p = await completedWithoutHash({ provider: 'shkeeper', externalId, payAddress });
    const r = await fetchTx(p.id);
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ success: true, transactionHash: hash.toLowerCase(), network: 'bsc', source: 'chain' });
    expect((await paymentOf(h, p.id)).transactionHash).toBe(hash.toLowerCase());
  });

  it('409 for a payment not completed; 401 without a token; 404 for a stranger or an unknown id', async () => {
    const pending = await insert({ provider: 'decentralized' });
    const r = await fetchTx(pending.id);
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('payment_not_completed');
    const p = await completedWithoutHash();
    const before = await snapshot(h.store);
    expect((await fetchTx(p.id, null)).status).toBe(401);
    const stranger = await fetchTx(p.id, h.bearer('stranger'));
    expect(stranger.status).toBe(404);
    expect(stranger.body.error.code).toBe('payment_not_found');
    expect((await fetchTx('aaaaaaaaaaaaaaaaaaaaaaaa')).status).toBe(404);
    expect((await fetchTx('not-an-id')).status).toBe(404);
    expect(await snapshot(h.store)).toEqual(before);
  });
});

describe('POST /payments/auto-fetch-missing', () => {
  beforeEach(async () => {
    await h.store.payments.deleteMany({});
  });
  const autoFetch = (body: unknown, auth: string | null = ADMIN()) => h.as({ authorization: auth ?? undefined }).post('/payments/auto-fetch-missing', body);

  it('backfills completed payments without a hash, reporting each', async () => {
    await freshWindow();
    // Each has a proven wallet (issue 10); only the findable one's wallet paid.
    const findable = await completedWithoutHash({ amount: { amount: '40', currency: 'USDT' }, ...(await provenBy(buyerWallet.address)) });
    const notFound = await completedWithoutHash({ amount: { amount: '1000', currency: 'USDT' }, ...(await provenBy(newAddress())) });
    // Deep enough (BSC_CONFIRMATIONS=3): fetch-tx now proves a transfer like every other inflow (was: 1 confirmation).
    const hash = await pay(chain, usdt.address, buyerWallet, receiver.address, units('40'), 3);
    const hasHash = await insert({ provider: 'decentralized', status: 'completed', escrowState: 'funded', transactionHash: bogusHash() });
    const pendingOne = await insert({ provider: 'decentralized' });
    const r = await autoFetch({});
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ success: true, processed: 2, found: 1 });
    expect(r.body.results).toEqual(
      expect.arrayContaining([
        { paymentId: findable.id, transactionHash: hash.toLowerCase(), source: 'chain' },
        { paymentId: notFound.id, transactionHash: null, error: 'transaction_not_found' },
      ]),
    );
    expect((await paymentOf(h, findable.id)).transactionHash).toBe(hash.toLowerCase());
    expect((await paymentOf(h, notFound.id)).transactionHash).toBeNull();
    expect((await paymentOf(h, hasHash.id)).transactionHash).toBe(hasHash.transactionHash);
    expect((await paymentOf(h, pendingOne.id)).transactionHash).toBeNull();
  });

  it('processes at most `limit` (default 10)', async () => {
    for (let i = 0; i < 12; i++) await completedWithoutHash({ amount: { amount: '999999', currency: 'USDT' } });
    expect((await autoFetch({})).body).toMatchObject({ processed: 10, found: 0 });
    expect((await autoFetch({ limit: 3 })).body).toMatchObject({ processed: 3 });
    expect((await autoFetch({ limit: 50 })).body).toMatchObject({ processed: 12 });
  });

  it('401 without a token, 403 for a non-admin, 400 for a bad limit', async () => {
    await completedWithoutHash();
    expect((await autoFetch({}, null)).status).toBe(401);
    expect((await autoFetch({}, h.bearer(BUYER))).status).toBe(403);
    for (const body of [{ limit: 0 }, { limit: 51 }, { limit: '5' }, { limit: 2.5 }, { other: 1 }]) {
      expect((await autoFetch(body)).status, JSON.stringify(body)).toBe(400);
    }
  });
});
