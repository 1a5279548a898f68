import { getAddress, toQuantity } from 'ethers';
import { describe, expect, it } from 'vitest';
import {
  ADMIN,
  AMOUNT,
  BUYER,
  cancelPrepared,
  confirm,
  eventsOf,
  expectNothingChanged,
  fundedPayment,
  newAddress,
  paymentOf,
  prepare,
  SELLER,
  signAndSend,
  useEscrowEnv,
  transferData,
  units,
  type Funded,
  type PreparedPayload,
} from './escrowKit.js';
import { ledgerIn } from './ledgerKit.js';

/**
 * Escrow release and refund, end to end: the admin prepares the transfer, signs the returned
 * payload with the escrow key exactly as returned, broadcasts it to a real local chain, and
 * confirms it with the hash. Only that exact transfer, deep enough, moves the payment.
 */

const env = useEscrowEnv();

const token = () => getAddress(env.usdt.address);

describe('POST /:id/release and /:id/refund (prepare)', () => {
  it('returns the ERC-20 transfer from escrow to the seller, and the same payload when asked again', async () => {
    const f = await fundedPayment(env.h);
    const r = await prepare(env.h, f.paymentId, 'release');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.success).toBe(true);
    const { payload, summary, disbursementId } = r.body.data;
    // EIP-1193 eth_sendTransaction parameters: every number a hex quantity, and no nonce.
    expect(payload).toEqual({
      from: env.escrow.address,
      to: token(),
      data: transferData(f.seller, units(AMOUNT)),
      value: '0x0',
      gas: expect.stringMatching(/^0x[0-9a-f]+$/),
      chainId: toQuantity(env.chain.chainId),
    });
    expect(BigInt(payload.gas)).toBeGreaterThan(21_000n);
    expect(summary).toEqual({
      action: 'release',
      recipient: f.seller,
      amount: AMOUNT,
      amountBaseUnits: units(AMOUNT).toString(),
      token: 'USDT',
      tokenAddress: token(),
      network: 'bsc',
      chainId: env.chain.chainId,
      from: env.escrow.address,
      override: null,
    });
    // Preparing moves no status and announces nothing; the escrow is held by the prepared disbursement.
    const p = await paymentOf(env.h, f.paymentId);
    expect(p.status).toBe('completed');
    expect(p.escrowState).toBe('funded');
    expect(p.escrow!.inFlight).toMatchObject({
      id: disbursementId,
      kind: 'release',
      method: 'escrow_tx',
      recipient: f.seller,
      amount: AMOUNT,
      state: 'prepared',
      override: null,
      payload,
    });
    expect(eventsOf(env.h, f.requestId)).toEqual([]);

    const again = await expectNothingChanged(env.h, () => prepare(env.h, f.paymentId, 'release'));
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual(r.body.data);
  });

  it('a refund pays the proven payer of the escrow, else the buyer wallet of the request', async () => {
    const withPayer = await fundedPayment(env.h, { buyerWallet: newAddress() });
    const a = await prepare(env.h, withPayer.paymentId, 'refund');
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(a.body.data.summary).toMatchObject({ action: 'refund', recipient: withPayer.payer, amount: AMOUNT });
    expect(a.body.data.payload.data).toBe(transferData(withPayer.payer!, units(AMOUNT)));

    const noPayer = await fundedPayment(env.h, { payer: null, buyerWallet: newAddress() });
    const b = await prepare(env.h, noPayer.paymentId, 'refund');
    expect(b.status, JSON.stringify(b.body)).toBe(200);
    expect(b.body.data.summary).toMatchObject({ action: 'refund', recipient: noPayer.buyerWallet });
    expect(b.body.data.payload.data).toBe(transferData(noPayer.buyerWallet!, units(AMOUNT)));
  });

  it('refuses the other action while one is prepared, until it is withdrawn', async () => {
    const f = await fundedPayment(env.h);
    expect((await prepare(env.h, f.paymentId, 'release')).status).toBe(200);
    const refused = await expectNothingChanged(env.h, () => prepare(env.h, f.paymentId, 'refund'));
    expect(refused.status).toBe(409);
    // Was `other_action_prepared`: every way out of the escrow now answers the same in-flight refusal.
    expect(refused.body.error).toMatchObject({ code: 'disbursement_in_flight', details: { kind: 'release', state: 'prepared' } });

    const cancelled = await cancelPrepared(env.h, f.paymentId);
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    expect(cancelled.body.data).toEqual({ cancelled: 'release' });
    expect((await ledgerIn(env.h, f.paymentId)).disbursements).toEqual([expect.objectContaining({ kind: 'release', state: 'withdrawn' })]);
    const refund = await prepare(env.h, f.paymentId, 'refund');
    expect(refund.status).toBe(200);
    expect(refund.body.data.summary.recipient).toBe(f.payer);
    const release = await expectNothingChanged(env.h, () => prepare(env.h, f.paymentId, 'release'));
    expect(release.status).toBe(409);
    expect(release.body.error).toMatchObject({ code: 'disbursement_in_flight', details: { kind: 'refund', state: 'prepared' } });

    expect((await cancelPrepared(env.h, f.paymentId)).status).toBe(200);
    const nothing = await expectNothingChanged(env.h, () => cancelPrepared(env.h, f.paymentId));
    expect(nothing.status).toBe(404);
    expect(nothing.body.error.code).toBe('nothing_prepared');
  });

  it('a prepared release asked again with another recipient is refused; asked again plainly, the same one', async () => {
    const f = await fundedPayment(env.h);
    const first = await prepare(env.h, f.paymentId, 'release');
    expect(first.status).toBe(200);
    const other = await expectNothingChanged(env.h, () =>
      env.h.admin.post(`/shkeeper/${f.paymentId}/release`, { recipientOverride: { address: newAddress(), reason: 'seller asked for another wallet' } }),
    );
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('disbursement_in_flight');
    expect((await cancelPrepared(env.h, f.paymentId)).status).toBe(200);
  });

  it('409 seller_wallet_missing / buyer_wallet_missing, changing nothing', async () => {
    const noSellerWallet = await fundedPayment(env.h, { seller: null });
    const a = await expectNothingChanged(env.h, () => prepare(env.h, noSellerWallet.paymentId, 'release'));
    expect(a.status).toBe(409);
    expect(a.body.error.code).toBe('seller_wallet_missing');

    const noBuyerWallet = await fundedPayment(env.h, { payer: null, buyerWallet: null });
    const b = await expectNothingChanged(env.h, () => prepare(env.h, noBuyerWallet.paymentId, 'refund'));
    expect(b.status).toBe(409);
    expect(b.body.error.code).toBe('buyer_wallet_missing');
  });

  it('409 unless the payment is completed with escrow funded; 404 for an unknown payment', async () => {
    for (const status of ['pending', 'processing', 'failed', 'released', 'refunded'] as const) {
      const f = await fundedPayment(env.h, { status });
      for (const kind of ['release', 'refund'] as const) {
        const r = await expectNothingChanged(env.h, () => prepare(env.h, f.paymentId, kind));
        expect(r.status, `${kind} of a ${status} payment`).toBe(409);
        expect(r.body.error.code).toBe('escrow_not_funded');
      }
    }
    const unknown = await expectNothingChanged(env.h, () => prepare(env.h, 'aaaaaaaaaaaaaaaaaaaaaaaa', 'release'));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('payment_not_found');
  });

  it('409 transfer_would_revert when escrow does not hold the amount, changing nothing', async () => {
    const f = await fundedPayment(env.h, { amount: '5000000' });
    const r = await expectNothingChanged(env.h, () => prepare(env.h, f.paymentId, 'release'));
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('transfer_would_revert');
  });
});

