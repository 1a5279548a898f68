import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalChain, type DeployedToken, type LocalChain } from '../helpers/chain/localChain.js';
import { market, newAddress, startWeb3Harness, units, type Web3Harness } from '../helpers/web3Harness.js';

/**
 * POST /decentralized/admin-payout from a hot wallet that holds the tokens but no native coin for
 * gas: refused with 409 insufficient_gas_funds, the payout recorded as failed (and retryable), the
 * key nowhere in the answer or the logs.
 */

let chain: LocalChain;
let usdt: DeployedToken;

beforeAll(async () => {
  chain = await startLocalChain();
  usdt = await chain.deployToken({ symbol: 'USDT' });
});
afterAll(async () => {
  await chain?.stop();
});

describe('a hot wallet without gas money', () => {
  let broke: Wallet;
  let g: Web3Harness;
  beforeAll(async () => {
    broke = Wallet.createRandom().connect(chain.provider) as unknown as Wallet;
    await usdt.mint(broke.address, units('100'));
    g = await startWeb3Harness({
      chain,
      tokenAddress: usdt.address,
      captureLogs: true,
      env: { ESCROW_RECEIVER_ADDRESS: chain.accounts[2]!.address, ADMIN_WALLET_PRIVATE_KEY: broke.privateKey },
    });
  });
  afterAll(async () => {
    await g?.stop();
  });

  it('409 insufficient_gas_funds; the payout is recorded as failed and may be retried', async () => {
    const m = await market(g);
    const to = newAddress();
    const r = await g.api('POST', '/decentralized/admin-payout', {
      auth: g.bearer('ops', { admin: true }),
      body: { purchaseRequestId: m.requestId, receiverWalletAddress: to, amount: '5' },
    });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('insufficient_gas_funds');
    const recorded = await g.store.payments.find({ purchaseRequestId: m.requestId, provider: 'admin_wallet' });
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ status: 'failed', transactionHash: null, liveOfferKey: null });
    expect(recorded[0]!.history.at(-1)).toMatchObject({ toStatus: 'failed', reason: 'insufficient_gas_funds' });
    expect(await chain.balanceOf(usdt.address, to)).toBe(0n);
    expect(await chain.balanceOf(usdt.address, broke.address)).toBe(units('100'));
    expect(g.events.named('payout-updated').map((e) => e.payload)).toEqual([{ payoutId: recorded[0]!.id, status: 'failed' }]);

    // Funded with gas money, the same payout goes through.
    await (await chain.accounts[0]!.sendTransaction({ to: broke.address, value: 10n ** 18n })).wait();
    const retry = await g.api('POST', '/decentralized/admin-payout', {
      auth: g.bearer('ops', { admin: true }),
      body: { purchaseRequestId: m.requestId, receiverWalletAddress: to, amount: '5' },
    });
    expect(retry.status, retry.text).toBe(200);
    expect(await chain.balanceOf(usdt.address, to)).toBe(units('5'));

    const key = broke.privateKey.toLowerCase().replace(/^0x/, '');
    expect(r.text.toLowerCase()).not.toContain(key);
    expect(retry.text.toLowerCase()).not.toContain(key);
    for (const line of g.logs) expect(line.toLowerCase()).not.toContain(key);
  });
});
