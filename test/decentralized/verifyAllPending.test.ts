import type { Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VERIFY_CONCURRENCY } from '../../src/features/decentralized/web3PaymentService.js';
import { startLocalChain, type DeployedToken, type LocalChain } from '../helpers/chain/localChain.js';
import { payment as fixturePayment, snapshot } from '../helpers/fixtures.js';
import { startRpcProxy, type RpcProxy } from '../helpers/rpcProxy.js';
import {
  paymentOf,
  attachClaim,
  bogusHash,
  deployUsdt,
  expectCompletedOnce,
  expectNotCompleted,
  market,
  newAddress,
  pay,
  seedClaim,
  seedProven,
  startWeb3Harness,
  units,
  type Web3Harness,
} from '../helpers/web3Harness.js';

/**
 * POST /decentralized/verify-all-pending: the cron's batch. Guarded by X-Cron-Secret when
 * CRON_SECRET is set; re-verifies every open decentralized payment with a claimed hash through the
 * chain, a bounded number at a time; one bad RPC answer is counted, not fatal.
 */

const CRON_SECRET = 'cron-secret-for-the-test-0123';

let chain: LocalChain;
let usdt: DeployedToken;
let buyerWallet: Wallet;
let receiver: Wallet;
let proxy: RpcProxy;
let h: Web3Harness;

beforeAll(async () => {
  chain = await startLocalChain();
  ({ usdt, buyerWallet, receiver } = await deployUsdt(chain));
  proxy = await startRpcProxy(chain.rpcUrl);
  h = await startWeb3Harness({
    chain,
    rpcUrl: proxy.url,
    tokenAddress: usdt.address,
    env: { ESCROW_RECEIVER_ADDRESS: receiver.address, CRON_SECRET },
  });
});
afterAll(async () => {
  await h?.stop();
  await proxy?.close();
  await chain?.stop();
});
afterEach(async () => {
  proxy.poisoned.clear();
  proxy.delayMs = 0;
  // Each case starts with no open payments left over from the one before.
  await h.store.payments.deleteMany({ status: { $in: ['pending', 'processing'] } });
});

const NO_HEADER: unique symbol = Symbol('no header');
const batch = (secret: string | typeof NO_HEADER = CRON_SECRET) =>
  h.anonymous.post('/decentralized/verify-all-pending').set(secret === NO_HEADER ? {} : { 'x-cron-secret': secret });