describe('authorisation', () => {
  it('anonymous → 401, a non-admin (even the buyer or the seller) → 403, and nothing changes', async () => {
    const f = await fundedPayment(env.h);
    const hash = await env.chain.transfer(env.usdt.address, env.escrow, f.seller, units(AMOUNT));
    await env.chain.mine(3);
    const balance = await env.chain.balanceOf(env.usdt.address, f.seller);
    for (const [as, status, code] of [
      ['anonymous', 401, 'missing_token'],
      [BUYER, 403, 'admin_required'],
      [SELLER, 403, 'admin_required'],
      ['someone-else', 403, 'admin_required'],
    ] as const) {
      const answers = await expectNothingChanged(env.h, async () => [
        await prepare(env.h, f.paymentId, 'release', as),
        await prepare(env.h, f.paymentId, 'refund', as),
        await confirm(env.h, f.paymentId, 'release', hash, as),
        await confirm(env.h, f.paymentId, 'refund', hash, as),
        await cancelPrepared(env.h, f.paymentId, as),
      ]);
      for (const a of answers) {
        expect(a.status, `${as}: ${JSON.stringify(a.body)}`).toBe(status);
        expect(a.body.error.code).toBe(code);
      }
    }
    expect(await env.chain.balanceOf(env.usdt.address, f.seller)).toBe(balance);
    // The admin still can.
    expect((await confirm(env.h, f.paymentId, 'release', hash)).status).toBe(200);
  });
});

