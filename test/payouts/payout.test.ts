import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { disbursementsOf } from '../escrow/ledgerKit.js';
import {
  ADMIN,
  BUYER,
  createPayout,
  escrowOf,
  expectNothingChanged,
  outbound,
  payoutBody,
  PAYOUT_TARGETS,
  payoutEvents,
  payoutOf,
  payoutRequests,
  payoutStatus,
  RECIPIENT,
  reconciler,
  seed,
  seedUnfunded,
  SELLER,
  usePayoutHarness,
} from './payoutKit.js';

/**
 * POST /api/payment/shkeeper/payout: a disbursement of the request's funded escrow is opened, the
 * outbound Payment is written, then SHKeeper is asked (Basic auth, `fee` always sent, our id as
 * `external_id`), and the task id comes back. Refusals change nothing; a SHKeeper refusal fails the
 * payout and frees the escrow; a lost answer leaves both in doubt for reconciliation.
 */

const h = usePayoutHarness();

describe('creating a payout', () => {
  it('writes the outbound payment, asks SHKeeper once, answers the task and announces it', async () => {
    const m = await seed(h);
    const tasksBefore = h.fake.taskIds.length;
    const requestsBefore = payoutRequests(h).length;
    const r = await createPayout(h, payoutBody(m, { metadata: { note: 'weekly' } }));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({
      success: true,
      data: { payoutId: expect.stringMatching(/^[0-9a-f]{24}$/), taskId: expect.any(String), status: 'processing' },
      message: expect.any(String),
    });
    const { payoutId, taskId } = r.body.data;
    expect(h.fake.taskIds.slice(tasksBefore)).toEqual([taskId]);

    const sent = payoutRequests(h).slice(requestsBefore);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.method).toBe('POST');
    expect(sent[0]!.path).toBe('/api/v1/BNB-USDT/payout');
    expect(sent[0]!.headers.authorization).toBe(`Basic ${Buffer.from(`${h.fake.username}:${h.fake.password}`).toString('base64')}`);
    expect(sent[0]!.headers['x-shkeeper-api-key']).toBeUndefined();
    expect(sent[0]!.json).toEqual({
      amount: '25.5',
      destination: RECIPIENT,
      fee: '0',
      external_id: `PAYOUT_${payoutId}`,
      callback_url: `${h.config.publicBaseUrl}/api/payment/shkeeper/payout/webhook`,
    });

    const p = await payoutOf(h, payoutId);
    expect(p).toMatchObject({
      provider: 'shkeeper',
      direction: 'out',
      status: 'processing',
      purchaseRequestId: m.request.id,
      sellerOfferId: m.offer.id,
      buyerId: BUYER,
      sellerId: SELLER,
      amount: { amount: '25.5', currency: 'USDT' },
      blockchain: { network: 'bsc', token: 'USDT' },
      externalId: `PAYOUT_${payoutId}`,
      providerTaskId: taskId,
      payAddress: RECIPIENT,
      metadata: { note: 'weekly' },
      escrowPaymentId: m.escrow!.id,
      liveOfferKey: null,
      providerData: expect.objectContaining({ crypto: 'BNB-USDT' }),
    });
    // The escrow holds the payout in flight: submitted to SHKeeper, nothing settled yet.
    const escrow = await escrowOf(h, m);
    expect(escrow).toMatchObject({ status: 'completed', escrowState: 'funded' });
    expect(escrow.escrow!.inFlight).toMatchObject({
      kind: 'payout',
      method: 'shkeeper',
      recipient: RECIPIENT,
      amount: '25.5',
      state: 'submitted',
      payoutId,
      override: null,
    });
    expect(p.history.map((e) => [e.fromStatus, e.toStatus, e.actor])).toEqual([
      [null, 'pending', ADMIN],
      ['pending', 'processing', ADMIN],
    ]);
    expect(payoutEvents(h, payoutId)).toEqual([
      { targets: PAYOUT_TARGETS, event: 'payout-created', payload: expect.objectContaining({ payoutId, status: 'processing' }) },
    ]);
  });

  it('400 naming each missing field, and nothing is sent', async () => {
    const m = await seed(h);
    const fields = ['purchaseRequestId', 'sellerOfferId', 'buyerId', 'sellerId', 'amount', 'recipientAddress'];
    const calls = h.fake.calls('payout');
    const all = await expectNothingChanged(h, () => createPayout(h, {}));
    expect(all.status).toBe(400);
    expect(all.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([...fields].sort());
    for (const field of fields) {
      const body: Record<string, unknown> = payoutBody(m);
      delete body[field];
      const r = await expectNothingChanged(h, () => createPayout(h, body));
      expect(r.status, field).toBe(400);
      expect(r.body.error.details).toEqual([expect.objectContaining({ in: 'body', path: field })]);
    }
    for (const bad of [{ amount: -1 }, { amount: 0 }, { amount: 'lots' }, { recipientAddress: '0x123' }, { token: '!' }, { unknown: 1 }]) {
      const r = await expectNothingChanged(h, () => createPayout(h, payoutBody(m, bad)));
      expect(r.status, JSON.stringify(bad)).toBe(400);
    }
    expect(h.fake.calls('payout')).toBe(calls);
  });

  it('404 for an unknown request or offer, 409 when request, offer, buyer and seller do not belong together', async () => {
    const m = await seed(h);
    const other = await seed(h);
    const calls = h.fake.calls('payout');
    for (const [over, status, code] of [
      [{ purchaseRequestId: 'aaaaaaaaaaaaaaaaaaaaaaaa' }, 404, 'purchase_request_not_found'],
      [{ sellerOfferId: 'aaaaaaaaaaaaaaaaaaaaaaaa' }, 404, 'seller_offer_not_found'],
      [{ sellerOfferId: other.offer.id }, 409, 'records_do_not_match'],
      [{ sellerId: 'seller-2' }, 409, 'records_do_not_match'],
      [{ buyerId: 'buyer-2' }, 409, 'records_do_not_match'],
    ] as const) {
      const r = await expectNothingChanged(h, () => createPayout(h, payoutBody(m, over)));
      expect(r.status, JSON.stringify(over)).toBe(status);
      expect(r.body.error.code).toBe(code);
    }
    expect(h.fake.calls('payout')).toBe(calls);
  });

  it('anonymous → 401, non-admin (even the seller) → 403, and nothing is sent', async () => {
    const m = await seed(h);
    const calls = h.fake.calls('payout');
    for (const [as, status] of [
      ['anonymous', 401],
      [SELLER, 403],
      [BUYER, 403],
    ] as const) {
      const r = await expectNothingChanged(h, () => createPayout(h, payoutBody(m), { as }));
      expect(r.status, as).toBe(status);
      expect(r.body.success).toBe(false);
    }
    expect(h.fake.calls('payout')).toBe(calls);
  });
});

