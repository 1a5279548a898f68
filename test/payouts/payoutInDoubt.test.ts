import { describe, expect, it } from 'vitest';
import { disbursementsOf } from '../escrow/ledgerKit.js';
import {
  BUYER,
  createPayout,
  escrowOf,
  expectNothingChanged,
  outbound,
  payoutBody,
  payoutEvents,
  payoutOf,
  putPayment,
  reconciler,
  seed,
  SELLER,
  usePayoutHarness,
  type Market,
} from './payoutKit.js';

/**
 * A SHKeeper payout whose answer was lost is in doubt: SHKeeper may have paid it. Until SHKeeper's
 * own word arrives (reconciler, task status, callback) nobody can pay that escrow again — another
 * SHKeeper payout (forced or not), a release, a refund — nor withdraw it, nor cancel or re-label the
 * payout; and that word is asked for in the crypto the payout was sent in.
 */

const h = usePayoutHarness({ payoutCallbacks: true });

const OTHER_WALLET = '0x5555555555555555555555555555555555555555';

/** A payout of USDT on Tron (SHKeeper crypto `USDT`) whose answer is lost the way `mode` loses it. */
async function lostPayout(mode: 'reset_after_processing' | 'hang') {
  const m = await seed(h);
  h.fake.fail(mode, { times: 1, endpoint: 'payout' });
  const r = await createPayout(h, payoutBody(m, { network: 'tron' }));
  expect(r.status, JSON.stringify(r.body)).toBeGreaterThanOrEqual(502);
  expect(['shkeeper_unreachable', 'shkeeper_timeout']).toContain(r.body.error.code);
  const [payout] = await outbound(h, m.offer.id);
  expect(payout).toMatchObject({ status: 'pending', providerTaskId: null, providerData: expect.objectContaining({ crypto: 'USDT' }) });
  expect((await escrowOf(h, m)).escrow!.inFlight).toMatchObject({ payoutId: payout!.id, method: 'shkeeper', state: 'in_doubt' });
  return { m, payout: payout! };
}

/** Every way to pay, withdraw, cancel or re-label: each refused, nothing changed, nothing sent to SHKeeper. */
async function expectNobodyCanMoveIt(m: Market, payoutId: string) {
  const calls = h.fake.calls('payout');
  const escrowId = m.escrow!.id;
  const attempts: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
    ['another SHKeeper payout', () => createPayout(h, payoutBody(m)), 409, 'payout_outcome_unknown'],
    ['a forced one', () => createPayout(h, payoutBody(m, { force: true })), 409, 'payout_outcome_unknown'],
    [
      'one to another wallet, with a reason',
      () => createPayout(h, payoutBody(m, { recipientAddress: OTHER_WALLET, overrideReason: 'pay elsewhere' })),
      409,
      'payout_outcome_unknown',
    ],
    ['a release', () => h.admin.post(`/shkeeper/${escrowId}/release`), 409, 'payout_outcome_unknown'],
    ['a refund', () => h.admin.post(`/shkeeper/${escrowId}/refund`), 409, 'payout_outcome_unknown'],
    ['a release confirmation', () => h.admin.post(`/shkeeper/${escrowId}/release/confirm`, { txHash: `0x${'01'.repeat(32)}` }), 409, 'payout_outcome_unknown'],
    ['withdrawing it as if prepared', () => h.admin.delete(`/shkeeper/${escrowId}/prepared`), 409, 'payout_outcome_unknown'],
    // The first example: the seller (or the buyer) cancelling the payout, then a re-send paying twice.
    ['the seller cancelling the payout', () => putPayment(h, payoutId, { status: 'cancelled' }, SELLER), 403, 'outbound_read_only'],
    ['the buyer cancelling the payout', () => putPayment(h, payoutId, { status: 'cancelled' }, BUYER), 403, 'outbound_read_only'],
    // The second: re-labelling the crypto so the reconciler asks SHKeeper about the wrong one.
    ['the seller re-labelling its crypto', () => putPayment(h, payoutId, { blockchain: { network: 'bsc', token: 'USDT' } }, SELLER), 403, 'outbound_read_only'],
    ['an admin cancelling it', () => putPayment(h, payoutId, { status: 'cancelled' }, 'admin'), 403, 'outbound_read_only'],
  ];
  for (const [what, attempt, status, code] of attempts) {
    const r = await expectNothingChanged(h, attempt);
    expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(status);
    expect(r.body.error.code, what).toBe(code);
  }
  expect(h.fake.calls('payout')).toBe(calls);
}

