import { describe, expect, it } from 'vitest';
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
  units,
  type Market,
  useWeb3Suite,
} from '../helpers/web3Harness.js';

/**
 * The key rule: no caller's word moves money state. A caller with no token tries every
 * route of the decentralized router and the legacy ones to get a payment `completed` without a
 * real, confirmed transfer of the amount to the escrow receiver — and never succeeds. (No
 * CRON_SECRET here, so even verify-all-pending is open to them.)
 */

const env = useWeb3Suite();

/** Hashes a buyer could claim that do not pay this payment. */
const notAPayment: [string, () => Promise<string>][] = [
  ['an unknown hash', async () => bogusHash()],
  ['an unconfirmed transfer (1 of 3 confirmations)', () => env.chain.transfer(env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'))],
  ['an underpaying transfer', () => pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.49'), 3)],
  ['a transfer to another address', () => pay(env.chain, env.usdt.address, env.buyerWallet, newAddress(), units('25.5'), 3)],
  ['a transfer of another token', () => pay(env.chain, env.other.address, env.buyerWallet, env.receiver.address, units('25.5'), 3)],
  ['a reverted transfer', () => env.chain.transfer(env.usdt.address, env.buyerWallet, env.receiver.address, units('9999999'), { gasLimit: 100_000n })],
];

/** Everything an anonymous caller can send at one payment, asking for `completed` wherever a status is taken. */
async function everyAnonymousRoute(m: Market, paymentId: string, externalId: string, hash: string | undefined) {
  const answers = [
    await env.h.anonymous.put('/decentralized/update', { paymentId, status: 'completed', confirmations: 1000 }),
    await env.h.anonymous.put('/decentralized/update', { paymentId, status: 'processing', confirmations: 1000 }),
    await env.h.anonymous.post(`/decentralized/verify/${paymentId}`),
    await env.h.anonymous.post('/decentralized/verify-all-pending'),
    await env.h.anonymous.post('/callback', { paymentId, status: 'completed', data: { reference: externalId } }),
    await env.h.anonymous.post('/callback', { paymentId, status: 'PAID', transactionHash: hash, data: { paymentRef: externalId } }),
    await env.h.anonymous.post('/callback', { paymentId, status: 'completed', data: { reference: 'DEPAY_guess' } }),
    await env.h.anonymous.post('/callback', { paymentId, status: 'completed' }),
    await env.h.anonymous.post('/verify', { paymentId, transactionHash: hash }),
    await env.h.anonymous.post('/decentralized/save', saveBody(m, { transactionHash: hash })),
    await env.h.anonymous.post('/decentralized/save', { ...saveBody(m), status: 'completed' }),
    await env.h.anonymous.post('/decentralized/save', saveBody(m, { metadata: { status: 'completed', confirmations: 99 } })),
    await env.h.anonymous.get(`/decentralized/status/${paymentId}`),
    await env.h.anonymous.post('/payments/cleanup-pending', {}),
    await env.h.anonymous.post(`/payments/${paymentId}/fetch-tx`),
    await env.h.anonymous.post('/payments/auto-fetch-missing', {}),
    await env.h.anonymous.post('/decentralized/admin-payout', { purchaseRequestId: m.requestId, receiverWalletAddress: newAddress(), amount: '1' }),
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
      const m = await market(env.h);
      // The buyer's wallet is proven first (issue 10), so each hash is judged on what it moved, not refused for its sender.
      const id = await provenPayment(env.h, m, env.buyerWallet);
      const hash = await hashOf();
      const saved = await env.h.anonymous.post('/decentralized/save', saveBody(m, { transactionHash: hash }));
      // Was: 200 with outcome `mismatch`. A refuted hash is now refused with 409 and the payment is left as it was.
      if (saved.status === 409) {
        expect(saved.body.error.code, saved.text).toBe('transfer_mismatch');
      } else {
        expect(saved.status, saved.text).toBe(200);
        expect(saved.body.data.id).toBe(id);
        expect(saved.body.data.status).not.toBe('completed');
        expect(['not_found', 'pending']).toContain(saved.body.verification.outcome);
      }
      const p = await paymentOf(env.h, id);
      await everyAnonymousRoute(m, id, p.externalId!, hash);
      await expectNotCompleted(env.h, m, id);
    });
  }

  it('with no hash at all, on a saved payment', async () => {
    const m = await market(env.h);
    const saved = await env.h.anonymous.post('/decentralized/save', saveBody(m));
    expect(saved.status, saved.text).toBe(200);
    const id = saved.body.data.id as string;
    const answers = await everyAnonymousRoute(m, id, saved.body.data.externalId, undefined);
    await expectNotCompleted(env.h, m, id);
    expect((await paymentOf(env.h, id)).status).toBe('pending');
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
    const m = await market(env.h);
    const p = await seedClaim(env.h, m, bogusHash());
    const before = await snapshot(env.h.store);
    const guarded: [string, string, unknown?][] = [
      ['POST', '/verify', { paymentId: p.id }],
      ['GET', '/decentralized/history/buyer-1'],
      ['POST', '/decentralized/admin-payout', { purchaseRequestId: m.requestId, receiverWalletAddress: newAddress(), amount: '1' }],
      ['POST', '/payments/cleanup-pending', { olderThanMinutes: 1 }],
      ['POST', `/payments/${p.id}/fetch-tx`],
      ['POST', '/payments/auto-fetch-missing', { limit: 5 }],
    ];
    for (const [method, path, body] of guarded) {
      const r = await env.h.anonymous[method === 'GET' ? 'get' : 'post'](path, body);
      expect(r.status, `${method} ${path} → ${r.text}`).toBe(401);
      expect(r.body.error.code).toBe('missing_token');
      const forgedClient = env.h.as({ authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJvcHMiLCJyb2xlIjoiYWRtaW4ifQ.' });
      const forged = await forgedClient[method === 'GET' ? 'get' : 'post'](path, body);
      expect(forged.status, `${method} ${path} (forged token) → ${forged.text}`).toBe(401);
    }
    // Cancelling is the one status a person sets, and only with a token.
    const cancel = await env.h.anonymous.put('/decentralized/update', { paymentId: p.id, status: 'cancelled' });
    expect(cancel.status).toBe(401);
    expect(await snapshot(env.h.store)).toEqual(before);
  });

  it('a real confirmed transfer completes only the payment that claimed it first; it cannot fund a second one', async () => {
    const a = await market(env.h);
    const b = await market(env.h);
    // Both payments have the buyer's wallet proven before it pays (issue 10): only the binding of the transfer to one payment is tested.
    await provenPayment(env.h, a, env.buyerWallet);
    const id = await provenPayment(env.h, b, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('60'), 3);
    const first = await env.h.anonymous.post('/decentralized/save', saveBody(a, { transactionHash: hash }));
    expect(first.body.data.status).toBe('completed');

    const second = await env.h.anonymous.post('/decentralized/save', saveBody(b));
    expect(second.body.data.id).toBe(id);
    const viaSave = await env.h.anonymous.post('/decentralized/save', saveBody(b, { sellerId: 'seller-2', amount: '30', transactionHash: hash }));
    expect(viaSave.status).toBe(409);
    expect(viaSave.body.error.code).toBe('transaction_hash_in_use');
    const viaCallback = await env.h.anonymous.post('/callback', {
      paymentId: id,
      transactionHash: hash,
      status: 'completed',
      data: { reference: second.body.data.externalId },
    });
    expect(viaCallback.status, viaCallback.text).toBe(409);
    expect(viaCallback.body.error.code).toBe('transaction_hash_in_use');
    await expectNotCompleted(env.h, b, id);
    expect((await paymentOf(env.h, id)).transactionHash).toBeNull();
    expect((await paymentOf(env.h, id)).claim).toBeNull();
  });
});