describe('one payout of the escrow at a time, and never a second one', () => {
  it('409 while one is in flight (force too); a second seller is refused; a failed one frees the escrow; a paid one ends it', async () => {
    const m = await seed(h);
    const first = await createPayout(h, payoutBody(m));
    expect(first.status).toBe(200);
    const calls = h.fake.calls('payout');
    const dup = await expectNothingChanged(h, () => createPayout(h, payoutBody(m)));
    expect(dup.status).toBe(409);
    // Was `payout_exists`: the escrow's in-flight disbursement refuses every other way out.
    expect(dup.body.error).toMatchObject({ code: 'disbursement_in_flight', details: { payoutId: first.body.data.payoutId, state: 'submitted' } });

    // Another offer of the same request is another seller: the escrow pays its own offer only.
    // (This used to be accepted: a second seller of one purchase could be paid.)
    const sibling = await expectNothingChanged(h, () => createPayout(h, payoutBody(m, { sellerOfferId: m.otherOffer.id, sellerId: 'seller-2' })));
    expect(sibling.status).toBe(409);
    expect(sibling.body.error.code).toBe('recipient_not_allowed');

    // `force` used to send a second payout of the same offer: it no longer pays an escrow twice.
    const forced = await expectNothingChanged(h, () => createPayout(h, payoutBody(m, { force: true })));
    expect(forced.status).toBe(409);
    expect(forced.body.error.code).toBe('disbursement_in_flight');
    expect(h.fake.calls('payout')).toBe(calls);

    // The first payout fails at SHKeeper: the escrow is free again.
    h.fake.failPayoutTask(first.body.data.taskId);
    expect((await payoutStatus(h, first.body.data.taskId)).body.data.payoutStatus).toBe('failed');
    expect((await escrowOf(h, m)).escrow!.inFlight).toBeNull();
    const again = await createPayout(h, payoutBody(m));
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(h.fake.taskIds).toContain(again.body.data.taskId);

    // SHKeeper pays it: the escrow is released, the purchase request seller_paid, and nothing more can leave.
    const txid = `0x${'5a'.repeat(32)}`;
    h.fake.completePayoutTask(again.body.data.taskId, { txids: [txid] });
    expect((await payoutStatus(h, again.body.data.taskId)).body.data.payoutStatus).toBe('completed');
    const escrow = await escrowOf(h, m);
    expect(escrow).toMatchObject({ status: 'released', escrowState: 'released', releaseTxHash: txid });
    expect(escrow.escrow!.disbursed).toBe('25.5');
    expect((await h.store.purchaseRequests.findById(m.request.id))?.status).toBe('seller_paid');
    expect((await disbursementsOf(h, escrow.id)).map((d) => [d.state, d.payoutId])).toEqual([
      ['failed', first.body.data.payoutId],
      ['settled', again.body.data.payoutId],
    ]);
    for (const over of [{}, { force: true }]) {
      const after = await expectNothingChanged(h, () => createPayout(h, payoutBody(m, over)));
      expect(after.status).toBe(409);
      expect(after.body.error.code).toBe('escrow_not_funded');
    }
    expect(h.fake.calls('payout')).toBe(calls + 1);
  });
});

