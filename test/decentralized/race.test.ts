import { describe, expect, it } from 'vitest';
import {
  paymentOf,
  attachClaim,
  BUYER,
  expectCompletedOnce,
  market,
  pay,
  payerProof,
  saveBody,
  seedProven,
  units,
  type Market,
  useWeb3Suite,
} from '../helpers/web3Harness.js';

/**
 * Every route that verifies a Web3 payment, fired at one payment at the same moment, many times
 * over, for one real confirmed transfer: the legacy /verify (buyer's JWT), /decentralized/verify/:id,
 * /decentralized/verify-all-pending, PUT /decentralized/update and the legacy /callback. Whoever
 * wins, the payment completes once, with one set of side effects and one of each announcement.
 * (The SHKeeper webhook does not apply: these payments have no SHKeeper invoice.) The buyer's wallet
 * is proven before it pays (issue 10).
 */

const ITERATIONS = 12;
const COPIES = 4;

const env = useWeb3Suite();

function racers(paymentId: string, externalId: string, hash: string) {
  const one = [
    () => env.h.as(BUYER).post('/verify', { paymentId, transactionHash: hash }),
    () => env.h.as('seller-1').post('/verify', { paymentId }),
    () => env.h.anonymous.post(`/decentralized/verify/${paymentId}`),
    () => env.h.anonymous.post('/decentralized/verify-all-pending'),
    () => env.h.anonymous.put('/decentralized/update', { paymentId, status: 'completed' }),
    () => env.h.anonymous.post('/callback', { paymentId, transactionHash: hash, status: 'completed', data: { reference: externalId } }),
  ];
  return Array.from({ length: COPIES }, () => one).flat();
}

function expectSaneAnswers(answers: { status: number; text: string }[]) {
  // Every racer gets an answer about the same payment: success, or "not yet" / "the chain says
  // otherwise" (409 chain_disagrees for an update that lost to the confirmations) — never a 5xx.
  for (const a of answers) expect([200, 202, 409], a.text).toContain(a.status);
  // A hash given to a verify is no longer recorded as a claim before it is credited (issue 10), so a racer
  // carrying no hash may also find nothing to verify yet (legacy /verify: 409 no_transaction_hash).
  for (const a of answers.filter((x) => x.status === 409)) expect(a.text).toMatch(/chain_disagrees|no_transaction_hash/);
}

describe('racing verifications of one confirmed transfer', () => {
  it(`complete it exactly once (${ITERATIONS} rounds × ${6 * COPIES} concurrent calls)`, async () => {
    for (let i = 0; i < ITERATIONS; i++) {
      const m = await market(env.h);
      const proven = await seedProven(env.h, m, env.buyerWallet);
      const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
      // Half the rounds start with the hash claimed, half with only the payment saved: then the
      // /verify and /callback racers carry the claim and the others may find no hash yet.
      const p = i % 2 === 0 ? await attachClaim(env.h, proven.id, hash) : proven;
      const answers = await Promise.all(racers(p.id, p.externalId!, hash).map((call) => call()));
      expectSaneAnswers(answers);
      await expectCompletedOnce(env.h, m, p.id, { txHash: hash });
    }
  });

  it('complete it exactly once when the last confirmation arrives in the middle of the race', async () => {
    for (let i = 0; i < ITERATIONS / 2; i++) {
      const m = await market(env.h);
      const proven = await seedProven(env.h, m, env.buyerWallet);
      const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 2);
      const p = await attachClaim(env.h, proven.id, hash);
      const calls = racers(p.id, p.externalId!, hash);
      const half = Math.floor(calls.length / 2);
      const first = calls.slice(0, half).map((c) => c());
      await env.chain.mine(1);
      const rest = calls.slice(half).map((c) => c());
      const answers = await Promise.all([...first, ...rest]);
      expectSaneAnswers(answers);
      // Whatever the racers saw, one more verification settles it, once.
      const settled = await env.h.anonymous.post(`/decentralized/verify/${p.id}`);
      expect(settled.body.data.status).toBe('completed');
      await expectCompletedOnce(env.h, m, p.id, { txHash: hash });
      expect((await paymentOf(env.h, p.id)).history.filter((e) => e.toStatus === 'processing').length).toBeLessThanOrEqual(1);
    }
  });
});

describe('racing saves', () => {
  async function raceSaves(m: Market, body: Record<string, unknown>, n = 10) {
    return Promise.all(Array.from({ length: n }, () => env.h.anonymous.post('/decentralized/save', body)));
  }

  it('the same save with a confirmed hash, many times at once: one payment, completed once', async () => {
    for (let i = 0; i < ITERATIONS / 2; i++) {
      const m = await market(env.h);
      const proof = await payerProof(env.h, m, env.buyerWallet);
      const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
      const answers = await raceSaves(m, saveBody(m, { transactionHash: hash, payerProof: proof }));
      for (const a of answers) expect(a.status, a.text).toBe(200);
      const ids = new Set(answers.map((a) => a.body.data.id));
      expect(ids.size).toBe(1);
      expect(await env.h.store.payments.count({ purchaseRequestId: m.requestId })).toBe(1);
      await expectCompletedOnce(env.h, m, [...ids][0], { txHash: hash });
      expect(
        env.h.events.callsNamed('payment-created').filter((e) => (e.payload as { purchaseRequestId: string }).purchaseRequestId === m.requestId),
      ).toHaveLength(1);
    }
  });

  it('the same save without a hash, many times at once: one payment, and every caller gets it', async () => {
    for (let i = 0; i < ITERATIONS / 2; i++) {
      const m = await market(env.h);
      const answers = await raceSaves(m, saveBody(m));
      for (const a of answers) expect(a.status, a.text).toBe(200);
      expect(new Set(answers.map((a) => a.body.data.id)).size).toBe(1);
      expect(await env.h.store.payments.count({ purchaseRequestId: m.requestId })).toBe(1);
    }
  });
});
