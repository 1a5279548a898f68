import { describe, expect, it } from 'vitest';
import { sellerOffer, snapshot } from '../helpers/fixtures.js';
import {
  paymentOf,
  BUYER,
  bogusHash,
  eventsFor,
  expectCompletedOnce,
  expectNotCompleted,
  market,
  newAddress,
  pay,
  payerProof,
  saveBody,
  units,
  useWeb3Suite,
} from '../helpers/web3Harness.js';

/** POST /decentralized/save: what it records, what it refuses, and that a claimed hash is only a claim. */

const env = useWeb3Suite();

describe('POST /decentralized/save — recording', () => {
  it('records a pending decentralized payment for the named seller’s offer, with no token', async () => {
    const m = await market(env.h);
    const wallet = newAddress();
    const r = await env.save(saveBody(m, { walletAddress: wallet.toLowerCase(), metadata: { checkout: 'depay' } }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.success).toBe(true);
    expect(r.body.verification).toBeNull();
    const d = r.body.data;
    expect(d).toMatchObject({
      provider: 'decentralized',
      direction: 'in',
      status: 'pending',
      escrowState: 'unfunded',
      purchaseRequestId: m.requestId,
      sellerOfferId: m.offerId,
      amount: { amount: '25.5', currency: 'USDT' },
      blockchain: { network: 'bsc', token: 'USDT' },
      transactionHash: null,
      externalId: expect.stringMatching(/^DEPAY_[0-9a-f]{32}$/),
    });
    // An anonymous caller gets the payment without party data (lead's rule with issue 10); the record has it.
    for (const hidden of ['buyerId', 'sellerId', 'metadata']) expect(d).not.toHaveProperty(hidden);
    const stored = await paymentOf(env.h, d.id);
    expect(stored).toMatchObject({ buyerId: BUYER, sellerId: 'seller-1', metadata: { checkout: 'depay' } });
    expect(stored.providerData).toEqual({ claimedWallet: wallet });
    expect(stored.history).toMatchObject([{ fromStatus: null, toStatus: 'pending', source: 'decentralized_save', actor: 'anonymous' }]);
    expect(
      eventsFor(env.h, m.requestId)
        .filter((e) => e.event === 'payment-created')
        .map((e) => e.target),
    ).toEqual([{ kind: 'admins' }, { kind: 'request', id: m.requestId }, { kind: 'user', id: BUYER }, { kind: 'seller', id: 'seller-1' }]);
  });

  it('the same save again answers the same payment and records nothing new', async () => {
    const m = await market(env.h);
    const first = await env.save(saveBody(m));
    const before = await snapshot(env.h.store);
    const created = env.h.events.named('payment-created').length;
    const again = await env.save(saveBody(m));
    expect(again.status, again.text).toBe(200);
    expect(again.body.data.id).toBe(first.body.data.id);
    expect(await snapshot(env.h.store)).toEqual(before);
    expect(env.h.events.named('payment-created')).toHaveLength(created);
  });

  it('without sellerId picks the single pending offer at that amount', async () => {
    const m = await market(env.h);
    const r = await env.save(saveBody(m, { sellerId: undefined, amount: '30' }));
    expect(r.status, r.text).toBe(200);
    // The seller is party data, not shown to an anonymous caller (lead's rule with issue 10): read from the record.
    expect(r.body.data).toMatchObject({ sellerOfferId: m.otherOfferId, amount: { amount: '30', currency: 'USDT' } });
    expect((await paymentOf(env.h, r.body.data.id)).sellerId).toBe('seller-2');
  });

  it('accepts the spellings of BSC and USDT and the amount as a number', async () => {
    const m = await market(env.h);
    const r = await env.save(saveBody(m, { amount: 25.5, network: 'BEP20', token: 'usdt', currency: 'Usdt' }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ amount: { amount: '25.5', currency: 'USDT' }, blockchain: { network: 'bsc', token: 'USDT' } });
  });

  it('a save with a hash after a save without one for the same offer attaches the hash to that same payment', async () => {
    const m = await market(env.h);
    const first = await env.save(saveBody(m));
    const hash = bogusHash();
    const r = await env.save(saveBody(m, { transactionHash: hash }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ id: first.body.data.id, transactionHash: hash, status: 'pending' });
    expect(await env.h.store.payments.count({ purchaseRequestId: m.requestId })).toBe(1);
  });

  it('an anonymous save does not lock the buyer out of their offer: a manual payment can still be made', async () => {
    const m = await market(env.h);
    expect((await env.save(saveBody(m))).status).toBe(200);
    const manual = await env.h.as(BUYER).post('', {
      purchaseRequestId: m.requestId,
      sellerOfferId: m.offerId,
      buyerId: BUYER,
      sellerId: 'seller-1',
      amount: { amount: m.amount, currency: 'USDT' },
    });
    expect(manual.status, manual.text).toBe(201);
  });
});

// The front end's flow (issue 10): the wallet signs the payer-proof challenge, pays, then saves with the proof and the hash.
describe('POST /decentralized/save — a claimed hash is verified on chain at once', () => {
  it('a confirmed transfer of the amount to the escrow receiver completes the payment, with every side effect once', async () => {
    const m = await market(env.h);
    const proof = await payerProof(env.h, m, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
    const r = await env.save(saveBody(m, { transactionHash: hash.toUpperCase().replace('0X', '0x'), payerProof: proof }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.verification).toMatchObject({ outcome: 'confirmed', confirmations: 3 });
    expect(r.body.data).toMatchObject({ status: 'completed', escrowState: 'funded', transactionHash: hash.toLowerCase() });
    await expectCompletedOnce(env.h, m, r.body.data.id, { txHash: hash });
    const p = await paymentOf(env.h, r.body.data.id);
    // The payer is now the sender of the funding credit, on the escrow ledger (was providerData.payerAddress).
    expect(p.providerData).toMatchObject({ confirmations: 3 });
    expect(p.escrow).toMatchObject({ payer: env.buyerWallet.address, received: '25.5' });

    // The same save again: the same payment, nothing happens twice.
    const again = await env.save(saveBody(m, { transactionHash: hash }));
    expect(again.status, again.text).toBe(200);
    expect(again.body.data.id).toBe(r.body.data.id);
    await expectCompletedOnce(env.h, m, r.body.data.id, { txHash: hash });
  });

  it('a hash already recorded on another payment is refused (409 transaction_hash_in_use), nothing recorded', async () => {
    const a = await market(env.h);
    const proof = await payerProof(env.h, a, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 3);
    const funded = await env.save(saveBody(a, { transactionHash: hash, payerProof: proof }));
    expect(funded.status, funded.text).toBe(200);
    expect(funded.body.data.status).toBe('completed');
    const b = await market(env.h);
    const before = await snapshot(env.h.store);
    const r = await env.save(saveBody(b, { transactionHash: hash }));
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('transaction_hash_in_use');
    expect(await snapshot(env.h.store)).toEqual(before);
    await expectNotCompleted(env.h, b);
  });

  it('a transfer with too few confirmations: saved, processing, not completed', async () => {
    const m = await market(env.h);
    const proof = await payerProof(env.h, m, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.5'), 2);
    const r = await env.save(saveBody(m, { transactionHash: hash, payerProof: proof }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.verification).toMatchObject({ outcome: 'pending', confirmations: 2 });
    expect(r.body.data.status).toBe('processing');
    await expectNotCompleted(env.h, m, r.body.data.id);
  });

  it('an unknown hash: saved as a pending claim, nothing else', async () => {
    const m = await market(env.h);
    const hash = bogusHash();
    const r = await env.save(saveBody(m, { transactionHash: hash }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.verification).toMatchObject({ outcome: 'not_found' });
    expect(r.body.data).toMatchObject({ status: 'pending', transactionHash: hash });
    await expectNotCompleted(env.h, m, r.body.data.id);
  });

  // Was: an underpayment failed the payment and released the offer. Now it is credited for what arrived and the payment waits for the rest.
  it('an underpaying transfer is credited for what arrived: processing with the shortfall, not completed', async () => {
    const m = await market(env.h);
    const proof = await payerProof(env.h, m, env.buyerWallet);
    const hash = await pay(env.chain, env.usdt.address, env.buyerWallet, env.receiver.address, units('25.4'), 3);
    const r = await env.save(saveBody(m, { transactionHash: hash, payerProof: proof }));
    expect(r.status, r.text).toBe(200);
    expect(r.body.verification).toMatchObject({ outcome: 'pending', reason: 'underpaid' });
    expect(r.body.data.status).toBe('processing');
    expect(r.body.data.escrow).toMatchObject({ received: '25.4', shortfall: '0.1' });
    await expectNotCompleted(env.h, m, r.body.data.id);
  });
});

describe('POST /decentralized/save — refusals', () => {
  it('404 for an unknown purchase request', async () => {
    const m = await market(env.h);
    const before = await snapshot(env.h.store);
    const r = await env.save(saveBody(m, { purchaseRequestId: 'aaaaaaaaaaaaaaaaaaaaaaaa' }));
    expect(r.status, r.text).toBe(404);
    expect(r.body.error.code).toBe('purchase_request_not_found');
    expect(await snapshot(env.h.store)).toEqual(before);
  });

  it('409 records_do_not_match when buyerId is not the request’s buyer', async () => {
    const m = await market(env.h);
    const before = await snapshot(env.h.store);
    const r = await env.save(saveBody(m, { buyerId: 'someone-else' }));
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('records_do_not_match');
    expect(await snapshot(env.h.store)).toEqual(before);
  });

  it('409 records_do_not_match when the amount matches no pending offer (or not the named seller’s)', async () => {
    const m = await market(env.h);
    const before = await snapshot(env.h.store);
    for (const body of [saveBody(m, { amount: '25.49' }), saveBody(m, { sellerId: 'seller-2' }), saveBody(m, { sellerId: 'seller-9' })]) {
      const r = await env.save(body);
      expect(r.status, r.text).toBe(409);
      expect(r.body.error.code).toBe('records_do_not_match');
    }
    expect(await snapshot(env.h.store)).toEqual(before);
  });

  it('409 offer_ambiguous when two pending offers have the amount and no seller is named', async () => {
    const m = await market(env.h);
    await env.h.store.sellerOffers.insertOne(sellerOffer({ purchaseRequestId: m.requestId, sellerId: 'seller-3', amount: '25.50' }));
    const before = await snapshot(env.h.store);
    const r = await env.save(saveBody(m, { sellerId: undefined }));
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('offer_ambiguous');
    expect(await snapshot(env.h.store)).toEqual(before);
    // Naming the seller resolves it.
    expect((await env.save(saveBody(m, { sellerId: 'seller-3' }))).status).toBe(200);
  });

  it('409 records_do_not_match once the offer is no longer pending', async () => {
    const m = await market(env.h);
    await env.h.store.sellerOffers.updateOne({ id: m.offerId }, { $set: { status: 'rejected' } });
    const r = await env.save(saveBody(m));
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('records_do_not_match');
  });

  it('400 for a (network, token) the registry does not enable, 409 for another currency than the offer, 400 for malformed fields', async () => {
    const m = await market(env.h);
    const before = await snapshot(env.h.store);
    // This world's registry is the BSC_* default: USDT on bsc only.
    for (const over of [{ token: 'BUSD' }, { network: 'ethereum' }, { network: 'tron' }, { network: 'bsc', token: 'USDC', currency: 'USDC' }]) {
      const r = await env.save(saveBody(m, over));
      expect(r.status, `${JSON.stringify(over)} → ${r.text}`).toBe(over.currency ? 409 : 400);
      expect(r.body.error.code).toBe(over.currency ? 'records_do_not_match' : 'unsupported_token');
    }
    const priced = await env.save(saveBody(m, { currency: 'USDC' }));
    expect(priced.status, priced.text).toBe(409);
    expect(priced.body.error.code).toBe('records_do_not_match');
    const bad: Record<string, unknown>[] = [
      { network: 'not a network!' },
      { token: 'US-DT' },
      { transactionHash: '0x1234' },
      { walletAddress: '0xnot-an-address' },
      { amount: '-1' },
      { amount: 0 },
      { amount: '1e3' },
      { purchaseRequestId: 'not-an-id' },
      { buyerId: '' },
      { unexpected: true },
      { metadata: { $where: 'x' } },
    ];
    for (const over of bad) {
      const r = await env.save(saveBody(m, over));
      expect(r.status, `${JSON.stringify(over)} → ${r.text}`).toBe(400);
      expect(r.body.error.code).toBe('validation_error');
    }
    const { buyerId: _b, ...noBuyer } = saveBody(m);
    expect((await env.save(noBuyer)).status).toBe(400);
    const malformed = await fetch(`${env.h.url}/api/payment/decentralized/save`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    expect(malformed.status).toBe(400);
    expect(await snapshot(env.h.store)).toEqual(before);
  });
});