describe('what a payout is bound to: the funded escrow of the request', () => {
  it('409 escrow_not_funded when the request has no funded pay-in (this used to be accepted)', async () => {
    const m = await seedUnfunded(h);
    const calls = h.fake.calls('payout');
    const r = await expectNothingChanged(h, () => createPayout(h, payoutBody(m)));
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('escrow_not_funded');
    expect(h.fake.calls('payout')).toBe(calls);
  });

  it("409 recipient_not_allowed for a wallet that is not the offer's; an admin override with a reason is recorded", async () => {
    const m = await seed(h);
    const stranger = '0x4444444444444444444444444444444444444444';
    const r = await expectNothingChanged(h, () => createPayout(h, payoutBody(m, { recipientAddress: stranger })));
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'recipient_not_allowed', details: { allowed: RECIPIENT } });

    const ok = await createPayout(h, payoutBody(m, { recipientAddress: stranger, overrideReason: 'seller asked to be paid to a new wallet' }));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const escrow = await escrowOf(h, m);
    expect(escrow.escrow!.inFlight).toMatchObject({ recipient: stranger, override: { by: ADMIN, reason: 'seller asked to be paid to a new wallet' } });
    expect(escrow.history.at(-2)!.reason).toContain('recipient override by admin-1: seller asked to be paid to a new wallet');
    expect(payoutRequests(h).at(-1)!.json.destination).toBe(stranger);
  });

  it('409 exceeds_escrow_balance for more than the escrow holds; less is refused too (a partial payout would strand the rest)', async () => {
    const m = await seed(h);
    const r = await expectNothingChanged(h, () => createPayout(h, payoutBody(m, { amount: '25.6' })));
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'exceeds_escrow_balance', details: { available: '25.5', requested: '25.6' } });
    const less = await expectNothingChanged(h, () => createPayout(h, payoutBody(m, { amount: '20' })));
    expect(less.status).toBe(409);
    expect(less.body.error).toMatchObject({ code: 'disbursement_amount_mismatch', details: { expected: '25.5', requested: '20' } });
    const exact = await createPayout(h, payoutBody(m, { amount: '25.5' }));
    expect(exact.status, JSON.stringify(exact.body)).toBe(200);
    expect((await escrowOf(h, m)).escrow!.inFlight).toMatchObject({ amount: '25.5' });
  });

  it('409 currency_mismatch for a token the escrow does not hold', async () => {
    const m = await seed(h);
    const r = await expectNothingChanged(h, () => createPayout(h, payoutBody(m, { token: 'USDC' })));
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('currency_mismatch');
  });

  it('after the escrow was refunded, no payout: 409 escrow_not_funded (this used to be accepted)', async () => {
    const m = await seed(h);
    const coordinator = h.server.ctx.coordinator;
    const d = {
      id: 'aaaaaaaaaaaaaaaaaaaaaaa1',
      kind: 'refund',
      method: 'escrow_tx',
      recipient: '0x3333333333333333333333333333333333333333',
      amount: '25.5',
      state: 'submitted',
      override: null,
      payoutId: null,
      evidence: `0x${'77'.repeat(32)}`,
      payload: null,
      createdBy: ADMIN,
    } as const;
    await coordinator.openDisbursement(m.escrow!.id, d, { source: 'test', actor: ADMIN });
    await coordinator.settleDisbursement(m.escrow!.id, d.id, { source: 'test', actor: ADMIN, evidence: d.evidence, effects: [], hashField: 'refundTxHash' });
    for (const over of [{}, { force: true }, { recipientAddress: d.recipient, overrideReason: 'pay the buyer instead' }]) {
      const r = await expectNothingChanged(h, () => createPayout(h, payoutBody(m, over)));
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('escrow_not_funded');
    }
  });
});