/** The real round trip: prepare → sign exactly what was returned → broadcast → confirm. */
async function roundTrip(f: Funded, kind: 'release' | 'refund', recipient: string) {
  const tokenAddress = env.usdt.address;
  const recipientBefore = await env.chain.balanceOf(tokenAddress, recipient);
  const escrowBefore = await env.chain.balanceOf(tokenAddress, env.escrow.address);
  const prepared = await prepare(env.h, f.paymentId, kind);
  expect(prepared.status, JSON.stringify(prepared.body)).toBe(200);
  expect(prepared.body.data.summary.recipient).toBe(recipient);

  const hash = await signAndSend(env, prepared.body.data.payload);

  // Mined, 1 of 3 confirmations: seen, nothing moves yet.
  const early = await expectNothingChanged(env.h, () => confirm(env.h, f.paymentId, kind, hash));
  expect(early.status, JSON.stringify(early.body)).toBe(202);
  expect(early.body.data.status).toBe('completed');

  await env.chain.mine(2);
  const done = await confirm(env.h, f.paymentId, kind, hash);
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  expect(done.body.success).toBe(true);

  const target = kind === 'release' ? 'released' : 'refunded';
  const p = await paymentOf(env.h, f.paymentId);
  expect(p.status).toBe(target);
  expect(p.escrowState).toBe(target);
  expect(p[kind === 'release' ? 'releaseTxHash' : 'refundTxHash']).toBe(hash.toLowerCase());
  expect(p[kind === 'release' ? 'refundTxHash' : 'releaseTxHash']).toBeNull();
  const ledger = await ledgerIn(env.h, f.paymentId);
  expect(ledger.inFlight).toBeNull();
  expect(ledger.disbursed).toBe(AMOUNT);
  expect(ledger.disbursements.filter((d) => d.state === 'settled')).toEqual([
    expect.objectContaining({ kind, method: 'escrow_tx', recipient, amount: AMOUNT, evidence: hash.toLowerCase() }),
  ]);
  expect(p.history.filter((e) => e.toStatus === target)).toEqual([
    expect.objectContaining({ fromStatus: 'completed', fromEscrow: 'funded', toEscrow: target, actor: ADMIN }),
  ]);
  expect(done.body.data).toMatchObject({ id: f.paymentId, status: target });

  expect((await env.h.store.purchaseRequests.findById(f.requestId))?.status).toBe(kind === 'release' ? 'seller_paid' : 'refunded');
  expect(await env.chain.balanceOf(tokenAddress, recipient)).toBe(recipientBefore + units(AMOUNT));
  expect(await env.chain.balanceOf(tokenAddress, env.escrow.address)).toBe(escrowBefore - units(AMOUNT));

  const updates = eventsOf(env.h, f.requestId).filter((e) => e.event === 'purchase-request-update');
  expect(updates).toEqual([
    {
      target: { kind: 'request', id: f.requestId },
      event: 'purchase-request-update',
      payload: expect.objectContaining({
        purchaseRequestId: f.requestId,
        paymentId: f.paymentId,
        type: kind === 'release' ? 'payment_released' : 'payment_refunded',
        status: kind === 'release' ? 'seller_paid' : 'refunded',
      }),
    },
  ]);

  // Confirming again with the same hash answers the same and announces nothing more.
  const again = await expectNothingChanged(env.h, () => confirm(env.h, f.paymentId, kind, hash));
  expect(again.status).toBe(200);
  expect(again.body.data.status).toBe(target);
  // Nothing more can leave this escrow.
  for (const k of ['release', 'refund'] as const) {
    const r = await expectNothingChanged(env.h, () => prepare(env.h, f.paymentId, k));
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('escrow_not_funded');
  }
  const other = await expectNothingChanged(env.h, () => confirm(env.h, f.paymentId, kind === 'release' ? 'refund' : 'release', hash));
  expect(other.status).toBe(409);
  return hash;
}

describe('the real round trip on chain', () => {
  it('release: the seller receives exactly the amount, the payment is released once', async () => {
    const f = await fundedPayment(env.h);
    await roundTrip(f, 'release', f.seller);
  });

  it('refund: the payer receives exactly the amount, the payment is refunded once', async () => {
    const f = await fundedPayment(env.h, { buyerWallet: newAddress() });
    await roundTrip(f, 'refund', f.payer!);
  });

  it('refund to the buyer wallet of the request when the paying wallet is unknown', async () => {
    const f = await fundedPayment(env.h, { payer: null, buyerWallet: newAddress() });
    await roundTrip(f, 'refund', f.buyerWallet!);
  });

  it('a prepared refund that is cancelled leaves the release possible', async () => {
    const f = await fundedPayment(env.h);
    expect((await prepare(env.h, f.paymentId, 'refund')).status).toBe(200);
    expect((await cancelPrepared(env.h, f.paymentId)).status).toBe(200);
    await roundTrip(f, 'release', f.seller);
  });
});

