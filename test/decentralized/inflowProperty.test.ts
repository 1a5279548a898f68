import fc from 'fast-check';
import type { Wallet } from 'ethers';
import { beforeAll, describe, expect, it } from 'vitest';
import { addDecimals } from '../../src/platform/money.js';
import { ledgerProblems } from '../../src/core/payments/escrowLedger.js';
import type { PaymentRecord } from '../../src/core/store/records.js';
import { paymentOf, market, provenPayment, saveBody, units, useWeb3Suite, type Market } from '../helpers/web3Harness.js';

/**
 * Invariant 1 as a property: several Web3 payments share one escrow receiver; each has its own
 * payer, who proved its wallet and paid; an attacker with a proven payment of its own pays too.
 * For any interleaving of claims — anyone naming any of those transfers for any of the payments,
 * through save, verify or a party's PUT — every funded payment is funded by its own payer's
 * transfer, no transfer funds two payments, and each payment's received equals the sum of the
 * transfers credited to it.
 */

const env = useWeb3Suite();
let payers: Wallet[];

beforeAll(async () => {
  payers = env.chain.accounts.slice(3, 7); // three payers and an attacker
  for (const w of payers) await env.usdt.mint(w.address, units('1000000'));
});

const PRICE = units('25.5');

interface Round {
  markets: Market[];
  ids: string[];
  /** transfers[i] was sent by payers[i] (the last one by the attacker). */
  transfers: string[];
}

async function setUpRound(): Promise<Round> {
  const markets: Market[] = [];
  const ids: string[] = [];
  for (let i = 0; i < payers.length; i++) {
    const m = await market(env.h);
    markets.push(m);
    ids.push(await provenPayment(env.h, m, payers[i]!));
  }
  const transfers: string[] = [];
  for (const w of payers) transfers.push(await env.chain.transfer(env.usdt.address, w, env.receiver.address, PRICE));
  await env.chain.mine(3);
  return { markets, ids, transfers };
}

type Path = 'save' | 'verify' | 'put_claim_then_verify';
const step = fc.record({
  payment: fc.nat({ max: 3 }),
  transfer: fc.nat({ max: 3 }),
  path: fc.constantFrom<Path>('save', 'verify', 'put_claim_then_verify'),
});

async function claim(r: Round, s: { payment: number; transfer: number; path: Path }) {
  const id = r.ids[s.payment]!;
  const hash = r.transfers[s.transfer]!;
  if (s.path === 'save') return env.h.anonymous.post('/decentralized/save', saveBody(r.markets[s.payment]!, { transactionHash: hash }));
  if (s.path === 'verify') return env.h.anonymous.post(`/decentralized/verify/${id}`, { transactionHash: hash });
  await env.h.as('buyer-1').put(`/${id}`, { transactionHash: hash });
  return env.h.anonymous.post(`/decentralized/verify/${id}`);
}

describe('every credit is bound to its own payer, whatever the interleaving of claims', () => {
  it('holds for random interleavings of payer and attacker claims', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const r = await setUpRound();
        for (const s of steps) {
          const res = await claim(r, s);
          expect(res.status, res.text).toBeLessThan(500);
        }
        const payments = (await Promise.all(r.ids.map((id) => paymentOf(env.h, id)))) as PaymentRecord[];
        const creditedBy = new Map<string, string>();
        payments.forEach((p, i) => {
          expect(ledgerProblems(p), p.id).toEqual([]);
          for (const c of p.escrow!.credits) {
            // Funded by its own payer's transfer, and by nothing else.
            expect(c.txHash).toBe(r.transfers[i]!.toLowerCase());
            expect(c.from).toBe(payers[i]!.address);
            expect(creditedBy.has(c.key), 'one transfer funds one payment').toBe(false);
            creditedBy.set(c.key, p.id);
          }
          expect(p.escrow!.received).toBe(addDecimals('0', ...p.escrow!.credits.map((c) => c.amount)));
          if (p.escrowState === 'funded') expect(p.transactionHash).toBe(r.transfers[i]!.toLowerCase());
        });
        // A payment whose own transfer was claimed for it in some step is funded.
        for (let i = 0; i < payers.length; i++) {
          if (steps.some((s) => s.payment === i && s.transfer === i)) expect(payments[i]!.escrowState).toBe('funded');
        }
      }),
      { numRuns: 12, endOnFailure: true },
    );
  });
});
