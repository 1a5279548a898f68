import type { Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import { paymentOf, market, provenPayment, saveBody, units, useWeb3Suite } from '../helpers/web3Harness.js';

/**
 * The cron (verify-all-pending) looks at what payers named — each open payment's claim — and
 * never attributes a transfer nobody named: the wallet may be paying another purchase whose proof
 * this service has not seen yet, so a guess could fund the wrong seller's escrow.
 */

const env = useWeb3Suite({ ledgerCheck: true });

let next = 3;
async function freshWallet(): Promise<Wallet> {
  const w = env.chain.accounts[next++]!;
  await env.usdt.mint(w.address, units('1000'));
  return w;
}
const cron = () => env.h.anonymous.post('/decentralized/verify-all-pending');

describe('verify-all-pending', () => {
  it('completes a payment whose named transfer became deep enough after the save', async () => {
    const w = await freshWallet();
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, w);
    const hash = await env.chain.transfer(env.usdt.address, w, env.receiver.address, units('25.5'));
    const shallow = await env.h.anonymous.post('/decentralized/save', saveBody(m, { transactionHash: hash }));
    expect(shallow.body.verification).toMatchObject({ outcome: 'pending', confirmations: 1 });
    await env.chain.mine(3);
    expect((await cron()).body.data).toMatchObject({ confirmed: 1 });
    expect((await paymentOf(env.h, id)).status).toBe('completed');
  });

  it("never credits a transfer nobody named, even to the wallet's only open payment", async () => {
    const w = await freshWallet();
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, w);
    const hash = await env.chain.transfer(env.usdt.address, w, env.receiver.address, units('25.5'));
    await env.chain.mine(3);
    await cron();
    expect((await paymentOf(env.h, id)).status).toBe('pending');
    // Named, it settles.
    const named = await env.h.anonymous.post(`/decentralized/verify/${id}`, { transactionHash: hash });
    expect(named.status, named.text).toBe(200);
    expect((await paymentOf(env.h, id)).status).toBe('completed');
  });
});