describe('a payout SHKeeper took but whose answer was lost', () => {
  it('nobody can pay again, withdraw, cancel or re-label it; the reconciler asks in its own crypto and settles the escrow', async () => {
    const { m, payout } = await lostPayout('reset_after_processing');
    await expectNobodyCanMoveIt(m, payout.id);

    // Whatever the row's network and token said later, the crypto fixed at submission is asked.
    await h.store.payments.updateOne({ id: payout.id }, { $set: { blockchain: { network: 'bsc', token: 'USDT' } } });
    const asked = h.fake.requests.length;
    await reconciler(h).tick();
    expect(reconciler(h).status().lastError).toBeNull();
    const statusCalls = h.fake.requests.slice(asked).filter((r) => r.endpoint === 'payout_status');
    expect(statusCalls.map((r) => r.path)).toEqual([`/api/v1/USDT/payout/status?external_id=${payout.externalId}`]);
    // SHKeeper has it (IN_PROGRESS): no longer in doubt, still in flight, still exclusive.
    expect((await payoutOf(h, payout.id)).status).toBe('processing');
    expect((await escrowOf(h, m)).escrow!.inFlight).toMatchObject({ payoutId: payout.id, state: 'submitted' });
    const meanwhile = await expectNothingChanged(h, () => createPayout(h, payoutBody(m, { force: true })));
    expect(meanwhile.body.error.code).toBe('disbursement_in_flight');

    // SHKeeper pays: the next reconciliation settles the escrow (released) and completes the payout.
    const txid = `0x${'9c'.repeat(32)}`;
    h.fake.deferCallbacks();
    h.fake.completePayoutTask(h.fake.taskIds.at(-1)!, { txids: [txid] });
    await reconciler(h).tick();
    expect(await payoutOf(h, payout.id)).toMatchObject({ status: 'completed', transactionHash: txid });
    const escrow = await escrowOf(h, m);
    expect(escrow).toMatchObject({ status: 'released', escrowState: 'released', releaseTxHash: txid });
    expect((await h.store.purchaseRequests.findById(m.request.id))?.status).toBe('seller_paid');
    expect((await disbursementsOf(h, escrow.id)).map((d) => [d.state, d.payoutId, d.evidence])).toEqual([['settled', payout.id, txid]]);
    // The callback arriving afterwards changes nothing; the payout completed once.
    await h.fake.flushCallbacks();
    await h.fake.callbacksSettled();
    expect(payoutEvents(h, payout.id).filter((e) => e.event === 'payout-completed')).toHaveLength(1);
    const after = await expectNothingChanged(h, () => createPayout(h, payoutBody(m, { force: true })));
    expect(after.body.error.code).toBe('escrow_not_funded');
  });

  it("SHKeeper's callback is evidence too: it settles the in-doubt payout and the escrow", async () => {
    const { m, payout } = await lostPayout('reset_after_processing');
    const txid = `0x${'9d'.repeat(32)}`;
    h.fake.completePayoutTask(h.fake.taskIds.at(-1)!, { txids: [txid] });
    await h.fake.callbacksSettled();
    expect(await payoutOf(h, payout.id)).toMatchObject({ status: 'completed', transactionHash: txid });
    expect(await escrowOf(h, m)).toMatchObject({ status: 'released', releaseTxHash: txid });
  });
});

describe('a payout SHKeeper never received (the request hung)', () => {
  it('is in doubt until SHKeeper says it knows no such payout; then failed, the escrow free, one new payout', async () => {
    const { m, payout } = await lostPayout('hang');
    await expectNobodyCanMoveIt(m, payout.id);

    await reconciler(h).tick();
    expect(await payoutOf(h, payout.id)).toMatchObject({ status: 'failed' });
    const escrow = await escrowOf(h, m);
    expect(escrow).toMatchObject({ status: 'completed', escrowState: 'funded' });
    expect(escrow.escrow!.inFlight).toBeNull();
    expect((await disbursementsOf(h, escrow.id)).map((d) => [d.state, d.payoutId])).toEqual([['failed', payout.id]]);

    const again = await createPayout(h, payoutBody(m, { network: 'tron' }));
    expect(again.status, JSON.stringify(again.body)).toBe(200);
  });
});

describe("POST /shkeeper/payout/:payoutId/abandon (admin): only on SHKeeper's word that it was not executed", () => {
  it('is refused while SHKeeper has the payout, and for anyone but an admin', async () => {
    const { m, payout } = await lostPayout('reset_after_processing');
    const seller = await expectNothingChanged(h, () => h.as(SELLER).post(`/shkeeper/payout/${payout.id}/abandon`));
    expect(seller.status).toBe(403);
    const r = await h.admin.post(`/shkeeper/payout/${payout.id}/abandon`);
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.error.code).toBe('payout_outcome_unknown');
    // What SHKeeper said is applied as evidence: it has the payout, so the disbursement is no longer in doubt.
    expect((await escrowOf(h, m)).escrow!.inFlight).toMatchObject({ payoutId: payout.id, state: 'submitted' });
    expect((await payoutOf(h, payout.id)).status).toBe('processing');
  });

  it('abandons a payout SHKeeper never received: failed, the escrow free again', async () => {
    const { m, payout } = await lostPayout('hang');
    const r = await h.admin.post(`/shkeeper/payout/${payout.id}/abandon`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data).toEqual({ payoutId: payout.id, status: 'failed' });
    const escrow = await escrowOf(h, m);
    expect(escrow.escrow!.inFlight).toBeNull();
    expect((await disbursementsOf(h, escrow.id)).map((d) => d.state)).toEqual(['failed']);
    const again = await h.admin.post(`/shkeeper/payout/${payout.id}/abandon`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('payout_not_open');
  });
});