describe('Idempotency-Key', () => {
  it('the same key and body replays the first answer; SHKeeper is asked once', async () => {
    const m = await seed(h);
    const calls = h.fake.calls('payout');
    const a = await createPayout(h, payoutBody(m), { key: `po-${m.offer.id}` });
    expect(a.status).toBe(200);
    const b = await expectNothingChanged(h, () => createPayout(h, payoutBody(m), { key: `po-${m.offer.id}` }));
    expect(b.status).toBe(200);
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(b.body).toEqual(a.body);
    expect(h.fake.calls('payout')).toBe(calls + 1);
    expect(payoutEvents(h, a.body.data.payoutId).filter((e) => e.event === 'payout-created')).toHaveLength(1);

    const reused = await expectNothingChanged(h, () => createPayout(h, payoutBody(m, { amount: 26 }), { key: `po-${m.offer.id}` }));
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
    expect(h.fake.calls('payout')).toBe(calls + 1);
  });
});

describe('when SHKeeper refuses or does not answer', () => {
  it('a refusal → 502-class, the payout failed with the reason, the offer free again', async () => {
    const m = await seed(h);
    const index = h.fake.cryptos.findIndex((c) => c.name === 'BNB-USDT');
    const [removed] = h.fake.cryptos.splice(index, 1);
    let r;
    try {
      r = await createPayout(h, payoutBody(m));
    } finally {
      h.fake.cryptos.splice(index, 0, removed!);
    }
    expect(r.status, JSON.stringify(r.body)).toBeGreaterThanOrEqual(502);
    expect(r.status).toBeLessThan(600);
    expect(r.body.error).toMatchObject({ code: 'shkeeper_error', details: { providerMessage: 'Unknown crypto: BNB-USDT' } });
    const [p] = await outbound(h, m.offer.id);
    expect(p!.status).toBe('failed');
    expect(p!.liveOfferKey).toBeNull();
    expect(p!.history.at(-1)).toMatchObject({ fromStatus: 'pending', toStatus: 'failed', reason: 'shkeeper_error' });
    expect(payoutEvents(h, p!.id).filter((e) => e.event === 'payout-created')).toEqual([]);
    // The escrow's disbursement failed with it: the escrow is free again.
    expect(await disbursementsOf(h, m.escrow!.id)).toEqual([expect.objectContaining({ payoutId: p!.id, state: 'failed' })]);
    expect((await createPayout(h, payoutBody(m))).status).toBe(200);
  });

  it('a timeout → 502-class; the payout was written before SHKeeper was called, stays pending, is never re-sent', async () => {
    const m = await seed(h);
    const calls = h.fake.calls('payout');
    h.fake.fail('hang', { times: 1, endpoint: 'payout' });
    const pending = createPayout(h, payoutBody(m));
    // While SHKeeper holds the request, the payout it names already exists.
    for (let i = 0; i < 100 && h.fake.calls('payout') === calls; i++) await sleep(10);
    const [sentReq] = payoutRequests(h).slice(-1);
    const seen = (await outbound(h, m.offer.id))[0];
    expect(seen).toMatchObject({ status: 'pending', externalId: sentReq!.json.external_id });

    const r = await pending;
    expect(r.status, JSON.stringify(r.body)).toBeGreaterThanOrEqual(502);
    expect(r.body.error.code).toBe('shkeeper_timeout');
    expect(h.fake.calls('payout')).toBe(calls + 1);
    const p = await payoutOf(h, seen!.id);
    expect(p.status).toBe('pending');
    expect(p.providerTaskId).toBeNull();
    expect(p.providerData.submission).toEqual({ outcome: 'unknown', code: 'shkeeper_timeout' });
    expect(payoutEvents(h, p.id)).toEqual([]);
    // The escrow is held by a payout in doubt: no second payout behind an unknown one.
    expect((await escrowOf(h, m)).escrow!.inFlight).toMatchObject({ payoutId: p.id, state: 'in_doubt' });
    expect((await createPayout(h, payoutBody(m))).body.error.code).toBe('payout_outcome_unknown');

    // SHKeeper never took it: the reconciler finds nothing by external id and fails it.
    await reconciler(h).tick();
    expect(reconciler(h).status().lastError).toBeNull();
    const settled = await payoutOf(h, p.id);
    expect(settled.status).toBe('failed');
    expect((await escrowOf(h, m)).escrow!.inFlight).toBeNull();
    expect(h.fake.calls('payout')).toBe(calls + 1);
    expect((await createPayout(h, payoutBody(m))).status).toBe(200);
  });

  it('a reset after SHKeeper processed it → 502-class, pending, one task; the reconciler completes it', async () => {
    const m = await seed(h);
    const tasks = h.fake.taskIds.length;
    h.fake.fail('reset_after_processing', { times: 1, endpoint: 'payout' });
    const r = await createPayout(h, payoutBody(m));
    expect(r.status, JSON.stringify(r.body)).toBeGreaterThanOrEqual(502);
    expect(r.body.error.code).toBe('shkeeper_unreachable');
    expect(h.fake.taskIds.length).toBe(tasks + 1);
    const taskId = h.fake.taskIds.at(-1)!;
    const [p] = await outbound(h, m.offer.id);
    expect(p!.status).toBe('pending');
    // While SHKeeper may still be paying it, not even `force` sends a second payout.
    const forced = await expectNothingChanged(h, () => createPayout(h, payoutBody(m, { force: true })));
    expect(forced.status).toBe(409);
    expect(forced.body.error.code).toBe('payout_outcome_unknown');
    expect(h.fake.taskIds.length).toBe(tasks + 1);

    await reconciler(h).tick();
    expect((await payoutOf(h, p!.id)).status).toBe('processing');
    // SHKeeper answers for it: no longer in doubt, still in flight.
    expect((await escrowOf(h, m)).escrow!.inFlight).toMatchObject({ payoutId: p!.id, state: 'submitted' });
    const txid = `0x${'ab'.repeat(32)}`;
    h.fake.completePayoutTask(taskId, { txids: [txid] });
    await reconciler(h).tick();
    const done = await payoutOf(h, p!.id);
    expect(done.status).toBe('completed');
    expect(done.transactionHash).toBe(txid);
    expect(await escrowOf(h, m)).toMatchObject({ status: 'released', escrowState: 'released' });
    await reconciler(h).tick();
    expect(payoutEvents(h, p!.id).filter((e) => e.event === 'payout-completed')).toHaveLength(1);
    expect(h.fake.taskIds.length).toBe(tasks + 1);
  });
});
