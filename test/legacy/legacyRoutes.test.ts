import { describe, expect, it } from 'vitest';
import { payment as fixturePayment, snapshot } from '../helpers/fixtures.js';
import {
  paymentOf,
  attachClaim,
  BUYER,
  bogusHash,
  expectCompletedOnce,
  expectNotCompleted,
  market,
  newAddress,
  pay,
  payerProof,
  seedClaim,
  seedProven,
  units,
  useWeb3Suite,
} from '../helpers/web3Harness.js';

/**
 * The legacy POST /callback (no auth; the payment's externalId as reference) and POST /verify
 * (JWT party): a hash they carry is a claim, the status they carry is ignored, the chain decides.
 * The payer proves its wallet before it pays (`seedProven`, issue 10).
 */

const env = useWeb3Suite();

const confirmed = (amount = '25.5') => pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units(amount), 3);
const callback = (body: unknown) => env.h.anonymous.post('/callback', body);
const verify = (body: unknown, auth: string | undefined = env.h.bearer(BUYER)) => env.h.as({ authorization: auth }).post('/verify', body);

describe('POST /callback', () => {
  it('with the payment’s reference and a confirmed hash: the chain completes it once', async () => {
    const m = await market(env.h);
    const p = await seedProven(env.h, m, env.buyerWallet);
    const hash = await confirmed();
    const r = await callback({ paymentId: p.id, transactionHash: hash, status: 'failed', data: { reference: p.externalId } });
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({
      outcome: 'confirmed',
      confirmations: 3,
      payment: { id: p.id, status: 'completed', transactionHash: hash.toLowerCase() },
    });
    await expectCompletedOnce(env.h, m, p.id, { txHash: hash });
    expect((await paymentOf(env.h, p.id)).history.at(-1)).toMatchObject({ source: 'legacy_callback', actor: 'chain' });

    // Delivered again (or with paymentRef): the same answer, nothing twice.
    const again = await callback({ paymentId: p.id, transactionHash: hash, status: 'completed', data: { paymentRef: p.externalId } });
    expect(again.status).toBe(200);
    expect(again.body.data.payment.status).toBe('completed');
    await expectCompletedOnce(env.h, m, p.id);
  });

  it('the status it carries is ignored: no hash → nothing to verify; an unconfirmed hash → processing', async () => {
    const m = await market(env.h);
    const p = await seedProven(env.h, m, env.buyerWallet);
    const before = await snapshot(env.h.store);
    const none = await callback({ paymentId: p.id, status: 'completed', data: { reference: p.externalId } });
    expect(none.status, none.text).toBe(200);
    expect(none.body.data).toMatchObject({ outcome: 'no_hash', payment: { status: 'pending' } });
    expect(await snapshot(env.h.store)).toEqual(before);

    const hash = await env.chain.transfer(env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'));
    const young = await callback({ paymentId: p.id, transactionHash: hash, status: 'completed', data: { reference: p.externalId } });
    expect(young.body.data).toMatchObject({ outcome: 'pending', confirmations: 1, payment: { status: 'processing' } });
    await expectNotCompleted(env.h, m, p.id);
  });

  it('404 without the payment’s own reference, for an unknown payment, and for a payment of another provider', async () => {
    const m = await market(env.h);
    const p = await seedClaim(env.h, m, null);
    const shk = await env.h.store.payments.insertOne(fixturePayment({ provider: 'shkeeper', externalId: 'SHK_1', payAddress: newAddress() }));
    const hash = await confirmed();
    const before = await snapshot(env.h.store);
    for (const body of [
      { paymentId: p.id, transactionHash: hash, status: 'completed' },
      { paymentId: p.id, transactionHash: hash, status: 'completed', data: {} },
      { paymentId: p.id, transactionHash: hash, status: 'completed', data: { reference: 'DEPAY_000000000000000000000000' } },
      { paymentId: p.id, transactionHash: hash, status: 'completed', data: { reference: p.externalId!.toLowerCase().replace('depay', 'x') } },
      { paymentId: 'aaaaaaaaaaaaaaaaaaaaaaaa', transactionHash: hash, status: 'completed', data: { reference: p.externalId } },
      { paymentId: shk.id, transactionHash: hash, status: 'completed', data: { reference: 'SHK_1' } },
    ]) {
      const r = await callback(body);
      expect(r.status, `${JSON.stringify(body)} → ${r.text}`).toBe(404);
      expect(r.body.error.code).toBe('payment_not_found');
    }
    expect(await snapshot(env.h.store)).toEqual(before);
  });

  it('409 for a hash used by another payment, or other than the one recorded; 400 for malformed bodies', async () => {
    const m1 = await market(env.h);
    const m2 = await market(env.h);
    // Both payments have the buyer's wallet proven (issue 10); the transfer funds the first, through the chain.
    const first = await seedProven(env.h, m1, env.buyerWallet);
    const p = await seedProven(env.h, m2, env.buyerWallet);
    const hash = await confirmed();
    const funded = await callback({ paymentId: first.id, transactionHash: hash, data: { reference: first.externalId } });
    expect(funded.body.data?.payment?.status, funded.text).toBe('completed');
    const inUse = await callback({ paymentId: p.id, transactionHash: hash, status: 'completed', data: { reference: p.externalId } });
    expect(inUse.status, inUse.text).toBe(409);
    expect(inUse.body.error.code).toBe('transaction_hash_in_use');

    // Was 409 transaction_hash_already_set. Another hash on a settled payment may be a second payment now (issue 10:
    // recorded as excess when the chain proves it), so it is looked at; an unknown one changes nothing.
    const other = await callback({ paymentId: first.id, transactionHash: bogusHash(), data: { reference: first.externalId } });
    expect(other.status, other.text).toBe(200);
    expect(other.body.data).toMatchObject({ outcome: 'confirmed', payment: { status: 'completed', transactionHash: hash.toLowerCase() } });
    expect(await paymentOf(env.h, first.id)).toMatchObject({ transactionHash: hash.toLowerCase(), escrow: { received: '25.5' } });

    for (const body of [
      { paymentId: p.id, transactionHash: '0xdead', data: { reference: p.externalId } },
      { paymentId: 'x', data: { reference: p.externalId } },
      { paymentId: p.id, data: { reference: p.externalId }, escrowState: 'funded' },
      { paymentId: p.id, status: 'x'.repeat(33), data: { reference: p.externalId } },
    ]) {
      expect((await callback(body)).status, JSON.stringify(body)).toBe(400);
    }
    await expectNotCompleted(env.h, m2, p.id);
  });
});

describe('POST /verify', () => {
  it('200 when the chain confirms the claimed hash; the request moves once', async () => {
    const m = await market(env.h);
    const p = await seedProven(env.h, m, env.buyerWallet);
    const hash = await confirmed();
    const r = await verify({ paymentId: p.id, transactionHash: hash });
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ outcome: 'confirmed', payment: { status: 'completed', escrowState: 'funded' } });
    await expectCompletedOnce(env.h, m, p.id, { txHash: hash });
    // The seller and an admin may verify too; it stays completed once.
    expect((await verify({ paymentId: p.id }, env.h.bearer('seller-1'))).status).toBe(200);
    expect((await verify({ paymentId: p.id }, env.h.bearer('ops', { admin: true }))).status).toBe(200);
    await expectCompletedOnce(env.h, m, p.id);
  });

  it('202 while the transfer lacks confirmations or is not seen yet', async () => {
    const m = await market(env.h);
    const proven = await seedProven(env.h, m, env.buyerWallet);
    const p = await attachClaim(env.h, proven.id, await env.chain.transfer(env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5')));
    const young = await verify({ paymentId: p.id });
    expect(young.status, young.text).toBe(202);
    expect(young.body.data).toMatchObject({ outcome: 'pending', confirmations: 1, payment: { status: 'processing' } });

    const m2 = await market(env.h);
    const unknown = await seedClaim(env.h, m2, bogusHash());
    const r = await verify({ paymentId: unknown.id });
    expect(r.status, r.text).toBe(202);
    expect(r.body.data).toMatchObject({ outcome: 'not_found', payment: { status: 'pending' } });
    await expectNotCompleted(env.h, m, p.id);
    await expectNotCompleted(env.h, m2, unknown.id);
  });

  // Was: an underpayment (amount_too_low) failed the payment. Now a refuted transfer (here: to another address) is
  // dropped and the payment stays as it was; an underpayment is credited and leaves it processing.
  it('409 transfer_mismatch for a transfer that does not pay it; the payment is left as it was, and nothing is left to verify', async () => {
    const m = await market(env.h);
    const p = await seedProven(env.h, m, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, newAddress(), units('25.5'), 3);
    const r = await verify({ paymentId: p.id, transactionHash: hash });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'transfer_mismatch', details: { reason: 'wrong_address' } });
    expect(await paymentOf(env.h, p.id)).toMatchObject({ status: 'pending', claim: null, transactionHash: null });

    const again = await verify({ paymentId: p.id });
    expect(again.status, again.text).toBe(409);
    expect(again.body.error.code).toBe('no_transaction_hash');
    await expectNotCompleted(env.h, m, p.id);
  });

  it('202 for an underpayment: credited for what arrived, processing with the shortfall', async () => {
    const m = await market(env.h);
    const p = await seedProven(env.h, m, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('20'), 3);
    const r = await verify({ paymentId: p.id, transactionHash: hash });
    expect(r.status, r.text).toBe(202);
    expect(r.body.data).toMatchObject({
      outcome: 'pending',
      reason: 'underpaid',
      payment: { status: 'processing', escrow: { received: '20', shortfall: '5.5' } },
    });
    await expectNotCompleted(env.h, m, p.id);
  });

  it('409 wallet_not_proven for a transfer to the shared receiver when no wallet is proven; a proof sent with the verify settles it', async () => {
    const m = await market(env.h);
    const p = await seedClaim(env.h, m, null);
    const proof = await payerProof(env.h, m, env.buyerWallet);
    const hash = await confirmed();
    const r = await verify({ paymentId: p.id, transactionHash: hash });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('wallet_not_proven');
    await expectNotCompleted(env.h, m, p.id);
    const ok = await verify({ paymentId: p.id, transactionHash: hash, payerProof: proof });
    expect(ok.status, ok.text).toBe(200);
    await expectCompletedOnce(env.h, m, p.id, { txHash: hash });
  });

  it('409 for a cancelled payment, even with a real confirmed transfer (recorded as late money)', async () => {
    const m = await market(env.h);
    // The payer's wallet is proven (issue 10): its late transfer is then the payment's, and recorded as excess.
    const p = await seedProven(env.h, m, env.buyerWallet);
    expect((await env.h.as(BUYER).put('/decentralized/update', { paymentId: p.id, status: 'cancelled' })).status).toBe(200);
    const r = await verify({ paymentId: p.id, transactionHash: await confirmed() });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'payment_closed', details: { status: 'cancelled' } });
    const after = await paymentOf(env.h, p.id);
    expect(after).toMatchObject({ status: 'cancelled', transactionHash: null, escrow: { received: '25.5' } });
    expect(after.escrow?.credits).toMatchObject([{ kind: 'excess', reason: 'late_payment' }]);
    await expectNotCompleted(env.h, m, p.id);
  });

  it('409 no_transaction_hash without a hash; 409 wrong_provider for another provider’s payment', async () => {
    const m = await market(env.h);
    const p = await seedClaim(env.h, m, null);
    const none = await verify({ paymentId: p.id });
    expect(none.status, none.text).toBe(409);
    expect(none.body.error.code).toBe('no_transaction_hash');
    const shk = await env.h.store.payments.insertOne(fixturePayment({ provider: 'shkeeper', buyerId: BUYER }));
    const wrong = await verify({ paymentId: shk.id, transactionHash: await confirmed() });
    expect(wrong.status, wrong.text).toBe(409);
    expect(wrong.body.error.code).toBe('wrong_provider');
    expect((await paymentOf(env.h, shk.id)).transactionHash).toBeNull();
  });

  it('401 without a token, 404 for someone not party to it, 400 for malformed bodies; nothing changes', async () => {
    const m = await market(env.h);
    const p = await seedClaim(env.h, m, null);
    const hash = await confirmed();
    const before = await snapshot(env.h.store);
    const anon = await env.h.anonymous.post('/verify', { paymentId: p.id, transactionHash: hash });
    expect(anon.status).toBe(401);
    const stranger = await verify({ paymentId: p.id, transactionHash: hash }, env.h.bearer('stranger'));
    expect(stranger.status).toBe(404);
    expect(stranger.body.error.code).toBe('payment_not_found');
    for (const body of [{ paymentId: p.id, transactionHash: 'abc' }, { paymentId: 'abc' }, { paymentId: p.id, status: 'completed' }]) {
      expect((await verify(body)).status, JSON.stringify(body)).toBe(400);
    }
    expect(await snapshot(env.h.store)).toEqual(before);
  });
});