describe('the prepared payload, sent by a wallet exactly as returned', () => {
  async function preparedRelease() {
    const f = await fundedPayment(env.h);
    const r = await prepare(env.h, f.paymentId, 'release');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return { f, payload: r.body.data.payload as PreparedPayload };
  }

  async function confirmsAfterMining(f: Funded, hash: string) {
    expect((await env.chain.provider.getTransactionReceipt(hash))?.status).toBe(1);
    await env.chain.mine(2);
    const done = await confirm(env.h, f.paymentId, 'release', hash);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.data).toMatchObject({ status: 'released', releaseTxHash: hash.toLowerCase() });
    expect(await env.chain.balanceOf(env.usdt.address, f.seller)).toBe(units(AMOUNT));
  }

  it("through the node's eth_sendTransaction from the (unlocked) escrow account: mined, then confirms", async () => {
    const { f, payload } = await preparedRelease();
    // The very object the API answered, as a browser wallet's provider.request({ method: 'eth_sendTransaction', params: [payload] }).
    const hash = (await env.chain.provider.send('eth_sendTransaction', [payload])) as string;
    await confirmsAfterMining(f, hash);
  });

  it('signed by an ethers Wallet holding the escrow key, unchanged: mined, then confirms', async () => {
    const { f, payload } = await preparedRelease();
    const tx = await env.escrow.sendTransaction(payload);
    await tx.wait();
    await confirmsAfterMining(f, tx.hash);
  });

  it('two prepared releases of two escrows both go through: no nonce is fixed in a payload', async () => {
    const a = await preparedRelease();
    const b = await preparedRelease();
    // Sent in the opposite order of preparation: a fixed nonce would make the second fail.
    const hb = (await env.chain.provider.send('eth_sendTransaction', [b.payload])) as string;
    const ha = (await env.chain.provider.send('eth_sendTransaction', [a.payload])) as string;
    await confirmsAfterMining(b.f, hb);
    await confirmsAfterMining(a.f, ha);
  });
});

describe('an admin paying another recipient (recipientOverride)', () => {
  const override = (address: string) => ({ recipientOverride: { address, reason: 'seller lost access to the offer wallet' } });

  it('prepare → the override is the recipient, recorded with who and why on the disbursement and in the history', async () => {
    const f = await fundedPayment(env.h);
    const elsewhere = newAddress();
    const r = await env.h.admin.post(`/shkeeper/${f.paymentId}/release`, override(elsewhere));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data.summary).toMatchObject({ recipient: elsewhere, override: { by: ADMIN, reason: 'seller lost access to the offer wallet' } });
    expect(r.body.data.payload.data).toBe(transferData(elsewhere, units(AMOUNT)));
    const p = await paymentOf(env.h, f.paymentId);
    expect(p.escrow!.inFlight).toMatchObject({ recipient: elsewhere, override: { by: ADMIN, reason: 'seller lost access to the offer wallet' } });
    expect(p.history.at(-1)!.reason).toContain('recipient override by admin-1: seller lost access to the offer wallet');

    const hash = await signAndSend(env, r.body.data.payload);
    await env.chain.mine(2);
    // The prepared disbursement decides the recipient: the override need not be repeated.
    const done = await confirm(env.h, f.paymentId, 'release', hash);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(await env.chain.balanceOf(env.usdt.address, elsewhere)).toBe(units(AMOUNT));
  });

  it('confirm with nothing prepared: the override is expected on chain, and the rule recipient is not', async () => {
    const f = await fundedPayment(env.h);
    const elsewhere = newAddress();
    const hash = await env.chain.transfer(env.usdt.address, env.escrow, elsewhere, units(AMOUNT));
    await env.chain.mine(3);
    const plain = await expectNothingChanged(env.h, () => confirm(env.h, f.paymentId, 'refund', hash));
    expect(plain.status).toBe(409);
    expect(plain.body.error).toMatchObject({ code: 'transfer_mismatch', details: { reason: 'wrong_receiver' } });
    const withOverride = await env.h.admin.post(`/shkeeper/${f.paymentId}/refund/confirm`, { txHash: hash, ...override(elsewhere) });
    expect(withOverride.status, JSON.stringify(withOverride.body)).toBe(200);
    expect(withOverride.body.data.status).toBe('refunded');
    expect((await ledgerIn(env.h, f.paymentId)).disbursements).toEqual([
      expect.objectContaining({
        kind: 'refund',
        state: 'settled',
        recipient: elsewhere,
        override: { by: ADMIN, reason: 'seller lost access to the offer wallet' },
      }),
    ]);
  });

  it('400 without a reason or with a malformed address; nothing changes', async () => {
    const f = await fundedPayment(env.h);
    for (const bad of [
      { address: newAddress() },
      { address: '0x123', reason: 'because' },
      { address: newAddress(), reason: '' },
      { address: newAddress(), reason: 'ok', extra: 1 },
    ]) {
      const r = await expectNothingChanged(env.h, () => env.h.admin.post(`/shkeeper/${f.paymentId}/release`, { recipientOverride: bad }));
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.body.error.code).toBe('validation_error');
    }
  });
});
