import type { Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ledgerProblems } from '../../src/core/payments/escrowLedger.js';
import type { DeployedToken, LocalChain } from '../helpers/chain/localChain.js';
import { paymentOf, market, provenPayment, saveBody, startWeb3Suite, stopWeb3Suite, units, type Web3Harness } from '../helpers/web3Harness.js';

/**
 * The cron (verify-all-pending) looks at what payers named — each open payment's claim — and
 * never attributes a transfer nobody named: the wallet may be paying another purchase whose proof
 * this service has not seen yet, so a guess could fund the wrong seller's escrow.
 */

let chain: LocalChain;
let usdt: DeployedToken;
let receiver: Wallet;
let h: Web3Harness;

beforeAll(async () => void ({ chain, h, usdt, receiver } = await startWeb3Suite()));
afterAll(() => stopWeb3Suite({ h, chain }));
afterEach(async () => {
  for (const p of await h.store.payments.find({})) expect(ledgerProblems(p), p.id).toEqual([]);
});

let next = 3;
async function freshWallet(): Promise<Wallet> {
  const w = chain.accounts[next++]!;
  await usdt.mint(w.address, units('1000'));
  return w;
}
const cron = () => h.anonymous.post('/decentralized/verify-all-pending');

describe('verify-all-pending', () => {
  it('completes a payment whose named transfer became deep enough after the save', async () => {
    const w = await freshWallet();
    const m = await market(h);
    const id = await provenPayment(h, m, w);
    const hash = await chain.transfer(usdt.address, w, receiver.address, units('25.5'));
    const shallow = await h.anonymous.post('/decentralized/save', saveBody(m, { transactionHash: hash }));
    expect(shallow.body.verification).toMatchObject({ outcome: 'pending', confirmations: 1 });
    await chain.mine(3);
    expect((await cron()).body.data).toMatchObject({ confirmed: 1 });
    expect((await paymentOf(h, id)).status).toBe('completed');
  });

  it("never credits a transfer nobody named, even to the wallet's only open payment", async () => {
    const w = await freshWallet();
    const m = await market(h);
    const id = await provenPayment(h, m, w);
    const hash = await chain.transfer(usdt.address, w, receiver.address, units('25.5'));
    await chain.mine(3);
    await cron();
    expect((await paymentOf(h, id)).status).toBe('pending');
    // Named, it settles.
    const named = await h.anonymous.post(`/decentralized/verify/${id}`, { transactionHash: hash });
    expect(named.status, named.text).toBe(200);
    expect((await paymentOf(h, id)).status).toBe('completed');
  });
});
