import type { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeployedToken, LocalChain } from '../helpers/chain/localChain.js';
import { snapshot } from '../helpers/fixtures.js';
import {
  paymentOf,
  bogusHash,
  expectNotCompleted,
  market,
  newAddress,
  pay,
  provenPayment,
  saveBody,
  seedClaim,
  startWeb3Suite,
  stopWeb3Suite,
  units,
  type Market,
  type Web3Harness,
} from '../helpers/web3Harness.js';

/**
 * The key rule: no caller's word moves money state. A caller with no token tries every
 * route of the decentralized router and the legacy ones to get a payment `completed` without a
 * real, confirmed transfer of the amount to the escrow receiver — and never succeeds. (No
 * CRON_SECRET here, so even verify-all-pending is open to them.)
 */

let chain: LocalChain;
let usdt: DeployedToken;
let other: DeployedToken;
let buyerWallet: Wallet;
let receiver: Wallet;
let h: Web3Harness;

beforeAll(async () => void ({ chain, h, usdt, other, buyerWallet, receiver } = await startWeb3Suite()));
afterAll(() => stopWeb3Suite({ h, chain }));

/** Hashes a buyer could claim that do not pay this payment. */
const notAPayment: [string, () => Promise<string>][] = [
  ['an unknown hash', async () => bogusHash()],
  ['an unconfirmed transfer (1 of 3 confirmations)', () => chain.transfer(usdt.address, buyerWallet, receiver.address, units('25.5'))],
  ['an underpaying transfer', () => pay(chain, usdt.address, buyerWallet, receiver.address, units('25.49'), 3)],
  ['a transfer to another address', () => pay(chain, usdt.address, buyerWallet, newAddress(), units('25.5'), 3)],
  ['a transfer of another token', () => pay(chain, other.address, buyerWallet, receiver.address, units('25.5'), 3)],
  ['a reverted transfer', () => chain.transfer(usdt.address, buyerWallet, receiver.address, units('9999999'), { gasLimit: 100_000n })],
];

/** Everything an anonymous caller can send at one payment, asking for `completed` wherever a status is taken. */
async function everyAnonymousRoute(m: Market, paymentId: string, externalId: string, hash: string | undefined) {
  const answers = [
    await h.anonymous.put('/decentralized/update', { paymentId, status: 'completed', confirmations: 1000 }),
    await h.anonymous.put('/decentralized/update', { paymentId, status: 'processing', confirmations: 1000 }),
    await h.anonymous.post(`/decentralized/verify/${paymentId}`),
    await h.anonymous.post('/decentralized/verify-all-pending'),
    await h.anonymous.post('/callback', { paymentId, status: 'completed', data: { reference: externalId } }),
    await h.anonymous.post('/callback', { paymentId, status: 'PAID', transactionHash: hash, data: { paymentRef: externalId } }),
    await h.anonymous.post('/callback', { paymentId, status: 'completed', data: { reference: 'DEPAY_guess' } }),
    await h.anonymous.post('/callback', { paymentId, status: 'completed' }),
    await h.anonymous.post('/verify', { paymentId, transactionHash: hash }),
    await h.anonymous.post('/decentralized/save', saveBody(m, { transactionHash: hash })),
    await h.anonymous.post('/decentralized/save', { ...saveBody(m), status: 'completed' }),
    await h.anonymous.post('/decentralized/save', saveBody(m, { metadata: { status: 'completed', confirmations: 99 } })),
    await h.anonymous.get(`/decentralized/status/${paymentId}`),
    await h.anonymous.post('/payments/cleanup-pending', {}),
    await h.anonymous.post(`/payments/${paymentId}/fetch-tx`),
    await h.anonymous.post('/payments/auto-fetch-missing', {}),
    await h.anonymous.post('/decentralized/admin-payout', { purchaseRequestId: m.requestId, receiverWalletAddress: newAddress(), amount: '1' }),
  ];
  // None of them answered a completed (or funded) payment.
  for (const a of answers) {
    const d = a.body?.data;
    for (const view of [d, d?.payment]) {
      expect(view?.status).not.toBe('completed');
      expect(view?.escrowState ?? 'unfunded').toBe('unfunded');
    }
  }
  return answers;
}

