import { Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectLedgersSound, fundEscrow } from '../escrow/ledgerKit.js';
import { startLocalChain, type DeployedToken, type LocalChain } from '../helpers/chain/localChain.js';
import { purchaseRequest, sellerOffer } from '../helpers/fixtures.js';
import { newAddress, startWeb3Harness, units, type Web3Harness } from '../helpers/web3Harness.js';

/**
 * POST /decentralized/admin-payout from a hot wallet that holds the tokens but no native coin for
 * gas: refused with 409 insufficient_gas_funds, the payout recorded as failed and its escrow free
 * again (so it is retryable), the key nowhere in the answer or the logs.
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
  afterEach(async () => {
    await expectLedgersSound(g.store);
  });

  it('409 insufficient_gas_funds; the payout is recorded as failed and may be retried', async () => {
    // A funded escrow whose offer's wallet is `to`.
    const to = newAddress();
    const request = purchaseRequest({ status: 'payment_processing' });
    const offer = sellerOffer({ purchaseRequestId: request.id, walletAddress: to, status: 'accepted', amount: '5' });
    await g.store.purchaseRequests.insertOne(request);
    await g.store.sellerOffers.insertOne(offer);
    const escrow = await fundEscrow(g, {
      requestId: request.id,
      offerId: offer.id,
      buyerId: 'buyer-1',
      sellerId: 'seller-1',
      amount: '5',
      payer: newAddress(),
      receiver: g.config.escrow.receiverAddress!,
    });
    const m = { requestId: request.id };
    const r = await g.as({ admin: 'ops' }).post('/decentralized/admin-payout', { purchaseRequestId: m.requestId, receiverWalletAddress: to, amount: '5' });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('insufficient_gas_funds');
    const recorded = await g.store.payments.find({ purchaseRequestId: m.requestId, provider: 'admin_wallet' });
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ status: 'failed', transactionHash: null, liveOfferKey: null });
    expect(recorded[0]!.history.at(-1)).toMatchObject({ toStatus: 'failed', reason: 'insufficient_gas_funds' });
    expect(await chain.balanceOf(usdt.address, to)).toBe(0n);
    expect(await chain.balanceOf(usdt.address, broke.address)).toBe(units('100'));
    expect(g.events.callsNamed('payout-updated').map((e) => e.payload)).toEqual([{ payoutId: recorded[0]!.id, status: 'failed' }]);
    const freed = (await g.store.payments.findById(escrow.id))!;
    expect(freed).toMatchObject({ status: 'completed', escrowState: 'funded' });
    expect(freed.escrow!.inFlight).toBeNull();
    expect(freed.escrow!.disbursements).toEqual([expect.objectContaining({ method: 'hot_wallet', state: 'failed', payoutId: recorded[0]!.id })]);

    // Funded with gas money, the same payout goes through.
    await (await chain.accounts[0]!.sendTransaction({ to: broke.address, value: 10n ** 18n })).wait();
    const retry = await g.as({ admin: 'ops' }).post('/decentralized/admin-payout', { purchaseRequestId: m.requestId, receiverWalletAddress: to, amount: '5' });
    expect(retry.status, retry.text).toBe(200);
    expect(await chain.balanceOf(usdt.address, to)).toBe(units('5'));

    const key = broke.privateKey.toLowerCase().replace(/^0x/, '');
    expect(r.text.toLowerCase()).not.toContain(key);
    expect(retry.text.toLowerCase()).not.toContain(key);
    for (const line of g.logs) expect(line.toLowerCase()).not.toContain(key);
  });
});
