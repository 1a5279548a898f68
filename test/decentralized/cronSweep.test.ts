import { Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ledgerProblems } from '../../src/payments/escrowLedger.js';
import type { DeployedToken, LocalChain } from '../helpers/chain/localChain.js';
import { market, provenPayment, startWeb3Suite, stopWeb3Suite, units, type Market, type Web3Harness } from '../helpers/web3Harness.js';

/**
 * The cron (verify-all-pending) credits a proven wallet's transfers that nobody named, but never
 * guesses between purchases: with one open payment per wallet any transfer since the proof is
 * that payment's; with several, only a transfer of exactly what one of them (and only one) lacks.
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
const cron = () => h.api('POST', '/decentralized/verify-all-pending');

/** A market whose seller-1 offer costs `amount`. */
async function marketAt(amount: string): Promise<Market> {
  const m = await market(h);
  await h.store.sellerOffers.updateOne({ id: m.offerId }, { $set: { amount } });
  return { ...m, amount };
}

describe('verify-all-pending sweeps proven wallets', () => {
  it('credits the only open payment of a wallet with a transfer nobody named', async () => {
    const w = await freshWallet();
    const m = await market(h);
    const id = await provenPayment(h, m, w);
    await chain.transfer(usdt.address, w, receiver.address, units('25.5'));
    await chain.mine(3);
    expect((await cron()).body.data.confirmed).toBeGreaterThanOrEqual(1);
    expect((await h.payment(id)).status).toBe('completed');
  });

  it('with two open payments of one wallet, credits a transfer to the one that lacks exactly its amount', async () => {
    const w = await freshWallet();
    const a = await marketAt('10');
    const b = await marketAt('20');
    const idA = await provenPayment(h, a, w);
    const idB = await provenPayment(h, b, w);
    await chain.transfer(usdt.address, w, receiver.address, units('20'));
    await chain.mine(3);
    await cron();
    expect((await h.payment(idA)).status).toBe('pending');
    expect((await h.payment(idB)).status).toBe('completed');
  });

  it('never guesses: two open payments lacking the same amount wait for the payer to name the hash', async () => {
    const w = await freshWallet();
    const a = await market(h);
    const b = await market(h);
    const idA = await provenPayment(h, a, w);
    const idB = await provenPayment(h, b, w);
    const hash = await chain.transfer(usdt.address, w, receiver.address, units('25.5'));
    await chain.mine(3);
    await cron();
    expect((await h.payment(idA)).status).toBe('pending');
    expect((await h.payment(idB)).status).toBe('pending');
    const named = await h.api('POST', `/decentralized/verify/${idB}`, { body: { transactionHash: hash } });
    expect(named.status, named.text).toBe(200);
    expect((await h.payment(idB)).status).toBe('completed');
  });
});