describe('POST /decentralized/verify-all-pending', () => {
  it('401 without the cron secret or with a wrong one; nothing is verified', async () => {
    const m = await market(h);
    const hash = await pay(chain, usdt.address, buyerWallet, receiver.address, units('25.5'), 3);
    const p = await seedClaim(h, m, hash);
    const before = await snapshot(h.store);
    proxy.reset();
    const secrets: (string | typeof NO_HEADER)[] = [NO_HEADER, '', 'wrong', `${CRON_SECRET}x`, CRON_SECRET.slice(0, -1)];
    for (const secret of secrets) {
      const r = await batch(secret);
      expect(r.status, `${String(secret)} → ${r.text}`).toBe(401);
      expect(r.body.error.code).toBe('invalid_cron_secret');
    }
    // A bearer token, even an admin's, is not the cron secret.
    const admin = await h.as({ admin: 'ops' }).post('/decentralized/verify-all-pending');
    expect(admin.status).toBe(401);
    expect(proxy.calls('eth_getTransactionReceipt')).toBe(0);
    expect(await snapshot(h.store)).toEqual(before);
    await expectNotCompleted(h, m, p.id);
  });

  it('verifies each open claim through the chain and counts the outcomes; one bad RPC answer does not stop the rest', async () => {
    // The buyer's wallet is proven for each payment before it pays (issue 10).
    const [confirmed, wrong, poisoned, young] = [await market(h), await market(h), await market(h), await market(h)];
    const [pConfirmed, pWrong, pPoisoned, pYoung] = [
      await seedProven(h, confirmed, buyerWallet),
      await seedProven(h, wrong, buyerWallet),
      await seedProven(h, poisoned, buyerWallet),
      await seedProven(h, young, buyerWallet),
    ];

    const confirmedHash = await pay(chain, usdt.address, buyerWallet, receiver.address, units('25.5'), 3);
    await attachClaim(h, pConfirmed.id, confirmedHash);

    await attachClaim(h, pWrong.id, await pay(chain, usdt.address, buyerWallet, newAddress(), units('25.5'), 3));

    const unknown = await market(h);
    const pUnknown = await seedClaim(h, unknown, bogusHash());

    const poisonedHash = await pay(chain, usdt.address, buyerWallet, receiver.address, units('25.5'), 3);
    await attachClaim(h, pPoisoned.id, poisonedHash);
    proxy.poisoned.add(poisonedHash.toLowerCase());

    // Not checked: no hash, already settled, another provider.
    const noHash = await market(h);
    const pNoHash = await seedClaim(h, noHash, null);
    const shk = await h.store.payments.insertOne(fixturePayment({ provider: 'shkeeper', transactionHash: confirmedHash.replace(/.$/, '0') }));
    const manual = await h.store.payments.insertOne(fixturePayment({ provider: 'manual', transactionHash: bogusHash(), status: 'processing' }));

    // Mined last: one confirmation when the batch runs.
    await attachClaim(h, pYoung.id, await chain.transfer(usdt.address, buyerWallet, receiver.address, units('25.5')));

    const r = await batch();
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({
      success: true,
      data: expect.objectContaining({ checked: 5, confirmed: 1, stillPending: 2, failed: 1, errors: 1, concurrency: VERIFY_CONCURRENCY }),
    });

    await expectCompletedOnce(h, confirmed, pConfirmed.id, { txHash: confirmedHash });
    expect((await paymentOf(h, pConfirmed.id)).history.at(-1)).toMatchObject({ source: 'verify_all_pending', actor: 'chain' });
    expect((await paymentOf(h, pYoung.id)).status).toBe('processing');
    await expectNotCompleted(h, young, pYoung.id);
    // Was: failed. A refuted claim is now dropped (still counted as `failed`) and the payment stays pending.
    expect(await paymentOf(h, pWrong.id)).toMatchObject({ status: 'pending', claim: null });
    await expectNotCompleted(h, wrong, pWrong.id);
    expect((await paymentOf(h, pUnknown.id)).history).toHaveLength(1);
    // The payment whose RPC answer was bad is untouched, though its transfer is real and confirmed.
    expect((await paymentOf(h, pPoisoned.id)).history).toHaveLength(1);
    await expectNotCompleted(h, poisoned, pPoisoned.id);
    expect((await paymentOf(h, pNoHash.id)).history).toHaveLength(1);
    expect((await paymentOf(h, shk.id)).status).toBe('pending');
    expect((await paymentOf(h, manual.id)).status).toBe('processing');

    // Next run, the RPC answers: the poisoned one completes, the settled one is not checked again.
    proxy.poisoned.clear();
    await chain.mine(2);
    const again = await batch();
    // The payment whose claim was refuted has no claim any more: the cron looks only at named transfers.
    expect(again.body.data).toMatchObject({ checked: 3, confirmed: 2, stillPending: 1, failed: 0, errors: 0, concurrency: VERIFY_CONCURRENCY });
    expect(await paymentOf(h, pWrong.id)).toMatchObject({ status: 'pending', claim: null, creditKeys: [] });
    await expectCompletedOnce(h, poisoned, pPoisoned.id, { txHash: poisonedHash });
    await expectCompletedOnce(h, young, pYoung.id);
    await expectCompletedOnce(h, confirmed, pConfirmed.id);
  });

  it(`never has more than ${VERIFY_CONCURRENCY} receipt reads in flight at once`, async () => {
    const n = 600;
    for (let i = 0; i < n; i++) {
      // A claimed hash is stored as `claim` (issue 10).
      const claim = { txHash: bogusHash(), from: null, nonce: null, source: 'decentralized_save', actor: 'anonymous', at: new Date() };
      await h.store.payments.insertOne(fixturePayment({ provider: 'decentralized', claim, liveOfferKey: null }));
    }
    proxy.delayMs = 5;
    proxy.reset();
    const r = await batch();
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ checked: n, confirmed: 0, stillPending: n, failed: 0, errors: 0 });
    expect(proxy.calls('eth_getTransactionReceipt')).toBeGreaterThanOrEqual(n);
    expect(proxy.maxInFlight('eth_getTransactionReceipt')).toBeLessThanOrEqual(VERIFY_CONCURRENCY);
    expect(proxy.maxInFlight('eth_getTransactionReceipt')).toBeGreaterThan(1);
  }, 60_000);

  it('with nothing open: zero counts', async () => {
    const r = await batch();
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ checked: 0, confirmed: 0, stillPending: 0, failed: 0, errors: 0, concurrency: VERIFY_CONCURRENCY });
  });
});
