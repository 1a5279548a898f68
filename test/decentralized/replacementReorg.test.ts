import { Contract, parseUnits, type Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ERC20_ABI } from '../../src/core/chain/erc20.js';
import { ledgerProblems } from '../../src/core/payments/escrowLedger.js';
import type { DeployedToken, LocalChain } from '../helpers/chain/localChain.js';
import {
  paymentOf,
  expectCompletedOnce,
  expectNotCompleted,
  market,
  provenPayment,
  saveBody,
  startWeb3Suite,
  stopWeb3Suite,
  units,
  type Web3Harness,
} from '../helpers/web3Harness.js';

/**
 * Invariant 2 on a real chain: an unmined transaction moves nothing; a payment waiting on one is
 * settled by the transaction that really paid (a sped-up replacement, same sender and nonce); a
 * transaction reorged out before it is final sends the payment back to pending with its claim gone.
 */

let chain: LocalChain;
let usdt: DeployedToken;
let buyerWallet: Wallet;
let receiver: Wallet;
let h: Web3Harness;

beforeAll(async () => void ({ chain, h, usdt, buyerWallet, receiver } = await startWeb3Suite()));
afterAll(() => stopWeb3Suite({ h, chain }));
afterEach(async () => {
  await chain.setAutomine(true);
  for (const p of await h.store.payments.find({})) expect(ledgerProblems(p), p.id).toEqual([]);
});

const save = (body: unknown) => h.anonymous.post('/decentralized/save', body);
const verify = (id: string) => h.anonymous.post(`/decentralized/verify/${id}`);
const PRICE = units('25.5');

/** Sends a token transfer with an explicit nonce and fee, without waiting for it to be mined. */
async function sendTransfer(nonce: number, gwei: string): Promise<string> {
  const token = new Contract(usdt.address, ERC20_ABI, buyerWallet);
  const tx = (await token.getFunction('transfer')(receiver.address, PRICE, {
    nonce,
    gasLimit: 100_000n,
    maxFeePerGas: parseUnits(gwei, 'gwei'),
    maxPriorityFeePerGas: parseUnits(gwei, 'gwei'),
  })) as { hash: string };
  return tx.hash;
}

describe('unmined and replaced transactions', () => {
  it('an unmined claim moves nothing; its sped-up replacement settles the payment', async () => {
    const m = await market(h);
    const id = await provenPayment(h, m, buyerWallet);
    await chain.setAutomine(false);
    const nonce = await chain.provider.getTransactionCount(buyerWallet.address, 'pending');
    const slow = await sendTransfer(nonce, '2');

    const r = await save(saveBody(m, { transactionHash: slow }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.verification).toMatchObject({ outcome: 'pending', reason: 'not_mined' });
    let p = await paymentOf(h, id);
    expect(p.status).toBe('pending');
    expect(p.claim).toMatchObject({ txHash: slow.toLowerCase(), from: buyerWallet.address, nonce });
    await expectNotCompleted(h, m, id);

    // Sped up: same sender and nonce, a higher fee; the slow one never gets mined.
    const fast = await sendTransfer(nonce, '20');
    expect(fast).not.toBe(slow);
    await chain.mine(3);
    expect(await chain.provider.getTransaction(slow)).toBeNull();

    // The cron (or the buyer's verify) finds the replacement from the claim's sender and nonce.
    const v = await verify(id);
    expect(v.status, v.text).toBe(200);
    expect(v.body.data.outcome).toBe('confirmed');
    await expectCompletedOnce(h, m, id, { txHash: fast });
    p = await paymentOf(h, id);
    expect(p.claim).toBeNull();
    expect(p.escrow?.credits.map((c) => c.txHash)).toEqual([fast.toLowerCase()]);
  });

  it('the payer may also name the replacement directly: the unproven first hash held nothing', async () => {
    const m = await market(h);
    const id = await provenPayment(h, m, buyerWallet);
    await chain.setAutomine(false);
    const nonce = await chain.provider.getTransactionCount(buyerWallet.address, 'pending');
    const slow = await sendTransfer(nonce, '2');
    expect((await save(saveBody(m, { transactionHash: slow }))).status).toBe(200);
    const fast = await sendTransfer(nonce, '20');
    await chain.mine(3);
    const r = await save(saveBody(m, { transactionHash: fast }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.data.id).toBe(id);
    await expectCompletedOnce(h, m, id, { txHash: fast });
  });
});

describe('reorgs', () => {
  it('a transaction reorged out before it is final sends the payment back to pending, claim cleared', async () => {
    const m = await market(h);
    const id = await provenPayment(h, m, buyerWallet);
    const snapshot = (await chain.provider.send('evm_snapshot', [])) as string;
    await chain.setAutomine(false);
    const nonce = await chain.provider.getTransactionCount(buyerWallet.address, 'pending');
    const hash = await sendTransfer(nonce, '2');
    await chain.mine(1);

    const seen = await save(saveBody(m, { transactionHash: hash }));
    expect(seen.status, seen.text).toBe(200);
    expect(seen.body.verification).toMatchObject({ outcome: 'pending', confirmations: 1 });
    expect((await paymentOf(h, id)).status).toBe('processing');

    // The block that held it is gone, and the transaction with it.
    await chain.provider.send('evm_revert', [snapshot]);
    await chain.provider.send('hardhat_dropTransaction', [hash]).catch(() => undefined);
    expect(await chain.provider.getTransaction(hash)).toBeNull();

    const v = await verify(id);
    expect(v.status, v.text).toBe(200);
    expect(v.body.data).toMatchObject({ outcome: 'not_found', reason: 'reorged_out', status: 'pending' });
    const p = await paymentOf(h, id);
    expect(p).toMatchObject({ status: 'pending', escrowState: 'unfunded', claim: null, creditKeys: [] });
    expect(p.history.at(-1)).toMatchObject({ fromStatus: 'processing', toStatus: 'pending' });

    // The payer pays again (the nonce is free again after the reorg) and settles.
    await chain.setAutomine(true);
    const again = await chain.transfer(usdt.address, buyerWallet, receiver.address, PRICE);
    await chain.mine(2);
    const done = await save(saveBody(m, { transactionHash: again }));
    expect(done.status, done.text).toBe(200);
    await expectCompletedOnce(h, m, id, { txHash: again });
  });
});
