import { describe, expect, it } from 'vitest';
import { AMOUNT, confirm, eventsOf, expectNothingChanged, fundedPayment, newAddress, paymentOf, randomHash, useEscrowEnv, units } from './escrowKit.js';

/**
 * Confirming a release or refund with a transaction that is not exactly that transfer — wrong
 * amount, receiver, token or sender, reverted, unknown, or already used — is refused with 409 and
 * changes nothing. Each transaction here is real and mined deep enough on the local chain.
 */

const env = useEscrowEnv();

/** A mined transfer, deep enough to count. */
async function sent(hashPromise: Promise<string>) {
  const hash = await hashPromise;
  await env.chain.mine(3);
  return hash;
}

async function expectRefused(paymentId: string, kind: 'release' | 'refund', txHash: unknown, status: number, code: string, reason?: string) {
  const r = await expectNothingChanged(env.h, () => confirm(env.h, paymentId, kind, txHash));
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.success).toBe(false);
  expect(r.body.error.code).toBe(code);
  if (reason) expect(r.body.error.details).toEqual({ reason });
  const p = await paymentOf(env.h, paymentId);
  expect(p.status).toBe('completed');
  expect(p.escrowState).toBe('funded');
  expect(p.releaseTxHash).toBeNull();
  expect(p.refundTxHash).toBeNull();
}

describe('confirm: a transaction that is not exactly the transfer → 409 transfer_mismatch, state unchanged', () => {
  it('the wrong amount, less or more (the amount must be exact)', async () => {
    const f = await fundedPayment(env.h);
    const less = await sent(env.chain.transfer(env.usdt.address, env.escrow, f.seller, units('25.4')));
    await expectRefused(f.paymentId, 'release', less, 409, 'transfer_mismatch', 'amount_too_low');
    const more = await sent(env.chain.transfer(env.usdt.address, env.escrow, f.seller, units('25.500000000000000001')));
    await expectRefused(f.paymentId, 'release', more, 409, 'transfer_mismatch', 'amount_mismatch');
    const refundLess = await sent(env.chain.transfer(env.usdt.address, env.escrow, f.payer!, units('1')));
    await expectRefused(f.paymentId, 'refund', refundLess, 409, 'transfer_mismatch', 'amount_too_low');
  });

  it('to the wrong address (including the release transfer offered as a refund)', async () => {
    const f = await fundedPayment(env.h);
    const elsewhere = await sent(env.chain.transfer(env.usdt.address, env.escrow, newAddress(), units(AMOUNT)));
    await expectRefused(f.paymentId, 'release', elsewhere, 409, 'transfer_mismatch', 'wrong_receiver');
    await expectRefused(f.paymentId, 'refund', elsewhere, 409, 'transfer_mismatch', 'wrong_receiver');
    const toSeller = await sent(env.chain.transfer(env.usdt.address, env.escrow, f.seller, units(AMOUNT)));
    await expectRefused(f.paymentId, 'refund', toSeller, 409, 'transfer_mismatch', 'wrong_receiver');
    const toPayer = await sent(env.chain.transfer(env.usdt.address, env.escrow, f.payer!, units(AMOUNT)));
    await expectRefused(f.paymentId, 'release', toPayer, 409, 'transfer_mismatch', 'wrong_receiver');
  });

  it('of the wrong token', async () => {
    const f = await fundedPayment(env.h);
    const other = await env.chain.deployToken({ symbol: 'FAKE', mint: [{ to: env.escrow.address, amount: units('1000') }] });
    const hash = await sent(env.chain.transfer(other.address, env.escrow, f.seller, units(AMOUNT)));
    await expectRefused(f.paymentId, 'release', hash, 409, 'transfer_mismatch', 'wrong_token');
  });

  it('not from escrow', async () => {
    const f = await fundedPayment(env.h);
    const hash = await sent(env.chain.transfer(env.usdt.address, env.outsider, f.seller, units(AMOUNT)));
    await expectRefused(f.paymentId, 'release', hash, 409, 'transfer_mismatch', 'wrong_sender');
  });

  it('that reverted on chain (escrow short of funds), though its input is exactly the transfer', async () => {
    const f = await fundedPayment(env.h);
    const parked = env.chain.accounts[6]!;
    const all = await env.chain.balanceOf(env.usdt.address, env.escrow.address);
    await env.chain.transfer(env.usdt.address, env.escrow, parked.address, all - units('1'));
    let hash: string;
    try {
      hash = await sent(env.chain.transfer(env.usdt.address, env.escrow, f.seller, units(AMOUNT), { gasLimit: 100_000n }));
    } finally {
      await env.chain.transfer(env.usdt.address, parked, env.escrow.address, all - units('1'));
    }
    const receipt = await env.chain.provider.getTransactionReceipt(hash);
    expect(receipt?.status).toBe(0);
    expect(await env.chain.balanceOf(env.usdt.address, f.seller)).toBe(0n);
    await expectRefused(f.paymentId, 'release', hash, 409, 'transfer_mismatch', 'reverted');
  });
});