describe('an anonymous caller cannot complete a payment without a confirmed transfer', () => {
  for (const [name, hashOf] of notAPayment) {
    it(`claiming ${name}`, async () => {
      const m = await market(h);
      // The buyer's wallet is proven first (issue 10), so each hash is judged on what it moved, not refused for its sender.
      const id = await provenPayment(h, m, buyerWallet);
      const hash = await hashOf();
      const saved = await h.anonymous.post('/decentralized/save', saveBody(m, { transactionHash: hash }));
      // Was: 200 with outcome `mismatch`. A refuted hash is now refused with 409 and the payment is left as it was.
      if (saved.status === 409) {
        expect(saved.body.error.code, saved.text).toBe('transfer_mismatch');
      } else {
        expect(saved.status, saved.text).toBe(200);
        expect(saved.body.data.id).toBe(id);
        expect(saved.body.data.status).not.toBe('completed');
        expect(['not_found', 'pending']).toContain(saved.body.verification.outcome);
      }
      const p = await paymentOf(h, id);
      await everyAnonymousRoute(m, id, p.externalId!, hash);
      await expectNotCompleted(h, m, id);
    });
  }

  it('with no hash at all, on a saved payment', async () => {
    const m = await market(h);
    const saved = await h.anonymous.post('/decentralized/save', saveBody(m));
    expect(saved.status, saved.text).toBe(200);
    const id = saved.body.data.id as string;
    const answers = await everyAnonymousRoute(m, id, saved.body.data.externalId, undefined);
    await expectNotCompleted(h, m, id);
    expect((await paymentOf(h, id)).status).toBe('pending');
    // Each attempt ended in a refusal or in "nothing to verify".
    expect(answers[0]!.status).toBe(409);
    expect(answers[0]!.body.error).toMatchObject({ code: 'chain_disagrees', details: { chain: 'no_hash', status: 'pending' } });
    expect(answers[2]!.body.data).toMatchObject({ status: 'pending', outcome: 'no_hash' });
    // No CRON_SECRET configured: the batch is open to anyone, and still only asks the chain.
    expect(answers[3]!.status).toBe(200);
    expect(answers[4]!.body.data).toMatchObject({ outcome: 'no_hash' });
    expect(answers[6]!.status).toBe(404);
    expect(answers[7]!.status).toBe(404);
    expect(answers[8]!.status).toBe(401);
  });

  it('the routes that need a token refuse an anonymous caller outright and change nothing', async () => {
    const m = await market(h);
    const p = await seedClaim(h, m, bogusHash());
    const before = await snapshot(h.store);
    const guarded: [string, string, unknown?][] = [
      ['POST', '/verify', { paymentId: p.id }],
      ['GET', '/decentralized/history/buyer-1'],
      ['POST', '/decentralized/admin-payout', { purchaseRequestId: m.requestId, receiverWalletAddress: newAddress(), amount: '1' }],
      ['POST', '/payments/cleanup-pending', { olderThanMinutes: 1 }],
      ['POST', `/payments/${p.id}/fetch-tx`],
      ['POST', '/payments/auto-fetch-missing', { limit: 5 }],
    ];
    for (const [method, path, body] of guarded) {
      const r = await h.anonymous[method === 'GET' ? 'get' : 'post'](path, body);
      expect(r.status, `${method} ${path} → ${r.text}`).toBe(401);
      expect(r.body.error.code).toBe('missing_token');
      const forgedClient = h.as({ authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJvcHMiLCJyb2xlIjoiYWRtaW4ifQ.' });
      const forged = await forgedClient[method === 'GET' ? 'get' : 'post'](path, body);
      expect(forged.status, `${method} ${path} (forged token) → ${forged.text}`).toBe(401);
    }
    // Cancelling is the one status a person sets, and only with a token.
    const cancel = await h.anonymous.put('/decentralized/update', { paymentId: p.id, status: 'cancelled' });
    expect(cancel.status).toBe(401);
    expect(await snapshot(h.store)).toEqual(before);
  });

  it('a real confirmed transfer completes only the payment that claimed it first; it cannot fund a second one', async () => {
    const a = await market(h);
    const b = await market(h);
    // Both payments have the buyer's wallet proven before it pays (issue 10): only the binding of the transfer to one payment is tested.
    await provenPayment(h, a, buyerWallet);
    const id = await provenPayment(h, b, buyerWallet);
    const hash = await pay(chain, usdt.address, buyerWallet, receiver.address, units('60'), 3);
    const first = await h.anonymous.post('/decentralized/save', saveBody(a, { transactionHash: hash }));
    expect(first.body.data.status).toBe('completed');

    const second = await h.anonymous.post('/decentralized/save', saveBody(b));
    expect(second.body.data.id).toBe(id);
    const viaSave = await h.anonymous.post('/decentralized/save', saveBody(b, { sellerId: 'seller-2', amount: '30', transactionHash: hash }));
    expect(viaSave.status).toBe(409);
    expect(viaSave.body.error.code).toBe('transaction_hash_in_use');
    const viaCallback = await h.anonymous.post('/callback', {
      paymentId: id,
      transactionHash: hash,
      status: 'completed',
      data: { reference: second.body.data.externalId },
    });
    expect(viaCallback.status, viaCallback.text).toBe(409);
    expect(viaCallback.body.error.code).toBe('transaction_hash_in_use');
    await expectNotCompleted(h, b, id);
    expect((await paymentOf(h, id)).transactionHash).toBeNull();
    expect((await paymentOf(h, id)).claim).toBeNull();
  });
});
