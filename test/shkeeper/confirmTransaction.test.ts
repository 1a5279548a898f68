import { hexlify, randomBytes } from 'ethers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/childService.js';
import { randomAddress } from '../helpers/fakeShkeeper/common.js';
import { snapshot } from '../helpers/fixtures.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';
import {
  BUYER,
  confirmTx,
  createIntent,
  usePayinChain,
  eventsFor,
  expectCompletedOnce,
  expectNotCompleted,
  expectSoundLedgers,
  newAddress,
  paymentOf,
  QUIET_MONITORS,
  units,
  type Intent,
} from './payinChainKit.js';

/**
 * POST /shkeeper/confirm-transaction end to end: the buyer names a transaction, the real local
 * chain decides (BSC_CONFIRMATIONS = 3 in the harness: the block of the transfer plus two).
 */

const payin = usePayinChain();

const randomHash = () => hexlify(randomBytes(32));

describe('confirm-transaction against the chain', () => {
  let h: ListeningWorld;
  beforeEach(async () => {
    h = await startTestWorld({ listen: true, shkeeper: true, chain: payin.chain, tokenAddress: payin.setup.usdt.address, env: QUIET_MONITORS });
  });
  afterEach(async () => {
    await h?.stop();
  });

  /** Calls confirm and asserts it was refused with `status`/`code` and changed and announced nothing. */
  async function expectRefused(auth: string | undefined, body: unknown, status: number, code: string, details?: unknown) {
    const before = await snapshot(h.store);
    const emitted = h.events.emitted.length;
    const r = await confirmTx(h, auth, body);
    expect(r.status, JSON.stringify(r.body)).toBe(status);
    expect(r.body.success).toBe(false);
    expect(r.body.error.code).toBe(code);
    if (details !== undefined) expect(r.body.error.details).toEqual(details);
    expect(await snapshot(h.store)).toEqual(before);
    expect(h.events.emitted.length).toBe(emitted);
    return r;
  }

  it('completes the payment when the transfer has enough confirmations, with its side effects exactly once', async () => {
    const intent = await createIntent(h);
    const hash = await payin.pay(intent.payAddress);
    await payin.chain.mine(2);

    const r = await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({
      success: true,
      message: 'payment confirmed on chain',
      data: { paymentId: intent.paymentId, transactionHash: hash, status: 'completed' },
    });
    await expectCompletedOnce(h, intent, { source: 'confirm_transaction', txHash: hash });
    const p = await paymentOf(h, intent.paymentId);
    // The transfer is a credit of the escrow, as the chain shows it; its sender is the payer (a
    // refund's recipient). These facts lived in providerData.confirmedTransfer / payerAddress before.
    expect(p.escrow!.credits).toEqual([
      expect.objectContaining({
        kind: 'funding',
        txHash: hash,
        from: payin.setup.buyerWallet.address,
        to: intent.payAddress,
        amount: '25.5',
        baseUnits: units('25.5').toString(),
        source: 'confirm_transaction',
      }),
    ]);
    expect(p.escrow).toMatchObject({ received: '25.5', payer: payin.setup.buyerWallet.address, shortfall: null });
    await expectSoundLedgers(h);

    // Asking again (the buyer's retry) answers the same and changes or announces nothing.
    const before = await snapshot(h.store);
    const emitted = h.events.emitted.length;
    const again = await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash });
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual({ paymentId: intent.paymentId, transactionHash: hash, status: 'completed' });
    expect(await snapshot(h.store)).toEqual(before);
    expect(h.events.emitted.length).toBe(emitted);
    await expectCompletedOnce(h, intent);
  });

  it('accepts more than the amount due, an upper-case hash, and the seller or an admin as caller', async () => {
    const bySeller = await createIntent(h);
    const hash = await payin.pay(bySeller.payAddress, '40');
    const byAdmin = await createIntent(h);
    const adminHash = await payin.pay(byAdmin.payAddress);
    await payin.chain.mine(2);

    const r = await confirmTx(h, h.bearer('seller-1'), { paymentId: bySeller.paymentId, transactionHash: `0x${hash.slice(2).toUpperCase()}` });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data).toEqual({ paymentId: bySeller.paymentId, transactionHash: hash, status: 'completed' });
    await expectCompletedOnce(h, bySeller, { txHash: hash });

    const a = await confirmTx(h, h.bearer('ops', { admin: true }), { paymentId: byAdmin.paymentId, transactionHash: adminHash, network: 'BSC' });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    await expectCompletedOnce(h, byAdmin, { txHash: adminHash });
  });

  it('answers 202 processing with too few confirmations, then completes once the chain has them', async () => {
    const intent = await createIntent(h);
    const hash = await payin.pay(intent.payAddress);
    await payin.chain.mine(1); // 2 of 3

    const first = await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash });
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.body).toEqual({
      success: true,
      message: 'transaction seen; 2 of 3 confirmations',
      data: { paymentId: intent.paymentId, transactionHash: hash, status: 'processing' },
    });
    const seen = await paymentOf(h, intent.paymentId);
    expect(seen.status).toBe('processing');
    // A sighting reserves nothing: only a credit records a hash (it used to be stored here).
    expect(seen.transactionHash).toBeNull();
    expect(seen.creditKeys).toEqual([]);
    await expectNotCompleted(h, intent);
    expect(
      eventsFor(h, intent)
        .filter((e) => e.event === 'payment-updated')
        .map((e) => (e.payload as { status: string }).status),
    ).toEqual(['processing', 'processing', 'processing']);

    // Still short: another 202, nothing new announced.
    const emitted = h.events.emitted.length;
    const again = await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash });
    expect(again.status).toBe(202);
    expect(h.events.emitted.length).toBe(emitted);

    await payin.chain.mine(1);
    const done = await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.data.status).toBe('completed');
    await expectCompletedOnce(h, intent, { source: 'confirm_transaction', txHash: hash });
    expect((await paymentOf(h, intent.paymentId)).history.map((e) => e.toStatus)).toEqual(['pending', 'processing', 'completed']);
  });

  it('refuses a transaction still waiting in the mempool (409 not_mined) and changes nothing; it settles once mined', async () => {
    // An unmined transaction is evidence of nothing (issue 10): it used to move the payment to
    // processing (202) and hold its hash, so a sped-up replacement could not settle it.
    const intent = await createIntent(h);
    await payin.chain.setAutomine(false);
    let hash: string;
    try {
      hash = await payin.pay(intent.payAddress);
      await expectRefused(h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash }, 409, 'transfer_mismatch', { reason: 'not_mined' });
      expect((await paymentOf(h, intent.paymentId)).status).toBe('pending');
      await expectNotCompleted(h, intent);
    } finally {
      await payin.chain.setAutomine(true);
    }
    await payin.chain.mine(3);
    const done = await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    await expectCompletedOnce(h, intent, { source: 'confirm_transaction', txHash: hash });
  });

  it('refuses a transfer of another token to the pay address: 409 transfer_mismatch wrong_token', async () => {
    const intent = await createIntent(h);
    const hash = await payin.chain.transfer(payin.otherToken.address, payin.setup.buyerWallet, intent.payAddress, units('25.5'));
    await payin.chain.mine(2);
    await expectRefused(h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash }, 409, 'transfer_mismatch', {
      reason: 'wrong_token',
    });
  });

  it('refuses a transfer to someone else: wrong_address', async () => {
    const intent = await createIntent(h);
    const hash = await payin.pay(newAddress());
    await payin.chain.mine(2);
    await expectRefused(h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash }, 409, 'transfer_mismatch', {
      reason: 'wrong_address',
    });
  });

  it('credits a transfer of less than the amount due for what arrived: processing, shortfall recorded, not funded', async () => {
    // It used to be refused (amount_too_low), which left money that had arrived at the invoice
    // address unrecorded (issue 10). Now it is credited; the rest completes the payment.
    const intent = await createIntent(h);
    const hash = await payin.pay(intent.payAddress, '25.499999999999999999');
    await payin.chain.mine(2);
    const r = await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.data).toEqual({ paymentId: intent.paymentId, transactionHash: hash, status: 'processing' });
    expect(r.body.message).toContain('0.000000000000000001 still due');
    const short = await paymentOf(h, intent.paymentId);
    expect(short).toMatchObject({ status: 'processing', escrowState: 'unfunded', transactionHash: null, fundedRequestKey: null });
    expect(short.escrow).toMatchObject({ received: '25.499999999999999999', shortfall: '0.000000000000000001', payer: null });
    await expectNotCompleted(h, intent);

    const rest = await payin.pay(intent.payAddress, '0.000000000000000001');
    await payin.chain.mine(2);
    const done = await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: rest });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    await expectCompletedOnce(h, intent, { source: 'confirm_transaction', txHash: rest });
    expect((await paymentOf(h, intent.paymentId)).escrow).toMatchObject({ received: '25.5', shortfall: null, payer: payin.setup.buyerWallet.address });
    await expectSoundLedgers(h);
  });

  it('refuses a transfer that reverted on chain: reverted', async () => {
    const intent = await createIntent(h);
    const broke = payin.chain.accounts[5]!; // holds no tokens: the transfer is mined and reverts
    const hash = await payin.chain.transfer(payin.setup.usdt.address, broke, intent.payAddress, units('25.5'), { gasLimit: 100_000n });
    await payin.chain.mine(2);
    expect((await payin.chain.provider.getTransactionReceipt(hash))?.status).toBe(0);
    await expectRefused(h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash }, 409, 'transfer_mismatch', {
      reason: 'reverted',
    });
  });

  it('refuses a hash the chain does not know: 409 transaction_not_found', async () => {
    const intent = await createIntent(h);
    await expectRefused(h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: randomHash() }, 409, 'transaction_not_found');
  });

  it("refuses another payment's transfer: it paid that invoice's address, not this one (wrong_address)", async () => {
    // It was refused as transaction_hash_in_use (the hash was taken); what makes it not this
    // payment's is where the money went, which the chain says.
    const first = await createIntent(h);
    const hash = await payin.pay(first.payAddress);
    await payin.chain.mine(2);
    expect((await confirmTx(h, h.bearer(BUYER), { paymentId: first.paymentId, transactionHash: hash })).status).toBe(200);

    const second = await createIntent(h);
    await expectRefused(h.bearer(BUYER), { paymentId: second.paymentId, transactionHash: hash }, 409, 'transfer_mismatch', { reason: 'wrong_address' });
    await expectNotCompleted(h, second);
  });

  it('refuses a transfer already credited to another payment with the same address: 409 transfer_already_credited', async () => {
    const first = await createIntent(h);
    const hash = await payin.pay(first.payAddress);
    await payin.chain.mine(2);
    expect((await confirmTx(h, h.bearer(BUYER), { paymentId: first.paymentId, transactionHash: hash })).status).toBe(200);
    // SHKeeper handed the same address to a second invoice: the one transfer still credits once.
    const second = await createIntent(h, first.payAddress);
    await expectRefused(h.bearer(BUYER), { paymentId: second.paymentId, transactionHash: hash }, 409, 'transfer_already_credited');
    await expectNotCompleted(h, second);
    await expectSoundLedgers(h);
  });

  it('a shallow sighting reserves nothing: a second real transfer to the invoice address settles it, the first is then excess', async () => {
    // A seen-but-shallow hash used to be recorded and every other hash refused
    // (transaction_hash_already_set); any transfer to the invoice's own address is its money.
    const intent = await createIntent(h);
    const hash = await payin.pay(intent.payAddress);
    expect((await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash })).status).toBe(202);
    const other = await payin.pay(intent.payAddress);
    await payin.chain.mine(2);
    const r = await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: other });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    await expectCompletedOnce(h, intent, { source: 'confirm_transaction', txHash: other });
    const late = await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash });
    expect(late.status, JSON.stringify(late.body)).toBe(200);
    expect(late.body.message).toContain('recorded as excess');
    expect(late.body.data).toEqual({ paymentId: intent.paymentId, transactionHash: other, status: 'completed' });
    const p = await paymentOf(h, intent.paymentId);
    expect(p.escrow!.credits.map((c) => [c.kind, c.txHash])).toEqual([
      ['funding', other],
      ['excess', hash],
    ]);
    await expectSoundLedgers(h);
  });

  it('on a completed payment only its own hash is "already confirmed"; any other is 409 transfer_mismatch not_this_payment', async () => {
    const intent = await createIntent(h);
    const hash = await payin.pay(intent.payAddress);
    await payin.chain.mine(2);
    expect((await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash })).status).toBe(200);
    const again = await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash.toUpperCase().replace('0X', '0x') });
    expect(again.status).toBe(200);
    expect(again.body.message).toBe('payment is already confirmed');

    // It used to answer 200 "already confirmed" for any hash at all.
    const elsewhere = await payin.pay(newAddress());
    const otherToken_ = await payin.chain.transfer(payin.otherToken.address, payin.setup.buyerWallet, intent.payAddress, units('1'));
    await payin.chain.mine(2);
    for (const [h_, chainSays] of [
      [randomHash(), 'not_found'],
      [elsewhere, 'wrong_address'],
      [otherToken_, 'wrong_token'],
    ] as const) {
      await expectRefused(h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: h_ }, 409, 'transfer_mismatch', {
        reason: 'not_this_payment',
        chain: chainSays,
      });
    }
    await expectCompletedOnce(h, intent, { txHash: hash });
    await expectSoundLedgers(h);
  });

  it('hides the payment from non-parties (404), needs a token (401) and valid fields (400)', async () => {
    const intent = await createIntent(h);
    const hash = await payin.pay(intent.payAddress);
    await payin.chain.mine(2);
    const body = { paymentId: intent.paymentId, transactionHash: hash };

    await expectRefused(h.bearer('stranger'), body, 404, 'payment_not_found');
    await expectRefused(undefined, body, 401, 'missing_token');
    await expectRefused('Bearer not-a-jwt', body, 401, 'invalid_token');
    const missing = await expectRefused(h.bearer(BUYER), {}, 400, 'validation_error');
    expect(JSON.stringify(missing.body.error.details)).toContain('paymentId');
    expect(JSON.stringify(missing.body.error.details)).toContain('transactionHash');
    await expectRefused(h.bearer(BUYER), { paymentId: intent.paymentId }, 400, 'validation_error');
    await expectRefused(h.bearer(BUYER), { transactionHash: hash }, 400, 'validation_error');
    await expectRefused(h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: '0x1234' }, 400, 'validation_error');
    await expectRefused(h.bearer(BUYER), { ...body, network: 'tron' }, 400, 'unsupported_network');
    await expectNotCompleted(h, intent);
  });

  it('refuses to confirm a payment on another network with a BSC transfer: 400 unsupported_network', async () => {
    const onEthereum = await createIntent(h, newAddress(), { token: 'USDT', network: 'ethereum' });
    const hash = await payin.pay(onEthereum.payAddress); // the right amount of BSC USDT, to the same EVM address
    await payin.chain.mine(2);
    await expectRefused(h.bearer(BUYER), { paymentId: onEthereum.paymentId, transactionHash: hash }, 400, 'unsupported_network');
    await expectRefused(h.bearer(BUYER), { paymentId: onEthereum.paymentId, transactionHash: hash, network: 'bsc' }, 400, 'unsupported_network');
    await expectNotCompleted(h, onEthereum);

    const onTron = await createIntent(h, randomAddress('USDT'), { token: 'USDT', network: 'tron' });
    await expectRefused(h.bearer(BUYER), { paymentId: onTron.paymentId, transactionHash: hash }, 400, 'unsupported_network');
  });

  it('never applies a transfer to a cancelled payment: a real one is recorded as excess for an admin, anything else is refused', async () => {
    const intent = await createIntent(h);
    await h.server.ctx.coordinator.transition(intent.paymentId, { to: 'cancelled', source: 'test', actor: BUYER });
    await expectRefused(h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: await payin.pay(newAddress()) }, 409, 'payment_closed');
    // The money did arrive at the invoice address: it used to be refused and forgotten (issue 10).
    const hash = await payin.pay(intent.payAddress);
    await payin.chain.mine(2);
    const emitted = h.events.emitted.length;
    const r = await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data).toEqual({ paymentId: intent.paymentId, transactionHash: null, status: 'cancelled' });
    expect(r.body.message).toContain('recorded as excess');
    const p = await paymentOf(h, intent.paymentId);
    expect(p).toMatchObject({ status: 'cancelled', escrowState: 'unfunded', fundedRequestKey: null });
    expect(p.escrow!.credits).toEqual([
      expect.objectContaining({ kind: 'excess', reason: 'late_payment', txHash: hash, from: payin.setup.buyerWallet.address, amount: '25.5' }),
    ]);
    expect(h.events.emitted.length).toBe(emitted);
    await expectNotCompleted(h, intent);
    await expectSoundLedgers(h);
  });
});