describe('confirm: other refusals', () => {
  it('409 transaction_not_found for a hash the chain does not know', async () => {
    const f = await fundedPayment(env.h);
    await expectRefused(f.paymentId, 'release', randomHash(), 409, 'transaction_not_found');
    await expectRefused(f.paymentId, 'refund', randomHash(), 409, 'transaction_not_found');
  });

  it('409 transaction_hash_in_use for a hash already recorded on any payment', async () => {
    // Two payments to the same seller wallet for the same amount: one transfer could verify for both.
    const seller = newAddress();
    const a = await fundedPayment(env.h, { seller });
    const b = await fundedPayment(env.h, { seller });
    const hash = await sent(env.chain.transfer(env.usdt.address, env.escrow, seller, units(AMOUNT)));
    expect((await confirm(env.h, a.paymentId, 'release', hash)).status).toBe(200);
    await expectRefused(b.paymentId, 'release', hash, 409, 'transaction_hash_in_use');
    // Another payment's pay-in hash, and this payment's own pay-in hash.
    await expectRefused(b.paymentId, 'release', a.payInHash, 409, 'transaction_hash_in_use');
    await expectRefused(b.paymentId, 'refund', b.payInHash, 409, 'transaction_hash_in_use');
    // A refund hash of another payment, offered as a release (payer of c = seller of d).
    const shared = newAddress();
    const c = await fundedPayment(env.h, { payer: shared });
    const d = await fundedPayment(env.h, { seller: shared });
    const refundHash = await sent(env.chain.transfer(env.usdt.address, env.escrow, shared, units(AMOUNT)));
    expect((await confirm(env.h, c.paymentId, 'refund', refundHash)).status).toBe(200);
    await expectRefused(d.paymentId, 'release', refundHash, 409, 'transaction_hash_in_use');
  });

  it('400 when txHash is missing or malformed', async () => {
    const f = await fundedPayment(env.h);
    for (const bad of [undefined, '', '0x1234', 'not-a-hash', 42, null, `${randomHash()}00`, randomHash().slice(2)]) {
      for (const kind of ['release', 'refund'] as const) {
        await expectRefused(f.paymentId, kind, bad, 400, 'validation_error');
      }
    }
  });

  it('409 escrow_not_funded for a payment that is not completed and funded; 404 for an unknown one', async () => {
    const f = await fundedPayment(env.h, { status: 'processing' });
    const hash = await sent(env.chain.transfer(env.usdt.address, env.escrow, f.seller, units(AMOUNT)));
    const r = await expectNothingChanged(env.h, () => confirm(env.h, f.paymentId, 'release', hash));
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('escrow_not_funded');
    expect((await paymentOf(env.h, f.paymentId)).status).toBe('processing');
    const unknown = await expectNothingChanged(env.h, () => confirm(env.h, 'bbbbbbbbbbbbbbbbbbbbbbbb', 'release', hash));
    expect(unknown.status).toBe(404);
  });

  it('a transfer still short of BSC_CONFIRMATIONS answers 202 and changes nothing, at 1 and 2 confirmations', async () => {
    const f = await fundedPayment(env.h);
    const hash = await env.chain.transfer(env.usdt.address, env.escrow, f.seller, units(AMOUNT));
    for (const depth of [1, 2]) {
      const r = await expectNothingChanged(env.h, () => confirm(env.h, f.paymentId, 'release', hash));
      expect(r.status, `at ${depth} confirmation(s)`).toBe(202);
      expect(r.body.message).toContain(`${depth} of 3`);
      await env.chain.mine(1);
    }
    expect((await confirm(env.h, f.paymentId, 'release', hash)).status).toBe(200);
    expect((await paymentOf(env.h, f.paymentId)).status).toBe('released');
  });
});

describe('confirm retried with the same Idempotency-Key', () => {
  it('a 202 "not deep enough yet" is not replayed: the retry settles once the transfer is deep enough', async () => {
    const f = await fundedPayment(env.h);
    const hash = await env.chain.transfer(env.usdt.address, env.escrow, f.seller, units(AMOUNT));
    const withKey = () => env.h.admin.post(`/shkeeper/${f.paymentId}/release/confirm`, { txHash: hash }).set({ 'Idempotency-Key': `confirm-${f.paymentId}` });
    expect((await withKey()).status).toBe(202);
    await env.chain.mine(2);
    const retried = await withKey();
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect((await paymentOf(env.h, f.paymentId)).status).toBe('released');
    const again = await withKey();
    expect(again.status).toBe(200);
    // The final answer is stored and replayed; another body under the same key is refused.
    expect(again.headers['idempotent-replayed']).toBe('true');
    const other = await env.h.admin
      .post(`/shkeeper/${f.paymentId}/release/confirm`, { txHash: `0x${'ab'.repeat(32)}` })
      .set({ 'Idempotency-Key': `confirm-${f.paymentId}` });
    expect(other.status).toBe(422);
    expect(eventsOf(env.h, f.requestId).filter((e) => e.event === 'purchase-request-update')).toHaveLength(1);
  });
});
