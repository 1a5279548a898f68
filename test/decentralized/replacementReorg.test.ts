import { Contract, parseUnits } from 'ethers';
import { afterEach, describe, expect, it } from 'vitest';
import { ERC20_ABI } from '../../src/core/chain/erc20.js';
import { paymentOf, expectCompletedOnce, expectNotCompleted, market, provenPayment, saveBody, units, useWeb3Suite } from '../helpers/web3Harness.js';

/**
 * Invariant 2 on a real chain: an unmined transaction moves nothing; a payment waiting on one is
 * settled by the transaction that really paid (a sped-up replacement, same sender and nonce); a
 * transaction reorged out before it is final sends the payment back to pending with its claim gone.
 */

const env = useWeb3Suite({ ledgerCheck: true });

afterEach(() => env.chain.setAutomine(true));

const PRICE = units('25.5');

/** Sends a token transfer with an explicit nonce and fee, without waiting for it to be mined. */
async function sendTransfer(nonce: number, gwei: string): Promise<string> {
  const token = new Contract(env.usdt.address, ERC20_ABI, env.buyerWallet);
  const tx = (await token.getFunction('transfer')(env.receiver.address, PRICE, {
    nonce,
    gasLimit: 100_000n,
    maxFeePerGas: parseUnits(gwei, 'gwei'),
    maxPriorityFeePerGas: parseUnits(gwei, 'gwei'),
  })) as { hash: string };
  return tx.hash;
}

describe('unmined and replaced transactions', () => {
  it('an unmined claim moves nothing; its sped-up replacement settles the payment', async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    await env.chain.setAutomine(false);
    const nonce = await env.chain.provider.getTransactionCount(env.buyerWallet.address, 'pending');
    const slow = await sendTransfer(nonce, '2');

    const r = await env.save(saveBody(m, { transactionHash: slow }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.verification).toMatchObject({ outcome: 'pending', reason: 'not_mined' });
    let p = await paymentOf(env.h, id);
    expect(p.status).toBe('pending');
    expect(p.claim).toMatchObject({ txHash: slow.toLowerCase(), from: env.buyerWallet.address, nonce });
    await expectNotCompleted(env.h, m, id);

    // Sped up: same sender and nonce, a higher fee; the slow one never gets mined.
    const fast = await sendTransfer(nonce, '20');
    expect(fast).not.toBe(slow);
    await env.chain.mine(3);
    expect(await env.chain.provider.getTransaction(slow)).toBeNull();

    // The cron (or the buyer's verify) finds the replacement from the claim's sender and nonce.
    const v = await env.verify(id);
    expect(v.status, v.text).toBe(200);
    expect(v.body.data.outcome).toBe('confirmed');
    await expectCompletedOnce(env.h, m, id, { txHash: fast });
    p = await paymentOf(env.h, id);
    expect(p.claim).toBeNull();
    expect(p.escrow?.credits.map((c) => c.txHash)).toEqual([fast.toLowerCase()]);
  });

  it('the payer may also name the replacement directly: the unproven first hash held nothing', async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    await env.chain.setAutomine(false);
    const nonce = await env.chain.provider.getTransactionCount(env.buyerWallet.address, 'pending');
    const slow = await sendTransfer(nonce, '2');
    expect((await env.save(saveBody(m, { transactionHash: slow }))).status).toBe(200);
    const fast = await sendTransfer(nonce, '20');
    await env.chain.mine(3);
    const r = await env.save(saveBody(m, { transactionHash: fast }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.data.id).toBe(id);
    await expectCompletedOnce(env.h, m, id, { txHash: fast });
  });
});

describe('reorgs', () => {
  it('a transaction reorged out before it is final sends the payment back to pending, claim cleared', async () => {
    const m = await market(env.h);
    const id = await provenPayment(env.h, m, env.buyerWallet);
    const snapshot = (await env.chain.provider.send('evm_snapshot', [])) as string;
    await env.chain.setAutomine(false);
    const nonce = await env.chain.provider.getTransactionCount(env.buyerWallet.address, 'pending');
    const hash = await sendTransfer(nonce, '2');
    await env.chain.mine(1);

    const seen = await env.save(saveBody(m, { transactionHash: hash }));
    expect(seen.status, seen.text).toBe(200);
    expect(seen.body.verification).toMatchObject({ outcome: 'pending', confirmations: 1 });
    expect((await paymentOf(env.h, id)).status).toBe('processing');

    // The block that held it is gone, and the transaction with it.
    await env.chain.provider.send('evm_revert', [snapshot]);
    await env.chain.provider.send('hardhat_dropTransaction', [hash]).catch(() => undefined);
    expect(await env.chain.provider.getTransaction(hash)).toBeNull();

    const v = await env.verify(id);
    expect(v.status, v.text).toBe(200);
    expect(v.body.data).toMatchObject({ outcome: 'not_found', reason: 'reorged_out', status: 'pending' });
    const p = await paymentOf(env.h, id);
    expect(p).toMatchObject({ status: 'pending', escrowState: 'unfunded', claim: null, creditKeys: [] });
    expect(p.history.at(-1)).toMatchObject({ fromStatus: 'processing', toStatus: 'pending' });

    // The payer pays again (the nonce is free again after the reorg) and settles.
    await env.chain.setAutomine(true);
    const again = await env.chain.transfer(env.usdt.address, env.buyerWallet, env.receiver.address, PRICE);
    await env.chain.mine(2);
    const done = await env.save(saveBody(m, { transactionHash: again }));
    expect(done.status, done.text).toBe(200);
    await expectCompletedOnce(env.h, m, id, { txHash: again });
  });
});