describe('confirm-transaction with the RPC down', () => {
  let h: ListeningWorld;
  afterEach(async () => {
    await h?.stop();
  });

  it('answers 502 rpc_unavailable and leaves the payment as it was', async () => {
    const deadRpc = `http://127.0.0.1:${await freePort()}`;
    h = await startTestWorld({
      listen: true,
      shkeeper: true,
      chain: { ...payin.chain, rpcUrl: deadRpc },
      tokenAddress: payin.setup.usdt.address,
      env: { ...QUIET_MONITORS, BSC_RPC_URL: deadRpc },
    });
    const intent: Intent = await createIntent(h);
    const hash = await payin.pay(intent.payAddress); // a real, confirmed transfer on the real chain
    await payin.chain.mine(2);

    const before = await snapshot(h.store);
    const emitted = h.events.emitted.length;
    const r = await confirmTx(h, h.bearer(BUYER), { paymentId: intent.paymentId, transactionHash: hash });
    expect(r.status, JSON.stringify(r.body)).toBe(502);
    expect(r.body.error.code).toBe('rpc_unavailable');
    expect(JSON.stringify(r.body)).not.toContain(deadRpc);
    expect(await snapshot(h.store)).toEqual(before);
    expect(h.events.emitted.length).toBe(emitted);
    expect((await paymentOf(h, intent.paymentId)).status).toBe('pending');
  });
});
